package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// twoBatches is prod rolled out in a canary and the rest, with a bake
// between them.
func twoBatches(p *pipeline.Project) {
	p.Envs[1].Strategy = pipeline.Strategy{
		Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 100}},
		Bake:    5 * time.Minute, Continue: pipeline.ContinueAuto,
	}
}

// TestReconfigureKeepsARunningDeploysPlan: a reload while a deploy bakes
// changes neither its batches nor its bake; the deploy asked for after it
// rolls out as the new configuration says.
func TestReconfigureKeepsARunningDeploysPlan(t *testing.T) {
	h := newHarness(t, twoBatches)
	d := h.request(alice, "prod", "v1.0.0")
	h.approve(bob, d.ID)
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.clock.BlockUntilContext(waitCtx, 1); err != nil { // the canary bakes
		t.Fatal(err)
	}
	p := demoProject()
	p.Envs[1].Strategy = pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Count: 2}, {Count: 3}, {Percent: 100}}, Continue: pipeline.ContinueAuto}
	if err := h.engine.Reconfigure([]pipeline.Project{p}, nil); err != nil {
		t.Fatal(err)
	}
	if got := h.engine.Projects()[0].Envs[1].Strategy.Batches; len(got) != 4 {
		t.Fatalf("the engine's projects after the reload: batches %v", got)
	}
	h.clock.Advance(5 * time.Minute)
	d = h.wait(d.ID, pipeline.StateSucceeded)
	units := h.units(d.ID)
	if d.Batches != 2 || units["p1"].Batch != 0 || units["p2"].Batch != 1 || units["p4"].Batch != 1 {
		t.Errorf("the deploy started before the reload: %d batches, units %+v", d.Batches, units)
	}

	next := h.request(alice, "prod", "v1.1.0") // no bake now: it runs to its end
	h.approve(bob, next.ID)
	next = h.wait(next.ID, pipeline.StateSucceeded)
	units = h.units(next.ID)
	if next.Batches != 4 || units["p2"].Batch != 1 || units["p3"].Batch != 2 || units["p4"].Batch != 3 {
		t.Errorf("the deploy asked for after the reload: %d batches, units %+v", next.Batches, units)
	}
}

// TestReconfigureRemovingAProjectLetsItsDeployFinish: a deploy paused at
// its manual gate when a reload removes its project may still be
// continued, and finishes on the target and with the strategy it started
// with; the project itself takes no new deploys.
func TestReconfigureRemovingAProjectLetsItsDeployFinish(t *testing.T) {
	h := newHarness(t, twoBatches, func(p *pipeline.Project) {
		p.Envs[1].Strategy.Continue = pipeline.ContinueManual
		p.Envs[1].Strategy.Bake = 0
	})
	d := h.request(alice, "prod", "v1.0.0")
	h.approve(bob, d.ID)
	h.wait(d.ID, pipeline.StatePaused)
	other := demoProject()
	other.Name = "other"
	if err := h.engine.Reconfigure([]pipeline.Project{other}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.Request(ctx, alice, pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.1.0"}); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("a deploy of the removed project: %v", err)
	}
	if _, err := h.engine.Continue(ctx, eve, d.ID); !errors.Is(err, pipeline.ErrForbidden) {
		t.Errorf("continue by an outsider: %v", err)
	}
	if _, err := h.engine.Continue(ctx, bob, d.ID); err != nil {
		t.Fatal(err)
	}
	d = h.wait(d.ID, pipeline.StateSucceeded)
	if d.Batches != 2 || d.Reason != "4 of 4 units updated" {
		t.Errorf("the deploy of the removed project: %d batches, %q", d.Batches, d.Reason)
	}
	for u, rel := range h.targets["prod"].Current() {
		if rel != d.Release {
			t.Errorf("%s runs %q, want %s", u, rel, d.Release)
		}
	}
	board, err := h.engine.Board(ctx, "")
	if err != nil || len(board) != 2 || board[0].Project != "other" {
		t.Errorf("the board after the reload: %v %+v", err, board)
	}
}

func TestReconfigureRefusesATwiceDefinedProject(t *testing.T) {
	h := newHarness(t)
	if err := h.engine.Reconfigure([]pipeline.Project{demoProject(), demoProject()}, nil); err == nil {
		t.Fatal("a project defined twice was taken")
	}
	if ps := h.engine.Projects(); len(ps) != 1 || ps[0].Name != "demo" {
		t.Errorf("the projects after a refused reload: %+v", ps)
	}
}
