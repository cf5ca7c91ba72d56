package pipeline_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// daily starts at an hour every day, in UTC: a schedule as
// dashboards.Schedule reads "0 <hour> * * *".
type daily int

func (h daily) Next(t time.Time) time.Time {
	t = t.UTC()
	c := time.Date(t.Year(), t.Month(), t.Day(), int(h), 0, 0, 0, time.UTC)
	if !c.After(t) {
		c = c.AddDate(0, 0, 1)
	}
	return c
}

// promoted is a harness whose staging takes tags too and promotes to prod
// by rules.
func promoted(t *testing.T, rules ...pipeline.Promotion) *harness {
	return newHarness(t, func(p *pipeline.Project) {
		p.Envs[0].Tags = []*regexp.Regexp{regexp.MustCompile(`^v`)}
		p.Envs[1].Strategy = pipeline.Strategy{}
		p.Promotions = rules
	})
}

// promotion waits, after a sweep, for the promotion of source to be in
// state.
func (h *harness) promotion(source int64, state pipeline.PromotionState) pipeline.PromotionRecord {
	h.t.Helper()
	var last []pipeline.PromotionRecord
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		h.engine.Kick()
		ps, err := h.store.Promotions(context.Background(), "demo")
		if err != nil {
			h.t.Fatal(err)
		}
		last = ps
		for _, p := range ps {
			if p.Source == source && p.State == state {
				return p
			}
		}
	}
	h.t.Fatalf("no %s promotion of deploy %d: %+v", state, source, last)
	return pipeline.PromotionRecord{}
}

// deploysIn lists the deploys of an environment, oldest first.
func (h *harness) deploysIn(env string) []pipeline.Deploy {
	h.t.Helper()
	ds, err := h.store.Deploys(context.Background(), pipeline.DeployFilter{Project: "demo", Env: env, Oldest: true})
	if err != nil {
		h.t.Fatal(err)
	}
	return ds
}

// TestPromotionWhenHealthy: what succeeded in staging soaks for 30m, its
// health checked on the way, and is then requested in prod by
// "promotion" with its approval card saying so; any approver may approve
// it. It is promoted once, across a restart.
func TestPromotionWhenHealthy(t *testing.T) {
	h := promoted(t, pipeline.Promotion{From: "staging", To: "prod", Soak: 30 * time.Minute})
	src := h.wait(h.request(alice, "staging", "v1.0.0").ID, pipeline.StateSucceeded)
	rec := h.promotion(src.ID, pipeline.PromotionSoaking)
	if !rec.Due.Equal(src.FinishedAt.Add(30*time.Minute)) || rec.Checked.IsZero() {
		t.Fatalf("soaking = %+v", rec)
	}
	h.clock.Advance(29 * time.Minute)
	h.engine.Kick()
	if ds := h.deploysIn("prod"); len(ds) != 0 {
		t.Fatalf("promoted before the soak ended: %+v", ds)
	}
	h.clock.Advance(time.Minute)
	rec = h.promotion(src.ID, pipeline.PromotionPromoted)
	d := h.wait(rec.DeployID, pipeline.StateAwaitingApproval)
	if d.Requester != pipeline.Promoter || d.Version != "v1.0.0" || d.Commit != src.Commit ||
		d.Reason != "promotion of v1.0.0 from staging, healthy for 30m; waiting for 1 approval(s)" {
		t.Fatalf("the promotion's deploy = %+v", d)
	}
	h.approve(alice, d.ID) // alice asked for the staging deploy; the promotion is not hers
	h.wait(d.ID, pipeline.StateSucceeded)
	h.restart()
	h.engine.Kick()
	h.promotion(src.ID, pipeline.PromotionPromoted)
	if ds := h.deploysIn("prod"); len(ds) != 1 {
		t.Fatalf("%d deploys in prod after a restart; want the one promotion", len(ds))
	}
}

// TestPromotionHealthCheckFails: a check that fails during the soak
// cancels the promotion, saying why, and nothing reaches prod.
func TestPromotionHealthCheckFails(t *testing.T) {
	h := promoted(t, pipeline.Promotion{From: "staging", To: "prod", Soak: 30 * time.Minute})
	src := h.wait(h.request(alice, "staging", "v1.0.0").ID, pipeline.StateSucceeded)
	h.promotion(src.ID, pipeline.PromotionSoaking)
	h.targets["staging"].Set(func(t *pipelinetest.Target) {
		t.FailCheck = func(unit, _ string) error {
			if unit == "s2" {
				return errors.New("GET /health: 503")
			}
			return nil
		}
	})
	h.clock.Advance(10 * time.Minute)
	rec := h.promotion(src.ID, pipeline.PromotionCancelled)
	if rec.Reason != "the health check of staging failed: s2: GET /health: 503" {
		t.Fatalf("reason = %q", rec.Reason)
	}
	h.clock.Advance(time.Hour)
	h.engine.Kick()
	if ds := h.deploysIn("prod"); len(ds) != 0 {
		t.Fatalf("a cancelled promotion deployed: %+v", ds)
	}
}

// TestPromotionCancelledUpstream: a rollback in staging during the soak
// cancels the promotion of what was rolled back.
func TestPromotionCancelledUpstream(t *testing.T) {
	h := promoted(t, pipeline.Promotion{From: "staging", To: "prod", Soak: 30 * time.Minute})
	h.wait(h.request(alice, "staging", "v1.0.0").ID, pipeline.StateSucceeded)
	src := h.wait(h.request(alice, "staging", "v1.1.0").ID, pipeline.StateSucceeded)
	h.promotion(src.ID, pipeline.PromotionSoaking)
	rb, err := h.engine.Rollback(context.Background(), alice, "demo", "staging", "", false)
	if err != nil {
		t.Fatal(err)
	}
	h.wait(rb.ID, pipeline.StateSucceeded)
	rec := h.promotion(src.ID, pipeline.PromotionCancelled)
	if !strings.Contains(rec.Reason, "rolled back") {
		t.Fatalf("reason = %q", rec.Reason)
	}
	h.clock.Advance(time.Hour)
	h.engine.Kick()
	if ds := h.deploysIn("prod"); len(ds) != 0 {
		t.Fatalf("promoted what was rolled back: %+v", ds)
	}
}

// TestPromotionOnSchedule: at its time the newest version that succeeded
// in staging before it is promoted, once, across a restart; a chain
// follows on (prod to eu, when healthy), and a freeze of eu holds the
// chain's last step until the freeze ends.
func TestPromotionOnSchedule(t *testing.T) {
	h := newHarness(t, func(p *pipeline.Project) {
		p.Envs[0].Tags = []*regexp.Regexp{regexp.MustCompile(`^v`)}
		p.Envs[1].Strategy, p.Envs[1].Approvals = pipeline.Strategy{}, pipeline.ApprovalPolicy{}
		eu := p.Envs[1]
		eu.Name = "eu"
		p.Envs = append(p.Envs, eu)
		p.Promotions = []pipeline.Promotion{
			{From: "staging", To: "prod", Schedule: daily(14)},
			{From: "prod", To: "eu", Soak: 10 * time.Minute},
		}
	})
	h.targets["eu"] = pipelinetest.NewTarget("e1")
	freezeUntil := t0.Add(5 * time.Hour)
	h.freezes = []pipeline.Freeze{{Name: "eu-maintenance", Envs: []string{"eu"}, From: t0, Until: freezeUntil}}
	h.restart()
	src := h.wait(h.request(alice, "staging", "v1.0.0").ID, pipeline.StateSucceeded) // at 10:00
	rec := h.promotion(src.ID, pipeline.PromotionSoaking)
	if want := time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC); !rec.Due.Equal(want) {
		t.Fatalf("due %v; want %v", rec.Due, want)
	}
	h.clock.Advance(4 * time.Hour) // 14:00
	rec = h.promotion(src.ID, pipeline.PromotionPromoted)
	prod := h.wait(rec.DeployID, pipeline.StateSucceeded)
	ts, err := h.store.Transitions(context.Background(), prod.ID)
	if err != nil || len(ts) == 0 || ts[0].Reason != "promotion of v1.0.0 from staging on its schedule" || prod.Requester != pipeline.Promoter {
		t.Fatalf("prod's deploy %+v, transitions %+v, %v", prod, ts, err)
	}
	h.restart()
	h.clock.Advance(24 * time.Hour) // the next day's 14:00: nothing new in staging
	h.engine.Kick()
	h.promotion(src.ID, pipeline.PromotionPromoted)
	if ds := h.deploysIn("prod"); len(ds) != 1 {
		t.Fatalf("%d deploys in prod; want one", len(ds))
	}
	// The chain: prod's deploy soaked (and the freeze of eu ended at
	// 15:00, before this day), so eu got it.
	eu := h.promotion(prod.ID, pipeline.PromotionPromoted)
	if d := h.wait(eu.DeployID, pipeline.StateSucceeded); d.Version != "v1.0.0" {
		t.Fatalf("eu = %+v", d)
	}
}

// TestPromotionWaitsOutFreeze: a due promotion into a frozen environment
// waits, saying so, and goes when the freeze ends.
func TestPromotionWaitsOutFreeze(t *testing.T) {
	h := promoted(t, pipeline.Promotion{From: "staging", To: "prod", Soak: 10 * time.Minute})
	h.freezes = []pipeline.Freeze{{Name: "year-end", Envs: []string{"prod"}, From: t0, Until: t0.Add(time.Hour), Reason: "year-end"}}
	h.restart()
	src := h.wait(h.request(alice, "staging", "v1.0.0").ID, pipeline.StateSucceeded)
	h.promotion(src.ID, pipeline.PromotionSoaking)
	h.clock.Advance(10 * time.Minute)
	var rec pipeline.PromotionRecord
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.HasPrefix(rec.Reason, "waiting:"); time.Sleep(2 * time.Millisecond) {
		rec = h.promotion(src.ID, pipeline.PromotionSoaking)
	}
	if !strings.Contains(rec.Reason, "waiting: demo/prod is frozen by year-end") {
		t.Fatalf("reason = %q", rec.Reason)
	}
	h.clock.Advance(time.Hour)
	rec = h.promotion(src.ID, pipeline.PromotionPromoted)
	h.wait(rec.DeployID, pipeline.StateAwaitingApproval)
}

// TestBoardShowsPromotions: the board lays environments out in promotion
// order and says what soaks where, how far, and where it goes next.
func TestBoardShowsPromotions(t *testing.T) {
	h := newHarness(t, func(p *pipeline.Project) {
		p.Envs[0].Tags = []*regexp.Regexp{regexp.MustCompile(`^v`)}
		p.Envs[1].Strategy = pipeline.Strategy{}
		p.Envs = []pipeline.Environment{p.Envs[1], p.Envs[0]} // prod first in the file
		p.Promotions = []pipeline.Promotion{{From: "staging", To: "prod", Soak: 30 * time.Minute}}
	})
	src := h.wait(h.request(alice, "staging", "v1.0.0").ID, pipeline.StateSucceeded)
	h.promotion(src.ID, pipeline.PromotionSoaking)
	h.clock.Advance(12 * time.Minute)
	board, err := h.engine.Board(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(board) != 2 || board[0].Env != "staging" || board[1].Env != "prod" {
		t.Fatalf("board order: %+v", board)
	}
	if len(board[0].Promoting) != 1 || board[0].Promoting[0].String() != "v1.0.0 soaking in staging, 12m of 30m, then prod" {
		t.Fatalf("promoting: %+v", board[0].Promoting)
	}
}
