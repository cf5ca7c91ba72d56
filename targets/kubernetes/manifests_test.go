package kubernetes_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/kubernetes"
	"github.com/ferrybot/ferry/targets/kubernetes/kubetest"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

const webManifests = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxSurge: 50%, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example/web:{{.Version}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  version: "{{.Version}} at {{.ShortCommit}}"
  alert: "{{ $labels.instance }} is down"
`

func TestManifestsCreateThenCanary(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	repo := gittest.NewRepo(t)
	v1 := repo.Commit(t, map[string]string{"deploy/k8s/web.yaml": webManifests, "README": "web"}, "web v1")
	repo.Tag(t, "v1.0.0")
	repo.Commit(t, map[string]string{"README": "web, again"}, "web v1.1")
	repo.Tag(t, "v1.1.0")
	h := newHarness(t, k, ns, setup{
		cfg:      kubernetes.Config{Name: "web", Manifests: "deploy/k8s"},
		strategy: pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 100}}},
		repo:     repo.Path(),
	})

	first := h.wait(h.deploy("v1.0.0").ID, pipeline.StateSucceeded)
	dep, err := k.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "registry.example/web:v1.0.0" || dep.Spec.Template.Annotations["ferry.dev/release"] != first.Release {
		t.Errorf("created: image %s, annotations %v", img, dep.Spec.Template.Annotations)
	}
	cm, err := k.Client.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["version"] != "v1.0.0 at "+v1[:7] || cm.Data["alert"] != "{{ $labels.instance }} is down" {
		t.Errorf("configmap %v: want the release's placeholders replaced and nothing else", cm.Data)
	}

	d := h.wait(h.deploy("v1.1.0").ID, pipeline.StateSucceeded)
	if len(h.units(d.ID)) != 2 {
		t.Errorf("units of the second deploy: %v", h.units(d.ID))
	}
	if !strings.Contains(h.logs(d.ID), "paused deployment "+ns+"/web at 1 new pod(s) of 2") {
		t.Errorf("the second deploy did not stop after its canary:\n%s", h.logs(d.ID))
	}
	dep, _ = k.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	ru := dep.Spec.Strategy.RollingUpdate
	if dep.Spec.Paused || ru.MaxSurge.String() != "50%" || ru.MaxUnavailable.IntValue() != 0 || dep.Spec.Template.Annotations["ferry.dev/release"] != d.Release {
		t.Errorf("after the canary deploy: paused %v, strategy %v/%v, release %s", dep.Spec.Paused, ru.MaxSurge, ru.MaxUnavailable, dep.Spec.Template.Annotations["ferry.dev/release"])
	}
}

func TestManifestsWithoutTheTarget(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"deploy/k8s/web.yaml": webManifests}, "web")
	repo.Tag(t, "v1.0.0")
	h := newHarness(t, k, ns, setup{cfg: kubernetes.Config{Name: "api", Manifests: "deploy/k8s"}, repo: repo.Path()})
	d := h.wait(h.deploy("v1.0.0").ID, pipeline.StateFailed)
	if !strings.Contains(d.Reason, "deploy/k8s has no Deployment named api") {
		t.Errorf("reason %q", d.Reason)
	}
}
