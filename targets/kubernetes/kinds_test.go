package kubernetes_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/kubernetes"
	"github.com/ferrybot/ferry/targets/kubernetes/kubetest"
)

// podImages maps each pod of app to its image, leaving out pods on their
// way out.
func podImages(t *testing.T, k *kubetest.Env, ns, app string) map[string]string {
	t.Helper()
	l, err := k.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			m[p.Name] = p.Spec.Containers[0].Image
		}
	}
	return m
}

func TestStatefulSetCanaryByPartitionAndRollback(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	h := newHarness(t, k, ns, setup{
		cfg:      kubernetes.Config{Name: "db", Kind: "statefulset", Image: "registry.example/db:{{.Version}}", ProgressDeadline: time.Minute},
		strategy: pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 100}}, Continue: pipeline.ContinueManual, AutoRollback: true},
	})
	labels := map[string]string{"app": "db"}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr(int32(3)), ServiceName: "db",
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels, "registry.example/db:v0"),
		},
	}
	if _, err := k.Client.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	units, err := h.driver.Units(ctx)
	if err != nil || !slices.Equal(units, []string{"db-2", "db-1", "db-0"}) {
		t.Fatalf("units %v %v; want the pods from the highest ordinal", units, err)
	}
	waitPods := func(want map[string]string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			got := podImages(t, k, ns, "db")
			if len(got) == len(want) && func() bool {
				for p, img := range want {
					if got[p] != img {
						return false
					}
				}
				return true
			}() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("pods %v, want %v", got, want)
			}
		}
	}
	waitPods(map[string]string{"db-0": "registry.example/db:v0", "db-1": "registry.example/db:v0", "db-2": "registry.example/db:v0"})

	d := h.deploy("v1.0.0")
	d = h.wait(d.ID, pipeline.StatePaused)
	got, _ := k.Client.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	if p := got.Spec.UpdateStrategy.RollingUpdate.Partition; p == nil || *p != 2 {
		t.Errorf("partition after the canary: %v, want 2", p)
	}
	waitPods(map[string]string{"db-0": "registry.example/db:v0", "db-1": "registry.example/db:v0", "db-2": "registry.example/db:v1.0.0"})
	h.engine.Continue(ctx, bob, d.ID)
	v1 := h.wait(d.ID, pipeline.StateSucceeded)
	got, _ = k.Client.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	if p := got.Spec.UpdateStrategy.RollingUpdate.Partition; p == nil || *p != 0 {
		t.Errorf("partition after the deploy: %v, want its own 0 back", p)
	}
	waitPods(map[string]string{"db-0": "registry.example/db:v1.0.0", "db-1": "registry.example/db:v1.0.0", "db-2": "registry.example/db:v1.0.0"})

	// A canary that never becomes ready: OrderedReady pod management would
	// wait for it forever, so the rollback deletes it.
	d = h.deploy("kwok-fail")
	h.until(d.ID, "db-2 in ImagePullBackOff", func(us map[string]pipeline.Unit) bool { return strings.Contains(us["db-2"].Step, "ImagePullBackOff") })
	h.clock.Advance(time.Minute)
	d = h.wait(d.ID, pipeline.StateRolledBack)
	if !strings.Contains(h.logs(d.ID), "deleted pod db-2 (ImagePullBackOff") {
		t.Errorf("the broken pod was not deleted:\n%s", h.logs(d.ID))
	}
	waitPods(map[string]string{"db-0": "registry.example/db:v1.0.0", "db-1": "registry.example/db:v1.0.0", "db-2": "registry.example/db:v1.0.0"})
	got, _ = k.Client.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	if got.Spec.Template.Annotations["ferry.dev/release"] != v1.Release || *got.Spec.UpdateStrategy.RollingUpdate.Partition != 0 {
		t.Errorf("after the rollback: release %s, partition %d", got.Spec.Template.Annotations["ferry.dev/release"], *got.Spec.UpdateStrategy.RollingUpdate.Partition)
	}
}

func TestDaemonSetIsOneUnit(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	h := newHarness(t, k, ns, setup{cfg: kubernetes.Config{Name: "agent", Kind: "DaemonSet", Image: "registry.example/agent:{{.Tag}}"}})
	labels := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels, "registry.example/agent:v0"),
		},
	}
	if _, err := k.Client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := h.deploy("main")
	d = h.wait(d.ID, pipeline.StateSucceeded)
	u := h.units(d.ID)
	if len(u) != 1 || u["agent"].Step != "1 of 1 node(s) updated, 1 ready" {
		t.Errorf("units %+v", u)
	}
	if imgs := podImages(t, k, ns, "agent"); len(imgs) != 1 || !slices.Contains(mapValues(imgs), "registry.example/agent:main-5555555") {
		t.Errorf("pods %v", imgs)
	}
	if _, err := h.engine.Operate(ctx, alice, pipeline.Op{Verb: pipeline.OpScale, Project: "api", Env: "prod", Replicas: 2}); err == nil || !strings.Contains(err.Error(), "runs one pod per node") {
		t.Errorf("scale of a DaemonSet: %v", err)
	}
}

func mapValues(m map[string]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}
