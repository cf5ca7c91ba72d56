package pipeline_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

func TestBrakePausesThenContinueRetries(t *testing.T) {
	h := newHarness(t, func(p *pipeline.Project) { p.Envs[1].Strategy.AutoRollback = false })
	prod := h.targets["prod"]
	prod.Set(func(t *pipelinetest.Target) { t.FailInstall["p1"] = errors.New("disk full") })
	d := h.request(alice, "prod", "v1.0.0")
	h.approve(bob, d.ID)
	d = h.wait(d.ID, pipeline.StatePaused)
	if !strings.Contains(d.Reason, "1 unit(s) failed (max_failed_units 0): p1: disk full; continue or roll back") {
		t.Fatalf("brake reason: %q", d.Reason)
	}
	prod.Set(func(t *pipelinetest.Target) { delete(t.FailInstall, "p1") })
	if _, err := h.engine.Continue(ctx, bob, d.ID); err != nil {
		t.Fatal(err)
	}
	h.advance(1, 5*time.Minute)
	h.advance(1, 5*time.Minute)
	h.wait(d.ID, pipeline.StateSucceeded)
	if prod.Installs("p1") != 2 {
		t.Errorf("p1 installs: %d, want the failed one retried once", prod.Installs("p1"))
	}
}

func TestQueueAndSupersede(t *testing.T) {
	h := newHarness(t)
	st := h.targets["staging"]
	st.Hold = make(chan struct{})
	a := h.request(alice, "staging", "")
	h.wait(a.ID, pipeline.StateRunning)
	b := h.request(alice, "staging", "feature-x")
	c := h.request(bob, "staging", "")
	if b, _ = h.store.Deploy(ctx, b.ID); b.State != pipeline.StateCancelled || b.Reason != "superseded by deploy 3 (main@1111111)" {
		t.Errorf("older queued deploy: %s %q", b.State, b.Reason)
	}
	if c.State != pipeline.StateQueued {
		t.Errorf("newest: %s", c.State)
	}
	close(st.Hold)
	h.wait(a.ID, pipeline.StateSucceeded)
	c = h.wait(c.ID, pipeline.StateSucceeded)
	if c.PreviousRelease != a.Release && c.PreviousRelease != "" {
		t.Errorf("previous release %q", c.PreviousRelease)
	}
}

func TestLocks(t *testing.T) {
	h := newHarness(t)
	l, err := h.engine.Lock(ctx, bob, "demo", "prod", 0, "incident 42")
	if err != nil || !l.Expires.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("lock: %+v %v", l, err)
	}
	_, err = h.engine.Request(ctx, alice, pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.0.0"})
	var locked *pipeline.LockedError
	if !errors.As(err, &locked) || !strings.Contains(err.Error(), "demo prod is locked by bob: incident 42") {
		t.Fatalf("deploy to a locked env: %v", err)
	}
	if _, err := h.engine.Request(ctx, bob, pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.0.0"}); err != nil {
		t.Errorf("the owner deploys through their lock: %v", err)
	}
	if err := h.engine.Unlock(ctx, alice, "demo", "prod"); !errors.Is(err, pipeline.ErrForbidden) {
		t.Errorf("unlock by someone else: %v", err)
	}
	d, err := h.engine.Request(ctx, carol, pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.0.0", Force: true})
	if err != nil || !d.Force {
		t.Fatalf("admin force: %+v %v", d, err)
	}
	audit, _ := h.store.AuditLog(ctx, 10)
	if audit[0].Actor != "carol" || !strings.Contains(audit[0].Detail, "(forced)") {
		t.Errorf("force not audited: %+v", audit[0])
	}
	if _, err := h.engine.Lock(ctx, alice, "*", "prod", time.Hour, ""); !errors.Is(err, pipeline.ErrForbidden) {
		t.Errorf("lock * by a non-admin: %v", err)
	}
	h.clock.Advance(2*time.Hour + time.Second)
	if _, err := h.engine.Request(ctx, alice, pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.1.0"}); err != nil {
		t.Errorf("an expired lock still holds: %v", err)
	}
	if err := h.engine.Unlock(ctx, bob, "demo", "prod"); err != nil {
		t.Errorf("unlock by the owner: %v", err)
	}
	if err := h.engine.Unlock(ctx, bob, "demo", "prod"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("unlock twice: %v", err)
	}
}

func TestRestartResumesFromJournal(t *testing.T) {
	h := newHarness(t)
	prod := h.targets["prod"]
	h.deployProd("v1.0.0")
	d := h.request(alice, "prod", "v1.1.0")
	h.approve(bob, d.ID)
	started := make(chan string, 4)
	h.advance(1, 4*time.Minute) // the canary is baking
	hold := make(chan struct{})
	prod.Set(func(t *pipelinetest.Target) { t.Hold, t.Started = hold, started })
	h.advance(1, time.Minute)
	if u := <-started; u != "p2" {
		t.Fatalf("batch 2 started with %s", u)
	}
	h.restart() // ferry dies while p2 installs
	if got := h.wait(d.ID, pipeline.StateRunning); got.Batch != 1 {
		t.Fatalf("after restart: batch %d", got.Batch)
	}
	if u := <-started; u != "p2" {
		t.Fatalf("resume started with %s, not p2 from the journal", u)
	}
	close(hold)
	h.advance(1, 5*time.Minute)
	d = h.wait(d.ID, pipeline.StateSucceeded)
	if n := prod.Installs("p1"); n != 2 {
		t.Errorf("p1 installed %d times in two deploys; the canary must not repeat after a restart", n)
	}
	for u, rel := range prod.Current() {
		if rel != d.Release {
			t.Errorf("%s runs %s", u, rel)
		}
	}
}

func TestRestartMarksInterrupted(t *testing.T) {
	h := newHarness(t)
	st := h.targets["staging"]
	st.NotResumable = true
	st.Hold = make(chan struct{})
	d := h.request(alice, "staging", "")
	h.wait(d.ID, pipeline.StateRunning)
	h.restart()
	d = h.wait(d.ID, pipeline.StateInterrupted)
	if !strings.Contains(d.Reason, "resume it or roll it back") {
		t.Errorf("reason %q", d.Reason)
	}
	st.Hold = nil
	if _, err := h.engine.Resume(ctx, alice, d.ID); err != nil {
		t.Fatal(err)
	}
	h.wait(d.ID, pipeline.StateSucceeded)
}

func TestRollbackCommands(t *testing.T) {
	h := newHarness(t)
	first := h.deployProd("v1.0.0")
	second := h.deployProd("v1.1.0")
	if second.PreviousRelease != first.Release || second.PreviousVersion != "v1.0.0" {
		t.Fatalf("previous of second: %q %q", second.PreviousRelease, second.PreviousVersion)
	}
	if _, err := h.engine.Rollback(ctx, eve, "demo", "prod", "", false); !errors.Is(err, pipeline.ErrForbidden) {
		t.Errorf("rollback by an outsider: %v", err)
	}
	rb, err := h.engine.Rollback(ctx, bob, "demo", "prod", "", false)
	if err != nil || rb.Kind != pipeline.KindRollback || rb.Release != first.Release || rb.Version != "v1.0.0" || rb.State != pipeline.StateQueued {
		t.Fatalf("rollback: %+v %v", rb, err)
	}
	h.wait(rb.ID, pipeline.StateSucceeded)
	for u, rel := range h.targets["prod"].Current() {
		if rel != first.Release {
			t.Errorf("%s runs %s after rollback", u, rel)
		}
	}
	// Back to the second release by name, then to one that does not exist.
	to, err := h.engine.Rollback(ctx, bob, "demo", "prod", second.Release, false)
	if err != nil {
		t.Fatal(err)
	}
	h.wait(to.ID, pipeline.StateSucceeded)
	if _, err := h.engine.Rollback(ctx, bob, "demo", "prod", "999", false); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("rollback to a missing release: %v", err)
	}
	board, err := h.engine.Board(ctx, "demo")
	if err != nil || board[1].Current.Version != "v1.1.0" {
		t.Errorf("board after rollbacks: %+v %v", board, err)
	}
}

// TestRollbackTakesOnlyTheEnvironmentsReleases: a rollback needs no
// approval, so the release it names must be one its environment ran, never
// another environment's, which would pass prod's approvals and tag rules.
func TestRollbackTakesOnlyTheEnvironmentsReleases(t *testing.T) {
	h := newHarness(t)
	staging := h.wait(h.request(alice, "staging", "").ID, pipeline.StateSucceeded)
	first := h.deployProd("v1.0.0")
	second := h.deployProd("v1.1.0")
	failing := h.request(alice, "prod", "v1.2.0")
	if _, err := h.engine.Reject(ctx, bob, failing.ID, "not today"); err != nil {
		t.Fatal(err)
	}
	before, _ := h.store.Deploys(ctx, pipeline.DeployFilter{})
	want := fmt.Sprintf("prod keeps #%d and #%d: rollback demo prod to %d", first.ID, second.ID, first.ID)
	for release, why := range map[string]string{
		fmt.Sprint(staging.ID): fmt.Sprintf("deploy #%d is staging's, not prod's", staging.ID),
		fmt.Sprint(failing.ID): fmt.Sprintf("deploy #%d did not succeed in prod (it is rejected)", failing.ID),
		"999":                  "there is no deploy #999",
	} {
		_, err := h.engine.Rollback(ctx, bob, "demo", "prod", release, false)
		if !errors.Is(err, pipeline.ErrNotFound) || !strings.Contains(err.Error(), why+"; "+want) {
			t.Errorf("rollback prod to %s: %v; want %q", release, err, why+"; "+want)
		}
	}
	after, _ := h.store.Deploys(ctx, pipeline.DeployFilter{})
	if len(after) != len(before) {
		t.Errorf("refused rollbacks left %d deploys: %+v", len(after)-len(before), after[:len(after)-len(before)])
	}
	if _, err := h.engine.Rollback(ctx, bob, "demo", "staging", fmt.Sprint(first.ID), false); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprintf("deploy #%d is prod's, not staging's; staging keeps only #%d", first.ID, staging.ID)) {
		t.Errorf("rollback staging to prod's release: %v", err)
	}
	rb, err := h.engine.Rollback(ctx, bob, "demo", "prod", first.Release, false)
	if err != nil || rb.Release != first.Release {
		t.Fatalf("rollback to prod's own release: %+v %v", rb, err)
	}
}

func TestBuildFailureKeepsPreviousRelease(t *testing.T) {
	h := newHarness(t)
	first := h.request(alice, "staging", "")
	first = h.wait(first.ID, pipeline.StateSucceeded)
	st := h.targets["staging"]
	st.Set(func(t *pipelinetest.Target) { t.FailBuild = errors.New(`build: "make" exited 2`) })
	d := h.request(alice, "staging", "feature-x")
	d = h.wait(d.ID, pipeline.StateFailed)
	if d.Reason != `build failed: build: "make" exited 2` {
		t.Errorf("reason %q", d.Reason)
	}
	for u, rel := range st.Current() {
		if rel != first.Release {
			t.Errorf("%s runs %q after a failed build; want %s", u, rel, first.Release)
		}
	}
	logs, _ := h.store.Logs(ctx, d.ID, 5)
	if len(logs) == 0 || logs[len(logs)-1].Step != "build" {
		t.Errorf("build log tail: %+v", logs)
	}
}

func TestCancelRunningDeploy(t *testing.T) {
	h := newHarness(t)
	st := h.targets["staging"]
	st.Hold = make(chan struct{})
	d := h.request(alice, "staging", "")
	h.wait(d.ID, pipeline.StateRunning)
	if _, err := h.engine.Cancel(ctx, eve, d.ID); !errors.Is(err, pipeline.ErrForbidden) {
		t.Errorf("cancel by an outsider: %v", err)
	}
	d, err := h.engine.Cancel(ctx, alice, d.ID)
	if err != nil || d.State != pipeline.StateCancelled || d.Reason != "cancelled by alice" {
		t.Fatalf("cancel: %+v %v", d, err)
	}
	if _, err := h.engine.Cancel(ctx, alice, d.ID); !errors.Is(err, pipeline.ErrConflict) {
		t.Errorf("cancel twice: %v", err)
	}
	next := h.request(alice, "staging", "")
	st.Set(func(t *pipelinetest.Target) { t.Hold = nil })
	h.wait(next.ID, pipeline.StateSucceeded)
}

func TestPromote(t *testing.T) {
	h := newHarness(t, func(p *pipeline.Project) {
		p.Envs[0].Tags = p.Envs[1].Tags
	})
	if _, err := h.engine.Promote(ctx, alice, "demo", "staging", "prod", false); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("promote with nothing on staging: %v", err)
	}
	d := h.request(alice, "staging", "")
	h.wait(d.ID, pipeline.StateSucceeded)
	if _, err := h.engine.Promote(ctx, alice, "demo", "staging", "prod", false); !errors.Is(err, pipeline.ErrForbidden) || !strings.Contains(err.Error(), "staging runs main@1111111, which is a branch") {
		t.Errorf("promote a branch to prod: %v", err)
	}
	d = h.request(alice, "staging", "v1.2.0")
	h.wait(d.ID, pipeline.StateSucceeded)
	p, err := h.engine.Promote(ctx, alice, "demo", "staging", "prod", false)
	if err != nil || p.Version != "v1.2.0" || p.Commit != d.Commit || p.State != pipeline.StateAwaitingApproval {
		t.Fatalf("promote: %+v %v", p, err)
	}
}
