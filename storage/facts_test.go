package storage

import (
	"context"
	"testing"
	"time"

	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

func TestFacts(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	// walk stores a deploy of project that started at start and moves it
	// through states, a minute apart.
	walk := func(project string, start time.Time, states ...pipeline.State) int64 {
		d := pipeline.Deploy{Project: project, Env: "prod", Kind: pipeline.KindDeploy, Requester: "alice", CommittedAt: start.Add(-time.Hour)}
		must(t, s.CreateDeploy(ctx, &d))
		from, at := pipeline.StateRequested, start
		for _, to := range states {
			_, err := s.Transition(ctx, pipeline.Transition{DeployID: d.ID, From: from, To: to, At: at}, func(x *pipeline.Deploy) {
				if to == pipeline.StateRunning {
					x.StartedAt = at
				}
				if to.Done() {
					x.FinishedAt = at
				}
			})
			must(t, err)
			from, at = to, at.Add(time.Minute)
		}
		return d.ID
	}
	ok := walk("api", t0, pipeline.StateQueued, pipeline.StateRunning, pipeline.StateSucceeded)
	back := walk("api", t0.Add(time.Hour), pipeline.StateQueued, pipeline.StateRunning, pipeline.StateFailed, pipeline.StateRollingBack, pipeline.StateRolledBack)
	walk("web", t0.Add(2*time.Hour), pipeline.StateQueued, pipeline.StateRunning)
	walk("api", t0.Add(48*time.Hour), pipeline.StateQueued, pipeline.StateRunning) // after the range
	walk("api", t0, pipeline.StateDenied)                                          // never started

	fs, err := s.Facts(ctx, dashboards.Query{From: t0, To: t0.Add(24 * time.Hour)})
	if err != nil || len(fs) != 3 {
		t.Fatalf("Facts of a day = %+v, %v; want 3 deploys", fs, err)
	}
	byID := map[int64]dashboards.Fact{}
	for _, f := range fs {
		byID[f.ID] = f
	}
	f := byID[ok]
	if f.State != pipeline.StateSucceeded || !f.StartedAt.Equal(t0.Add(time.Minute)) || !f.FinishedAt.Equal(t0.Add(2*time.Minute)) ||
		!f.CommittedAt.Equal(t0.Add(-time.Hour)) || !f.FailedAt.IsZero() || f.Requester != "alice" || f.Kind != pipeline.KindDeploy {
		t.Errorf("the succeeded deploy = %+v", f)
	}
	// Failed at +3m, rolling back at +4m, rolled back at +5m.
	if f := byID[back]; !f.FailedAt.Equal(t0.Add(time.Hour+2*time.Minute)) || !f.FinishedAt.Equal(t0.Add(time.Hour+4*time.Minute)) {
		t.Errorf("the rolled back deploy = %+v; want FailedAt at its failure, FinishedAt at the rollback's end", f)
	}
	fs, err = s.Facts(ctx, dashboards.Query{From: t0, To: t0.Add(24 * time.Hour), Project: "web"})
	if err != nil || len(fs) != 1 || fs[0].Project != "web" {
		t.Fatalf("Facts of web = %+v, %v", fs, err)
	}
}
