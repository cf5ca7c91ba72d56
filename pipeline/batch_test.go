package pipeline_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// newBatchHarness is a harness whose prod target moves batches together,
// as the kubernetes target does; staging stays a unit-by-unit target.
func newBatchHarness(t *testing.T, edit ...func(*pipeline.Project)) (*harness, *pipelinetest.BatchTarget) {
	h := newHarness(t, edit...)
	bt := &pipelinetest.BatchTarget{Target: h.targets["prod"]}
	h.batch["prod"] = bt
	return h, bt
}

func TestBatchTargetMovesEachBatchInOneCall(t *testing.T) {
	h, prod := newBatchHarness(t)
	d := h.deployProd("v1.0.0")
	want := []string{
		"install " + d.Release + " [p1] 1/4",
		"install " + d.Release + " [p2] 2/4",
		"install " + d.Release + " [p3 p4] 4/4",
	}
	if got := prod.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for name, u := range h.units(d.ID) {
		if u.State != pipeline.UnitDone || u.Step != "switch" || u.Started.IsZero() || u.Finished.IsZero() {
			t.Errorf("unit %s: %+v", name, u)
		}
	}
	if got := unitVersions(t, h); got != "p1=v1.0.0 p2=v1.0.0 p3=v1.0.0 p4=v1.0.0" {
		t.Errorf("board units: %s", got)
	}
	logs, _ := h.store.Logs(ctx, d.ID, 0)
	if !slices.ContainsFunc(logs, func(l pipeline.LogEntry) bool { return l.Unit == "" && l.Text == "rolling "+d.Release+" out to 1 of 4" }) {
		t.Errorf("the batch's own log is not kept: %+v", logs)
	}
}

func TestBatchTargetFailedUnitRollsBackTogether(t *testing.T) {
	h, prod := newBatchHarness(t)
	first := h.deployProd("v1.0.0")
	prod.Set(func(t *pipelinetest.Target) {
		t.FailCheck = func(unit, cur string) error {
			if cur != first.Release {
				return errors.New("ImagePullBackOff")
			}
			return nil
		}
	})
	d := h.request(alice, "prod", "v1.1.0")
	h.approve(bob, d.ID)
	d = h.wait(d.ID, pipeline.StateRolledBack)
	calls := prod.Calls()
	if want := fmt.Sprintf("activate %q [p1]", first.Release); calls[len(calls)-1] != want {
		t.Errorf("last call %q, want %q", calls[len(calls)-1], want)
	}
	u := h.units(d.ID)["p1"]
	if u.State != pipeline.UnitRolledBack || u.Previous != first.Release || !strings.Contains(u.Error, "ImagePullBackOff") {
		t.Errorf("p1: %+v", u)
	}
	if prod.Installs("p2") != 1 {
		t.Errorf("p2 was touched after the canary failed")
	}
	if got := unitVersions(t, h); got != "p1=v1.0.0 p2=v1.0.0 p3=v1.0.0 p4=v1.0.0" {
		t.Errorf("board units after the rollback: %s", got)
	}
}

func TestBatchTargetManualGateAndBrake(t *testing.T) {
	h, prod := newBatchHarness(t, func(p *pipeline.Project) {
		p.Envs[1].Strategy.Continue = pipeline.ContinueManual
		p.Envs[1].Strategy.Bake = 0
		p.Envs[1].Strategy.AutoRollback = false
	})
	prod.Set(func(t *pipelinetest.Target) { t.FailInstall["p3"] = errors.New("quota exceeded") })
	d := h.request(alice, "prod", "v1.0.0")
	h.approve(bob, d.ID)
	d = h.wait(d.ID, pipeline.StatePaused)
	if d.Batch != 1 || len(prod.Calls()) != 1 {
		t.Fatalf("gate after batch 1: batch %d, calls %v", d.Batch, prod.Calls())
	}
	h.engine.Continue(ctx, bob, d.ID)
	d = h.wait(d.ID, pipeline.StatePaused)
	h.engine.Continue(ctx, bob, d.ID)
	d = h.wait(d.ID, pipeline.StatePaused)
	if !strings.Contains(d.Reason, "p3: quota exceeded") {
		t.Fatalf("brake: %q", d.Reason)
	}
	prod.Set(func(t *pipelinetest.Target) { delete(t.FailInstall, "p3") })
	h.engine.Continue(ctx, bob, d.ID)
	h.wait(d.ID, pipeline.StateSucceeded)
	calls := prod.Calls()
	if want := "install " + d.Release + " [p3] 4/4"; calls[len(calls)-1] != want {
		t.Errorf("the retry moved %q, want only the failed unit: %q", calls[len(calls)-1], want)
	}
}

func TestBatchTargetResumesTheBatchItWasOn(t *testing.T) {
	h, prod := newBatchHarness(t, func(p *pipeline.Project) { p.Envs[1].Strategy.Bake = 0 })
	started := make(chan string, 8)
	prod.Set(func(t *pipelinetest.Target) {
		t.Started = started
		t.Hold = make(chan struct{})
	})
	d := h.request(alice, "prod", "v1.0.0")
	h.approve(bob, d.ID)
	<-started
	h.restart() // the batch of p1 is cut off
	prod.Set(func(t *pipelinetest.Target) { t.Started, t.Hold = nil, nil })
	d = h.wait(d.ID, pipeline.StateSucceeded)
	calls := prod.Calls()
	if len(calls) != 4 || calls[0] != calls[1] {
		t.Errorf("calls %v: want the first batch twice, then the others", calls)
	}
}

func TestOperate(t *testing.T) {
	h, prod := newBatchHarness(t, func(p *pipeline.Project) {
		p.Envs[0].Target.Type = "ssh"
		p.Envs[1].Target.Type = "kubernetes"
	})
	out, err := h.engine.Operate(ctx, alice, pipeline.Op{Verb: pipeline.OpScale, Project: "demo", Env: "prod", Replicas: 6})
	if err != nil || out != "scaled to 6" || !slices.Equal(prod.Scaled, []int{6}) {
		t.Fatalf("scale: %q %v %v", out, err, prod.Scaled)
	}
	if _, err := h.engine.Operate(ctx, bob, pipeline.Op{Verb: pipeline.OpConfig, Project: "demo", Env: "prod", Key: "TOKEN", Value: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.Operate(ctx, bob, pipeline.Op{Verb: pipeline.OpRestart, Project: "demo", Env: "prod"}); err != nil {
		t.Fatal(err)
	}
	audit, _ := h.store.AuditLog(ctx, 10)
	var got []string
	for _, a := range audit {
		got = append(got, a.Actor+" "+a.Action+" "+a.Detail)
	}
	want := []string{"bob restart ", "bob config set TOKEN (value sha256:1ec1c26b)", "alice scale to 6"}
	if !slices.Equal(got[:3], want) {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cases := []struct {
		name string
		a    pipeline.Actor
		op   pipeline.Op
		is   error
		say  string
	}{
		{"unsupported", alice, pipeline.Op{Verb: pipeline.OpScale, Project: "demo", Env: "staging", Replicas: 2}, pipeline.ErrInvalid, "scale is not supported by the ssh target of demo staging"},
		{"not a deployer", eve, pipeline.Op{Verb: pipeline.OpRestart, Project: "demo", Env: "prod"}, pipeline.ErrForbidden, "only dev, ops may deploy to prod"},
		{"negative", alice, pipeline.Op{Verb: pipeline.OpScale, Project: "demo", Env: "prod", Replicas: -1}, pipeline.ErrInvalid, "cannot be negative"},
		{"unknown env", alice, pipeline.Op{Verb: pipeline.OpRestart, Project: "demo", Env: "qa"}, pipeline.ErrNotFound, `no environment "qa"`},
	}
	for _, c := range cases {
		if _, err := h.engine.Operate(ctx, c.a, c.op); !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: %v; want %v saying %q", c.name, err, c.is, c.say)
		}
	}
	if audit, _ := h.store.AuditLog(ctx, 10); !slices.ContainsFunc(audit, func(a pipeline.AuditEntry) bool {
		return a.Actor == "eve" && a.Action == "restart denied" && strings.Contains(a.Detail, "only dev, ops may deploy to prod")
	}) {
		t.Errorf("eve's refused restart is not in the audit log: %+v", audit)
	}
	h.engine.Lock(ctx, bob, "demo", "prod", time.Hour, "incident")
	var locked *pipeline.LockedError
	if _, err := h.engine.Operate(ctx, alice, pipeline.Op{Verb: pipeline.OpRestart, Project: "demo", Env: "prod"}); !errors.As(err, &locked) {
		t.Errorf("restart of a locked env: %v", err)
	}
	h.engine.Unlock(ctx, bob, "demo", "prod")
	prod.Set(func(t *pipelinetest.Target) { t.Hold = make(chan struct{}) })
	d := h.request(alice, "prod", "v1.0.0")
	h.approve(bob, d.ID)
	h.wait(d.ID, pipeline.StateRunning)
	if _, err := h.engine.Operate(ctx, alice, pipeline.Op{Verb: pipeline.OpScale, Project: "demo", Env: "prod", Replicas: 1}); !errors.Is(err, pipeline.ErrConflict) || !strings.Contains(err.Error(), "deploy 1 is running in demo prod") {
		t.Errorf("scale during a deploy: %v", err)
	}
	rt, ok, err := h.engine.Runtime(ctx, "demo", "prod")
	if err != nil || !ok || rt.Desired != 4 {
		t.Errorf("runtime: %+v %v %v", rt, ok, err)
	}
	if _, ok, _ := h.engine.Runtime(ctx, "demo", "staging"); ok {
		t.Errorf("the ssh target reported a runtime")
	}
}
