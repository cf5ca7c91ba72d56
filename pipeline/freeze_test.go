package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// weekly starts a window every week at a weekday and hour in loc: a cron
// schedule as dashboards.Schedule reads one.
type weekly struct {
	day  time.Weekday
	hour int
	loc  *time.Location
}

func (w weekly) Next(t time.Time) time.Time {
	l := t.In(w.loc)
	for d := 0; d <= 7; d++ {
		c := time.Date(l.Year(), l.Month(), l.Day()+d, w.hour, 0, 0, 0, w.loc)
		if c.Weekday() == w.day && c.After(t) {
			return c
		}
	}
	return time.Time{}
}

// TestFreezeWindowsAcrossDST: "Friday 18:00 for 62h" in Europe/Berlin
// ends Monday 08:00 local time on ordinary weekends and on both weekends
// of 2026 when the clocks change (29 March, 25 October), when it lasts
// 61 and 63 hours.
func TestFreezeWindowsAcrossDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	f := pipeline.Freeze{Name: "weekends", Envs: []string{"*/prod"}, Starts: weekly{time.Friday, 18, berlin}, Duration: 62 * time.Hour, Loc: berlin}
	for _, c := range []struct {
		friday int
		month  time.Month
		hours  time.Duration
	}{{20, time.March, 62}, {27, time.March, 61}, {23, time.October, 63}, {6, time.November, 62}} {
		start := time.Date(2026, c.month, c.friday, 18, 0, 0, 0, berlin)
		end := time.Date(2026, c.month, c.friday+3, 8, 0, 0, 0, berlin)
		if got := end.Sub(start); got != c.hours*time.Hour {
			t.Fatalf("setup: %v lasts %v", start, got)
		}
		if _, open := f.At(start.Add(-time.Second)); open {
			t.Errorf("open before %v", start)
		}
		w, open := f.At(start)
		if !open || !w.Start.Equal(start) || !w.End.Equal(end) {
			t.Errorf("at %v: %v–%v open %v; want until %v", start, w.Start, w.End, open, end)
		}
		if w, open := f.At(end.Add(-time.Second)); !open || !w.End.Equal(end) {
			t.Errorf("a second before %v: open %v", end, open)
		}
		if _, open := f.At(end); open {
			t.Errorf("still open at %v", end)
		}
		if next, ok := f.Next(start.Add(-time.Hour)); !ok || !next.Start.Equal(start) || !next.End.Equal(end) {
			t.Errorf("next window before %v: %+v", start, next)
		}
	}
	for env, want := range map[string]bool{"demo/prod": true, "api/prod": true, "demo/staging": false} {
		p, e, _ := strings.Cut(env, "/")
		if f.Covers(p, e) != want {
			t.Errorf("covers %s = %v", env, !want)
		}
	}
}

// TestFreezeRefusesDeploys: in a window, a deploy and a promotion into
// the frozen environment are refused with the window's name, reason and
// end; an admin's forced deploy goes through and is audited; a rollback
// is allowed unless the freeze says rollbacks: false; a deploy queued
// before the window opened waits for it to end.
func TestFreezeRefusesDeploys(t *testing.T) {
	h := newHarness(t, func(p *pipeline.Project) {
		p.Envs[1].Approvals = pipeline.ApprovalPolicy{}
		p.Envs[1].Strategy = pipeline.Strategy{}
	})
	ctx := context.Background()
	h.wait(h.request(alice, "prod", "v1.0.0").ID, pipeline.StateSucceeded)
	h.wait(h.request(alice, "prod", "v1.1.0").ID, pipeline.StateSucceeded)
	from, until := t0.Add(time.Hour), time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC)
	h.freezes = []pipeline.Freeze{{Name: "year-end", Envs: []string{"prod"}, From: from, Until: until, Reason: "year-end change freeze"}}
	h.restart()

	// Queued before the window opens, behind a deploy that holds the
	// environment, it waits for the window to end.
	prod := h.targets["prod"]
	hold := make(chan struct{})
	started := make(chan string, 64) // every install of the test: it is never read again
	prod.Set(func(t *pipelinetest.Target) { t.Hold, t.Started = hold, started })
	held := h.request(alice, "prod", "v1.0.0")
	<-started
	queued := h.request(alice, "prod", "v1.2.0")
	if queued.State != pipeline.StateQueued {
		t.Fatalf("behind a running deploy: %s", queued.State)
	}
	h.clock.Advance(time.Hour)
	close(hold) // installs pass from now on
	h.wait(held.ID, pipeline.StateSucceeded)
	h.engine.Kick()
	_, err := h.engine.Request(ctx, alice, pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.2.0"})
	var frozen *pipeline.Frozen
	if !errors.As(err, &frozen) || !errors.Is(err, pipeline.ErrForbidden) ||
		!strings.Contains(err.Error(), "demo/prod is frozen by year-end until Mon 4 Jan 2027 00:00 UTC (year-end change freeze)") {
		t.Fatalf("a deploy in the window: %v", err)
	}
	if _, err := h.engine.Promote(ctx, bob, "demo", "staging", "prod", false); !errors.As(err, &frozen) {
		t.Fatalf("a promotion in the window: %v", err)
	}
	var d pipeline.Deploy
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.HasPrefix(d.Reason, "held: "); time.Sleep(2 * time.Millisecond) {
		h.engine.Kick()
		if d, err = h.store.Deploy(ctx, queued.ID); err != nil {
			t.Fatal(err)
		}
	}
	if d.State != pipeline.StateQueued || !strings.HasPrefix(d.Reason, "held: demo/prod is frozen by year-end until Mon 4 Jan 2027 00:00 UTC") {
		t.Fatalf("the deploy queued before the window: %s %q; want it queued, held by the freeze", d.State, d.Reason)
	}
	// When the window ends, the queued deploy starts.
	h.clock.Advance(until.Sub(h.clock.Now()))
	h.engine.Kick()
	h.wait(queued.ID, pipeline.StateSucceeded)

	// In the next window a rollback is allowed, and an admin's force.
	h.freezes[0].From, h.freezes[0].Until = h.clock.Now(), h.clock.Now().Add(24*time.Hour)
	h.restart()
	// A rollback returns to what was deployed before: allowed.
	rb, err := h.engine.Rollback(ctx, alice, "demo", "prod", "", false)
	if err != nil {
		t.Fatalf("a rollback in the window: %v", err)
	}
	h.wait(rb.ID, pipeline.StateSucceeded)
	// An admin forces a deploy through, audited with the window.
	forced, err := h.engine.Request(ctx, carol, pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.0.0", Force: true})
	if err != nil {
		t.Fatalf("a forced deploy: %v", err)
	}
	h.wait(forced.ID, pipeline.StateSucceeded)
	log, _ := h.store.AuditLog(ctx, 20)
	found := false
	for _, e := range log {
		found = found || e.DeployID == forced.ID && strings.Contains(e.Detail, "through freeze year-end")
	}
	if !found {
		t.Fatalf("the forced deploy is not audited with the freeze: %+v", log)
	}
	// rollbacks: false refuses rollbacks too.
	h.freezes = []pipeline.Freeze{{Name: "total", Envs: []string{"demo/*"}, From: h.clock.Now(), Until: h.clock.Now().Add(time.Hour), NoRollbacks: true}}
	h.restart()
	if _, err := h.engine.Rollback(ctx, alice, "demo", "prod", "", false); !errors.As(err, &frozen) {
		t.Fatalf("a rollback in a window without rollbacks: %v", err)
	}
}
