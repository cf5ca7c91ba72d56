package kubernetes_test

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/kubernetes"
	"github.com/ferrybot/ferry/targets/kubernetes/kubetest"
)

func TestDeployCompletes(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	h := newHarness(t, k, ns, setup{cfg: kubernetes.Config{Name: "api", Image: image}})
	h.deployment(3, "registry.example/api:v0.9.0")
	h.rolledOut()

	d := h.deploy("v1.0.0")
	d = h.wait(d.ID, pipeline.StateSucceeded)
	dep := h.rolledOut()
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "registry.example/api:v1.0.0" {
		t.Errorf("image %s", img)
	}
	for where, ann := range map[string]map[string]string{"object": dep.Annotations, "pod template": dep.Spec.Template.Annotations} {
		want := map[string]string{"ferry.dev/release": d.Release, "ferry.dev/deploy-id": d.Release, "ferry.dev/requester": "alice",
			"ferry.dev/commit": "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ferry.dev/version": "v1.0.0"}
		for k, v := range want {
			if ann[k] != v {
				t.Errorf("%s annotation %s = %q, want %q", where, k, ann[k], v)
			}
		}
		if _, ok := ann["ferry.dev/rollout"]; ok {
			t.Errorf("%s keeps the rollout annotation after the last batch", where)
		}
	}
	units := h.units(d.ID)
	if len(units) != 3 {
		t.Fatalf("units %v, want api/1..api/3", units)
	}
	for name, u := range units {
		if u.State != pipeline.UnitDone || !strings.HasPrefix(u.Step, "pod api-") || !strings.Contains(u.Step, "on kwok-node-0: ready, 0 restart(s)") {
			t.Errorf("unit %s: %s %q", name, u.State, u.Step)
		}
		if u.Previous != "" && !strings.HasPrefix(u.Previous, "api-") {
			t.Errorf("unit %s: previous %q, want the ReplicaSet that ran before ferry", name, u.Previous)
		}
	}
	if d.Reason != "3 of 3 units updated" {
		t.Errorf("reason %q", d.Reason)
	}
}

func TestCanaryPausedBetweenBatches(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	h := newHarness(t, k, ns, setup{
		cfg:      kubernetes.Config{Name: "api", Image: image},
		strategy: pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 50}, {Percent: 100}}, Continue: pipeline.ContinueManual},
	})
	h.deployment(4, "registry.example/api:v0.9.0")
	h.rolledOut()

	d := h.deploy("v1.0.0")
	d = h.wait(d.ID, pipeline.StatePaused)
	dep := h.getDeployment()
	if !dep.Spec.Paused || dep.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("after the canary: paused %v, strategy %+v", dep.Spec.Paused, dep.Spec.Strategy.RollingUpdate)
	}
	rs := h.replicaSets()
	if rs["registry.example/api:v1.0.0"] != [2]int32{1, 1} || rs["registry.example/api:v0.9.0"][0] != 4 {
		t.Errorf("after batch 1 (want 1 new ready pod beside the 4 old): %v", rs)
	}
	if u := h.units(d.ID); u["api/1"].State != pipeline.UnitDone || u["api/2"].State != pipeline.UnitPending {
		t.Errorf("units after batch 1: %+v", u)
	}
	for _, want := range []string{
		"/api: container app image registry.example/api:v1.0.0, maxSurge 1, maxUnavailable 0, resumed",
		"/api at 1 new pod(s) of 4", "1 of 4 pod(s) ready on release " + d.Release,
	} {
		if !strings.Contains(h.logs(d.ID), want) {
			t.Errorf("the log lacks %q:\n%s", want, h.logs(d.ID))
		}
	}
	if _, err := h.engine.Continue(ctx, bob, d.ID); err != nil {
		t.Fatal(err)
	}
	d = h.wait(d.ID, pipeline.StatePaused)
	if rs := h.replicaSets(); rs["registry.example/api:v1.0.0"] != [2]int32{2, 2} {
		t.Errorf("after batch 2 (want 2 new ready pods): %v", rs)
	}
	if _, err := h.engine.Continue(ctx, bob, d.ID); err != nil {
		t.Fatal(err)
	}
	h.wait(d.ID, pipeline.StateSucceeded)
	dep = h.rolledOut()
	ru := dep.Spec.Strategy.RollingUpdate
	if dep.Spec.Paused || ru.MaxSurge.String() != pct25.String() || ru.MaxUnavailable.String() != pct25.String() {
		t.Errorf("after the last batch: paused %v, strategy %v/%v; want the Deployment's own 25%%/25%% back", dep.Spec.Paused, ru.MaxSurge, ru.MaxUnavailable)
	}
	if rs := h.replicaSets(); rs["registry.example/api:v1.0.0"] != [2]int32{4, 4} || rs["registry.example/api:v0.9.0"][0] != 0 {
		t.Errorf("after the last batch: %v", rs)
	}
}

func TestNeverReadyFailsAtTheProgressDeadlineAndRollsBack(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	h := newHarness(t, k, ns, setup{
		cfg:      kubernetes.Config{Name: "api", Image: image},
		strategy: pipeline.Strategy{AutoRollback: true},
	})
	h.deployment(2, "registry.example/api:v0.9.0", func(d *appsv1.Deployment) { d.Spec.ProgressDeadlineSeconds = ptr(int32(2)) })
	h.rolledOut()
	first := h.wait(h.deploy("v1.0.0").ID, pipeline.StateSucceeded)

	d := h.deploy("kwok-fail") // kwok keeps such pods in ImagePullBackOff
	d = h.wait(d.ID, pipeline.StateRolledBack)
	u := h.units(d.ID)["api/1"]
	if u.State != pipeline.UnitRolledBack || u.Previous != first.Release ||
		!strings.Contains(u.Error, "ProgressDeadlineExceeded") && !strings.Contains(u.Error, "progress deadline") ||
		!strings.Contains(u.Error, "ImagePullBackOff") {
		t.Errorf("unit api/1: %+v", u)
	}
	if !strings.Contains(h.logs(d.ID), `Back-off pulling image "registry.example/api:kwok-fail"`) {
		t.Errorf("the failing pod is not explained in the log:\n%s", h.logs(d.ID))
	}
	dep := h.rolledOut()
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "registry.example/api:v1.0.0" || dep.Spec.Template.Annotations["ferry.dev/release"] != first.Release {
		t.Errorf("after the rollback: image %s, release %s", img, dep.Spec.Template.Annotations["ferry.dev/release"])
	}
}

func TestCanaryThatNeverBecomesReadyFailsOnFerrysDeadline(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	h := newHarness(t, k, ns, setup{
		cfg:      kubernetes.Config{Name: "api", Image: image, ProgressDeadline: time.Minute},
		strategy: pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 100}}, AutoRollback: true},
	})
	h.deployment(3, "registry.example/api:v0.9.0")
	h.rolledOut()
	first := h.wait(h.deploy("v1.0.0").ID, pipeline.StateSucceeded)

	d := h.deploy("kwok-fail")
	// The Deployment is paused while the canary starts, so only ferry's
	// own deadline, on the fake clock, can end the wait.
	h.until(d.ID, "the canary's pod in ImagePullBackOff", func(us map[string]pipeline.Unit) bool {
		return strings.Contains(us["api/1"].Step, "ImagePullBackOff")
	})
	h.clock.Advance(time.Minute)
	d = h.wait(d.ID, pipeline.StateRolledBack)
	if u := h.units(d.ID)["api/1"]; !strings.Contains(u.Error, "no progress for 1m0s") || !strings.Contains(u.Error, "ImagePullBackOff") {
		t.Errorf("unit api/1: %+v", u)
	}
	if u := h.units(d.ID)["api/2"]; u.State != pipeline.UnitPending {
		t.Errorf("api/2 was touched: %+v", u)
	}
	dep := h.rolledOut()
	if dep.Spec.Paused || dep.Spec.Template.Annotations["ferry.dev/release"] != first.Release || dep.Spec.Strategy.RollingUpdate.MaxSurge.String() != "25%" {
		t.Errorf("after the rollback: paused %v, release %s, strategy %+v", dep.Spec.Paused, dep.Spec.Template.Annotations["ferry.dev/release"], dep.Spec.Strategy.RollingUpdate)
	}
	if _, ok := dep.Annotations["ferry.dev/rollout"]; ok {
		t.Errorf("the rollout annotation is left after the rollback")
	}
}

func TestRollbackToANamedRelease(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	h := newHarness(t, k, ns, setup{cfg: kubernetes.Config{Name: "api", Image: image}})
	h.deployment(2, "registry.example/api:v0.9.0")
	h.rolledOut()
	v1 := h.wait(h.deploy("v1.0.0").ID, pipeline.StateSucceeded)
	h.wait(h.deploy("v1.1.0").ID, pipeline.StateSucceeded)
	h.wait(h.deploy("v1.2.0").ID, pipeline.StateSucceeded)

	d, err := h.engine.Rollback(ctx, bob, "api", "prod", v1.Release, false)
	if err != nil {
		t.Fatal(err)
	}
	h.wait(d.ID, pipeline.StateSucceeded)
	dep := h.rolledOut()
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "registry.example/api:v1.0.0" || dep.Spec.Template.Annotations["ferry.dev/release"] != v1.Release {
		t.Errorf("after rollback to %s: image %s", v1.Release, img)
	}
	if _, err := h.engine.Rollback(ctx, bob, "api", "prod", "99", false); err == nil || !strings.Contains(err.Error(), "there is no deploy #99") {
		t.Errorf("rollback to a release that never was: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestResumeAfterRestart stops ferry while a canary bakes, with the
// Deployment paused and its strategy changed, and starts a new ferry on the
// same database: the deploy resumes, and the last batch restores the
// strategy the first one saved on the object.
func TestResumeAfterRestart(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	h := newHarness(t, k, ns, setup{
		cfg:      kubernetes.Config{Name: "api", Image: image},
		strategy: pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 50}, {Percent: 100}}, Bake: 5 * time.Minute},
	})
	h.deployment(4, "registry.example/api:v0.9.0")
	h.rolledOut()
	d := h.deploy("v1.0.0")
	h.bake(d.ID, 0)
	h.stop()
	if dep := h.getDeployment(); !dep.Spec.Paused || dep.Annotations["ferry.dev/rollout"] == "" {
		t.Fatalf("while baking: paused %v, rollout %q", dep.Spec.Paused, dep.Annotations["ferry.dev/rollout"])
	}
	h.start()
	h.bake(d.ID, 0)
	h.clock.Advance(5 * time.Minute)
	h.bake(d.ID, 1)
	h.clock.Advance(5 * time.Minute)
	d = h.wait(d.ID, pipeline.StateSucceeded)
	dep := h.rolledOut()
	ru := dep.Spec.Strategy.RollingUpdate
	if dep.Spec.Paused || ru.MaxSurge.String() != "25%" || ru.MaxUnavailable.String() != "25%" || dep.Annotations["ferry.dev/rollout"] != "" {
		t.Errorf("after the resumed deploy: paused %v, strategy %v/%v, rollout %q", dep.Spec.Paused, ru.MaxSurge, ru.MaxUnavailable, dep.Annotations["ferry.dev/rollout"])
	}
	for name, u := range h.units(d.ID) {
		if u.State != pipeline.UnitDone {
			t.Errorf("unit %s: %+v", name, u)
		}
	}
}
