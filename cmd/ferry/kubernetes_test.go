package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/targets/kubernetes/kubetest"
)

func TestCheckKubernetesParamsWithLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	os.WriteFile(path, []byte(`projects:
  api:
    repo: ./api
    environments:
      prod:
        target:
          type: kubernetes
          kubeconfig: kubeconfig
          namespace: shop
          name: api
          image: "registry.example/api:{{.Verison}}"
      staging:
        target:
          type: kubernetes
          kubeconfig: kubeconfig
          namespce: shop
`), 0o644)
	_, errOut, err := runFerry(t, "check", "--config", path)
	for _, want := range []string{
		path + `:11: project api, environment prod: target: kubernetes: invalid: image: template: image:1:`,
		path + `:16: project api, environment staging: target: kubernetes: invalid: unknown key namespce;`,
	} {
		if err != exitError(1) || !strings.Contains(errOut, want) {
			t.Errorf("check: %v; output lacks %q:\n%s", err, want, errOut)
		}
	}
}

// TestServeRefusesMissingPermissions starts ferry's app with a kubernetes
// target whose ServiceAccount may not patch its Deployment: ferry does not
// start, and says which permission is missing and whose.
func TestServeRefusesMissingPermissions(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	kubeconfig := k.ServiceAccount(t, ns, "ferry", []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, ResourceNames: []string{"api"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
	})
	dir := t.TempDir()
	yaml := `storage: ferry.db
workspace: workspace
projects:
  api:
    repo: ./api
    environments:
      prod:
        target: {type: kubernetes, kubeconfig: ` + kubeconfig + `, namespace: ` + ns + `, name: api, image: "r/api:{{.Tag}}"}
`
	cfg, err := config.Parse("ferry.yaml", []byte(yaml), dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	_, err = newApp(context.Background(), cfg, source{}, "http://ferry.test", slog.New(slog.NewTextHandler(&logs, nil)), nil)
	want := `project api environment prod: kubernetes: not allowed: user system:serviceaccount:` + ns + `:ferry (kubeconfig ` + kubeconfig + `) may not patch deployments.apps "api" in namespace ` + ns
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("newApp: %v\nwant: %s", err, want)
	}
	if !strings.Contains(logs.String(), `list events in namespace `+ns+` is not allowed, so failures are shown without their events`) {
		t.Errorf("optional permissions are not warned about:\n%s", logs.String())
	}
}
