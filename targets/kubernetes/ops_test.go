package kubernetes_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/kubernetes"
	"github.com/ferrybot/ferry/targets/kubernetes/kubetest"
)

func TestScaleRestartAndStatus(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	h := newHarness(t, k, ns, setup{cfg: kubernetes.Config{Name: "api", Image: image}})
	h.deployment(2, "registry.example/api:v0.9.0")
	h.rolledOut()

	out, err := h.engine.Operate(ctx, alice, pipeline.Op{Verb: pipeline.OpScale, Project: "api", Env: "prod", Replicas: 4})
	if err != nil || !strings.HasSuffix(out, "/api scaled from 2 to 4 replica(s)") {
		t.Fatalf("scale: %q %v", out, err)
	}
	if dep := h.rolledOut(); dep.Status.ReadyReplicas != 4 {
		t.Errorf("ready replicas after scale: %d", dep.Status.ReadyReplicas)
	}
	rt, ok, err := h.engine.Runtime(ctx, "api", "prod")
	if err != nil || !ok || rt.Image != "registry.example/api:v0.9.0" || rt.Ready != 4 || rt.Desired != 4 || rt.Note != "" {
		t.Errorf("runtime: %+v %v %v", rt, ok, err)
	}

	h.clock.Advance(time.Hour)
	if _, err := h.engine.Operate(ctx, alice, pipeline.Op{Verb: pipeline.OpRestart, Project: "api", Env: "prod"}); err != nil {
		t.Fatal(err)
	}
	dep := h.rolledOut()
	if at := dep.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]; at != h.clock.Now().UTC().Format(time.RFC3339) {
		t.Errorf("restartedAt = %q", at)
	}
	audit, _ := h.store.AuditLog(ctx, 5)
	if audit[0].Action != "restart" || audit[1].Action != "scale" || audit[1].Detail != "to 4" {
		t.Errorf("audit: %+v", audit)
	}
	if _, err := h.engine.Operate(ctx, pipeline.Actor{Name: "eve"}, pipeline.Op{Verb: pipeline.OpScale, Project: "api", Env: "prod", Replicas: 0}); !errors.Is(err, pipeline.ErrForbidden) {
		t.Errorf("scale by someone who may not deploy: %v", err)
	}
}

func TestConfigSetRestarts(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	h := newHarness(t, k, ns, setup{cfg: kubernetes.Config{Name: "api", Image: image, ConfigMap: "api-config"}})
	h.deployment(2, "registry.example/api:v0.9.0")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "api-config"}, Data: map[string]string{"LOG_LEVEL": "info", "KEEP": "me"}}
	if _, err := k.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := h.rolledOut().Generation

	out, err := h.engine.Operate(ctx, bob, pipeline.Op{Verb: pipeline.OpConfig, Project: "api", Env: "prod", Key: "LOG_LEVEL", Value: "debug verbose"})
	if err != nil || !strings.HasPrefix(out, "configmap api-config: LOG_LEVEL set; ") {
		t.Fatalf("config set: %q %v", out, err)
	}
	cm, _ = k.Client.CoreV1().ConfigMaps(ns).Get(ctx, "api-config", metav1.GetOptions{})
	if cm.Data["LOG_LEVEL"] != "debug verbose" || cm.Data["KEEP"] != "me" {
		t.Errorf("configmap data %v", cm.Data)
	}
	if dep := h.rolledOut(); dep.Generation == before || dep.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Errorf("the pods were not restarted: generation %d → %d", before, dep.Generation)
	}
	audit, _ := h.store.AuditLog(ctx, 1)
	if audit[0].Action != "config" || strings.Contains(audit[0].Detail, "debug") || !strings.HasPrefix(audit[0].Detail, "set LOG_LEVEL (value sha256:") {
		t.Errorf("audit: %+v", audit[0])
	}
	if _, err := h.engine.Operate(ctx, bob, pipeline.Op{Verb: pipeline.OpConfig, Project: "api", Env: "prod", Key: "bad key", Value: "x"}); !errors.Is(err, pipeline.ErrInvalid) || !strings.Contains(err.Error(), `"bad key" is not a ConfigMap key`) {
		t.Errorf("a bad key: %v", err)
	}
}

// readmeRole is the Role the README documents; TestReadmeShowsTheTestedRole
// keeps the two the same.
func readmeRole(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	f, err := os.Open("testdata/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var role rbacv1.Role
	if err := utilyaml.NewYAMLOrJSONDecoder(f, 4096).Decode(&role); err != nil {
		t.Fatal(err)
	}
	return role.Rules
}

func TestReadmeShowsTheTestedRole(t *testing.T) {
	role, _ := os.ReadFile("testdata/role.yaml")
	readme, _ := os.ReadFile("../../README.md")
	if !strings.Contains(string(readme), string(role)) {
		t.Errorf("README.md does not show testdata/role.yaml, the Role the tests deploy with")
	}
}

func TestLeastPrivilege(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	kubeconfig := k.ServiceAccount(t, ns, "ferry", readmeRole(t))
	h := newHarness(t, k, ns, setup{
		cfg:      kubernetes.Config{Name: "api", Image: image, ConfigMap: "api-config", Kubeconfig: kubeconfig},
		strategy: pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 100}}, AutoRollback: true},
	})
	warnings, err := h.driver.Preflight(ctx)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("preflight with the README's Role: %v %v", warnings, err)
	}
	h.deployment(2, "registry.example/api:v0.9.0")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "api-config"}}
	k.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	h.rolledOut()
	v1 := h.wait(h.deploy("v1.0.0").ID, pipeline.StateSucceeded)
	d := h.deploy("kwok-fail")
	h.until(d.ID, "ImagePullBackOff", func(us map[string]pipeline.Unit) bool { return strings.Contains(us["api/1"].Step, "ImagePullBackOff") })
	h.clock.Advance(10 * time.Minute)
	h.wait(d.ID, pipeline.StateRolledBack)
	if dep := h.rolledOut(); dep.Spec.Template.Annotations["ferry.dev/release"] != v1.Release {
		t.Errorf("the rollback with the README's Role did not return to %s", v1.Release)
	}
	for _, op := range []pipeline.Op{
		{Verb: pipeline.OpScale, Project: "api", Env: "prod", Replicas: 3},
		{Verb: pipeline.OpConfig, Project: "api", Env: "prod", Key: "A", Value: "b"},
	} {
		if _, err := h.engine.Operate(ctx, alice, op); err != nil {
			t.Errorf("%s with the README's Role: %v", op.Verb, err)
		}
	}
}

func TestMissingPermissionIsNamed(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	var rules []rbacv1.PolicyRule
	for _, r := range readmeRole(t) {
		switch r.Resources[0] {
		case "deployments":
			r.Verbs = []string{"get", "list", "watch"} // no patch
		case "events", "pods/log":
			continue
		}
		rules = append(rules, r)
	}
	kubeconfig := k.ServiceAccount(t, ns, "ferry", rules)
	h := newHarness(t, k, ns, setup{cfg: kubernetes.Config{Name: "api", Image: image, ConfigMap: "api-config", Kubeconfig: kubeconfig}})
	warnings, err := h.driver.Preflight(ctx)
	want := `user system:serviceaccount:` + ns + `:ferry (kubeconfig ` + kubeconfig + `) may not patch deployments.apps "api" in namespace ` + ns
	if !errors.Is(err, pipeline.ErrForbidden) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "README") {
		t.Errorf("preflight: %v\nwant it to say: %s", err, want)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "list events") || !strings.Contains(warnings[1], `get pods/log`) {
		t.Errorf("warnings: %q", warnings)
	}
	h.deployment(1, "registry.example/api:v0.9.0")
	d := h.deploy("v1.0.0")
	d = h.wait(d.ID, pipeline.StatePaused) // braked: continue or roll back
	if !strings.Contains(d.Reason, `cannot patch resource "deployments"`) {
		t.Errorf("deploy without patch: %q", d.Reason)
	}
	if strings.Contains(h.logs(d.ID), "token") {
		t.Errorf("a token reached the log:\n%s", h.logs(d.ID))
	}
}
