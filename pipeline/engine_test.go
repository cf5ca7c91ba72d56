package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

var ctx = context.Background()

func TestDeployToStaging(t *testing.T) {
	h := newHarness(t)
	d := h.request(alice, "staging", "")
	if d.State != pipeline.StateQueued || d.Version != "main@1111111" || d.Release == "" {
		t.Fatalf("request: %+v", d)
	}
	d = h.wait(d.ID, pipeline.StateSucceeded)
	if got := h.targets["staging"].Current(); got["s1"] != d.Release || got["s2"] != d.Release {
		t.Fatalf("current = %v, want release %s everywhere", got, d.Release)
	}
	for name, u := range h.units(d.ID) {
		if u.State != pipeline.UnitDone || u.Previous != "" {
			t.Errorf("unit %s: %+v", name, u)
		}
	}
	logs, _ := h.store.Logs(ctx, d.ID, 0)
	if len(logs) == 0 || !strings.Contains(logs[0].Text, "building main@1111111") {
		t.Errorf("build output not kept: %+v", logs)
	}
	tr, _ := h.store.Transitions(ctx, d.ID)
	var path []string
	for _, x := range tr {
		path = append(path, string(x.To))
	}
	if got := strings.Join(path, " "); got != "queued running succeeded" {
		t.Errorf("transitions: %s", got)
	}
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name  string
		actor pipeline.Actor
		req   pipeline.Request
		is    error
		say   string
	}{
		{"unknown project", alice, pipeline.Request{Project: "dmeo", Env: "staging"}, pipeline.ErrNotFound, `project "dmeo" does not exist; projects: demo`},
		{"unknown env", alice, pipeline.Request{Project: "demo", Env: "qa"}, pipeline.ErrNotFound, `no environment "qa"; environments: staging, prod`},
		{"missing ref", alice, pipeline.Request{Project: "demo", Env: "staging", Ref: "nope"}, pipeline.ErrNotFound, `ref "nope" not found`},
		{"branch to prod", alice, pipeline.Request{Project: "demo", Env: "prod", Ref: "main"}, pipeline.ErrForbidden, `main is a branch; prod only takes tags matching ^v\d+\.\d+\.\d+$`},
		{"no ref for prod", alice, pipeline.Request{Project: "demo", Env: "prod"}, pipeline.ErrInvalid, "say which ref to deploy: deploy demo <ref> to prod"},
		{"not a deployer", eve, pipeline.Request{Project: "demo", Env: "staging"}, pipeline.ErrForbidden, "only dev, ops may deploy to staging"},
		{"nobody", pipeline.Actor{}, pipeline.Request{Project: "demo", Env: "staging"}, pipeline.ErrForbidden, "not signed in"},
		{"force by non-admin", alice, pipeline.Request{Project: "demo", Env: "prod", Ref: "main", Force: true}, pipeline.ErrForbidden, "force is for admins only"},
	}
	for _, c := range cases {
		_, err := h.engine.Request(ctx, c.actor, c.req)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: err = %v; want %v saying %q", c.name, err, c.is, c.say)
		}
	}
	ds, _ := h.store.Deploys(ctx, pipeline.DeployFilter{Oldest: true})
	var denied []string
	for _, d := range ds {
		if d.State != pipeline.StateDenied {
			t.Errorf("deploy %d is %s", d.ID, d.State)
		}
		denied = append(denied, d.Requester+" "+d.Ref+" "+d.Env)
	}
	if got := strings.Join(denied, ", "); got != "alice main prod, eve main staging, alice main prod" {
		t.Errorf("denied requests stored: %q; want the policy refusals only", got)
	}
}

func TestApprovalPolicy(t *testing.T) {
	h := newHarness(t)
	d := h.request(alice, "prod", "v1.0.0")
	if d.State != pipeline.StateAwaitingApproval || !d.ApprovalDeadline.Equal(t0.Add(time.Hour)) {
		t.Fatalf("prod request: %+v", d)
	}
	if _, err := h.engine.Approve(ctx, alice, d.ID); !errors.Is(err, pipeline.ErrForbidden) || !strings.Contains(err.Error(), "someone else must approve") {
		t.Errorf("self-approval: %v", err)
	}
	if _, err := h.engine.Approve(ctx, carol, d.ID); err != nil {
		t.Errorf("admin approves although not in from: %v", err)
	}
	h.wait(d.ID, pipeline.StateRunning)
	if _, err := h.engine.Approve(ctx, bob, d.ID); !errors.Is(err, pipeline.ErrConflict) {
		t.Errorf("approving a running deploy: %v", err)
	}

	h2 := newHarness(t, func(p *pipeline.Project) { p.Envs[1].Approvals.Required = 2 })
	d = h2.request(alice, "prod", "v1.0.0")
	if _, err := h2.engine.Approve(ctx, eve, d.ID); !errors.Is(err, pipeline.ErrForbidden) || !strings.Contains(err.Error(), "only ops, dev may approve") {
		t.Errorf("approval from outside from: %v", err)
	}
	h2.approve(bob, d.ID)
	if _, err := h2.engine.Approve(ctx, bob, d.ID); !errors.Is(err, pipeline.ErrDuplicate) {
		t.Errorf("second approval by bob: %v", err)
	}
	if d, _ = h2.store.Deploy(ctx, d.ID); d.State != pipeline.StateAwaitingApproval {
		t.Fatalf("one of two approvals queued it: %s", d.State)
	}
	h2.approve(carol, d.ID)
	h2.wait(d.ID, pipeline.StateRunning)
}

func TestConcurrentApprovalsStartOnce(t *testing.T) {
	h := newHarness(t)
	d := h.request(alice, "prod", "v1.0.0")
	approvers := []pipeline.Actor{bob, carol, {Name: "dan", Teams: []string{"ops"}}, {Name: "fay", Teams: []string{"dev"}}}
	var wg sync.WaitGroup
	for _, a := range approvers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.engine.Approve(ctx, a, d.ID); err != nil && !errors.Is(err, pipeline.ErrConflict) {
				t.Errorf("approve by %s: %v", a.Name, err)
			}
		}()
	}
	wg.Wait()
	h.wait(d.ID, pipeline.StateRunning)
	tr, _ := h.store.Transitions(ctx, d.ID)
	count := map[pipeline.State]int{}
	for _, x := range tr {
		count[x.To]++
	}
	if count[pipeline.StateQueued] != 1 || count[pipeline.StateRunning] != 1 {
		t.Errorf("transitions %v: want exactly one queued and one running", count)
	}
}

func TestApprovalExpires(t *testing.T) {
	h := newHarness(t)
	d := h.request(alice, "prod", "v1.0.0")
	h.clock.Advance(time.Hour + time.Second)
	if _, err := h.engine.Approve(ctx, bob, d.ID); !errors.Is(err, pipeline.ErrConflict) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("late approval: %v", err)
	}
	h.wait(d.ID, pipeline.StateExpired)
	if as, _ := h.store.Approvals(ctx, d.ID); len(as) != 0 {
		t.Errorf("late approval stored: %+v", as)
	}
	d = h.request(alice, "prod", "v1.0.0")
	h.clock.Advance(time.Hour)
	h.engine.Kick()
	h.wait(d.ID, pipeline.StateExpired)
}

func TestRejectEndsTheRequest(t *testing.T) {
	h := newHarness(t)
	d := h.request(alice, "prod", "v1.0.0")
	if _, err := h.engine.Reject(ctx, eve, d.ID, ""); !errors.Is(err, pipeline.ErrForbidden) {
		t.Errorf("reject by an outsider: %v", err)
	}
	d, err := h.engine.Reject(ctx, bob, d.ID, "not on a Friday")
	if err != nil || d.State != pipeline.StateRejected || d.Reason != "rejected by bob: not on a Friday" {
		t.Fatalf("reject: %+v %v", d, err)
	}
	if _, err := h.engine.Approve(ctx, carol, d.ID); !errors.Is(err, pipeline.ErrConflict) {
		t.Errorf("approve after reject: %v", err)
	}
}

func TestCanaryBatchesWithBake(t *testing.T) {
	h := newHarness(t)
	d := h.request(alice, "prod", "v1.0.0")
	h.approve(bob, d.ID)
	h.advance(1, 4*time.Minute) // not enough bake yet
	cur := h.targets["prod"].Current()
	if cur["p1"] != d.Release || cur["p2"] != "" {
		t.Fatalf("after the canary batch: %v", cur)
	}
	if got := unitVersions(t, h); got != "p1=v1.0.0" {
		t.Errorf("board units while the canary bakes: %s", got)
	}
	h.advance(1, time.Minute)
	h.advance(1, 5*time.Minute)
	d = h.wait(d.ID, pipeline.StateSucceeded)
	units := h.units(d.ID)
	if units["p1"].Batch != 0 || units["p2"].Batch != 1 || units["p4"].Batch != 2 {
		t.Errorf("batches: %+v", units)
	}
	if d.Batches != 3 || d.Reason != "4 of 4 units updated" {
		t.Errorf("deploy: batches %d reason %q", d.Batches, d.Reason)
	}
}

func TestManualContinue(t *testing.T) {
	h := newHarness(t, func(p *pipeline.Project) {
		p.Envs[1].Strategy.Continue = pipeline.ContinueManual
		p.Envs[1].Strategy.Bake = 0
	})
	d := h.request(alice, "prod", "v1.0.0")
	h.approve(bob, d.ID)
	d = h.wait(d.ID, pipeline.StatePaused)
	if d.Reason != "batch 1 of 3 is done; continue when ready" || d.Batch != 1 {
		t.Fatalf("gate: batch %d %q", d.Batch, d.Reason)
	}
	if _, err := h.engine.Continue(ctx, eve, d.ID); !errors.Is(err, pipeline.ErrForbidden) {
		t.Errorf("continue by an outsider: %v", err)
	}
	if _, err := h.engine.Continue(ctx, bob, d.ID); err != nil {
		t.Fatal(err)
	}
	h.wait(d.ID, pipeline.StatePaused)
	if _, err := h.engine.Continue(ctx, alice, d.ID); err != nil {
		t.Fatal(err)
	}
	h.wait(d.ID, pipeline.StateSucceeded)
	if h.targets["prod"].Installs("p1") != 1 {
		t.Errorf("the canary was installed %d times", h.targets["prod"].Installs("p1"))
	}
}

func TestFailingCanaryRollsBack(t *testing.T) {
	h := newHarness(t)
	first := h.deployProd("v1.0.0")
	prod := h.targets["prod"]
	prod.Set(func(t *pipelinetest.Target) {
		t.FailCheck = func(unit, cur string) error {
			if cur != first.Release {
				return errors.New("GET /health: 503")
			}
			return nil
		}
	})
	d := h.request(alice, "prod", "v1.1.0")
	h.approve(bob, d.ID)
	d = h.wait(d.ID, pipeline.StateRolledBack)
	for u, rel := range prod.Current() {
		if rel != first.Release {
			t.Errorf("%s runs %s after rollback; want %s", u, rel, first.Release)
		}
	}
	if got := unitVersions(t, h); got != "p1=v1.0.0 p2=v1.0.0 p3=v1.0.0 p4=v1.0.0" {
		t.Errorf("board units after the rollback: %s", got)
	}
	tr, _ := h.store.Transitions(ctx, d.ID)
	if n := len(tr); n < 3 || tr[n-3].To != pipeline.StateFailed || !strings.Contains(tr[n-3].Reason, "p1: GET /health: 503") {
		t.Errorf("failure not recorded with its reason: %+v", tr)
	}
	if prod.Installs("p2") != 1 {
		t.Errorf("p2 was touched after the canary failed")
	}
}

// unitVersions renders what the board says each prod unit runs.
func unitVersions(t *testing.T, h *harness) string {
	t.Helper()
	board, err := h.engine.Board(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, u := range board[1].Units {
		parts = append(parts, u.Unit+"="+u.Version)
	}
	return strings.Join(parts, " ")
}
