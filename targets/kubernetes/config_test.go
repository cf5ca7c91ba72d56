package kubernetes_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/kubernetes"
	"github.com/ferrybot/ferry/targets/workspace"
)

func TestParseConfig(t *testing.T) {
	cfg, err := kubernetes.ParseConfig(map[string]any{
		"kubeconfig": "/etc/ferry/kubeconfig", "context": "prod", "namespace": "shop", "name": "api",
		"kind": "sts", "container": "app", "image": "registry.example.com/api:{{.Tag}}",
		"configmap": "api-config", "progress_deadline": "90s", "log_lines": 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := kubernetes.Config{Kubeconfig: "/etc/ferry/kubeconfig", Context: "prod", Namespace: "shop", Name: "api", Kind: "sts",
		Container: "app", Image: "registry.example.com/api:{{.Tag}}", ConfigMap: "api-config", ProgressDeadline: 90 * time.Second, LogLines: 20}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestParseConfigErrors(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"kubeconfig": "kc", "namespace": "shop", "name": "api", "image": "r/api:{{.Version}}"}
	}
	for _, tc := range []struct {
		edit func(map[string]any)
		want string
	}{
		{func(m map[string]any) { m["namespce"] = "x" }, "unknown key namespce; allowed: configmap, container, context, image, in_cluster, kind, kubeconfig, log_lines, manifests, name, namespace, progress_deadline"},
		{func(m map[string]any) { delete(m, "kubeconfig") }, "kubeconfig: name a kubeconfig file, or set in_cluster: true"},
		{func(m map[string]any) { m["in_cluster"] = true }, "give a kubeconfig or in_cluster: true, not both"},
		{func(m map[string]any) { delete(m, "namespace") }, "namespace: name the namespace"},
		{func(m map[string]any) { m["namespace"] = "Shop" }, `namespace: "Shop" is not a namespace name`},
		{func(m map[string]any) { delete(m, "name") }, "name: name the Deployment to deploy"},
		{func(m map[string]any) { m["kind"] = "CronJob" }, `kind: "CronJob" is not Deployment, StatefulSet or DaemonSet`},
		{func(m map[string]any) { delete(m, "image") }, "image: give the image a release runs"},
		{func(m map[string]any) { m["manifests"] = "k8s" }, "give an image or manifests, not both"},
		{func(m map[string]any) { m["image"] = "r/api:{{.Verison}}" }, "image: template: image:1:8: executing"},
		{func(m map[string]any) { m["image"] = "r/api:{{.Version" }, "image: template: image:1: unclosed action"},
		{func(m map[string]any) { m["image"] = "R/API v1" }, `image: "R/API v1" does not make an image reference`},
		{func(m map[string]any) { delete(m, "image"); m["manifests"] = "../k8s" }, `manifests: "../k8s" must be a path inside the repository`},
		{func(m map[string]any) { m["progress_deadline"] = "soon" }, `progress_deadline: "soon" is not a duration like 10s`},
		{func(m map[string]any) { m["configmap"] = "Bad_Name" }, `configmap: "Bad_Name" is not a ConfigMap name`},
	} {
		m := base()
		tc.edit(m)
		_, err := kubernetes.ParseConfig(m)
		if !errors.Is(err, pipeline.ErrInvalid) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "kubernetes: invalid: ") {
			t.Errorf("%v: err = %v, want %q", m, err, tc.want)
		}
	}
}

func TestNewReadsTheKubeconfig(t *testing.T) {
	s := workspace.Setup{Project: "api", Env: "prod", BaseDir: t.TempDir()}
	_, err := kubernetes.New(kubernetes.Config{Kubeconfig: "missing.kubeconfig", Namespace: "shop", Name: "api", Image: "r/api:v1"}, s, kubernetes.Options{})
	if err == nil || !strings.Contains(err.Error(), "kubernetes: kubeconfig "+filepath.Join(s.BaseDir, "missing.kubeconfig")) {
		t.Errorf("missing kubeconfig: %v", err)
	}
	secret := "s3cr3t-token-do-not-print"
	path := filepath.Join(s.BaseDir, "kc")
	os.WriteFile(path, []byte("apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {token: "+secret+"}\ncurrent-context: nope\n"), 0o600)
	_, err = kubernetes.New(kubernetes.Config{Kubeconfig: "kc", Namespace: "shop", Name: "api", Image: "r/api:v1"}, s, kubernetes.Options{})
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "context was not found for specified context: nope") {
		t.Errorf("broken kubeconfig: %v", err)
	}
}
