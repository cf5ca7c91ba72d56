package storage

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

func TestDeployRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	at := time.Date(2026, 3, 1, 10, 30, 0, 123456789, time.UTC)
	d := pipeline.Deploy{
		Project: "api", Env: "prod", Kind: pipeline.KindRollback,
		Ref: "main", Commit: "0123456789abcdef0123456789abcdef01234567", Version: "main@0123456",
		Release: "41", PreviousVersion: "v1.1.0", PreviousRelease: "40",
		Requester: "alice", Reason: "bad release", Force: true,
		Batch: 2, Batches: 4, ApprovalsRequired: 2,
		ApprovalDeadline: at, BakeUntil: at.Add(time.Minute), StartedAt: at.Add(-time.Hour), CommittedAt: at.Add(-3 * time.Hour),
		// FinishedAt zero: not finished.
	}
	in := d
	must(t, s.CreateDeploy(ctx, &d))
	if d.ID == 0 || d.State != pipeline.StateRequested || d.CreatedAt.IsZero() || !d.UpdatedAt.Equal(d.CreatedAt) {
		t.Fatalf("CreateDeploy set ID %d, State %q, CreatedAt %v, UpdatedAt %v", d.ID, d.State, d.CreatedAt, d.UpdatedAt)
	}
	got, err := s.Deploy(ctx, d.ID)
	if err != nil || !reflect.DeepEqual(got, d) {
		t.Fatalf("Deploy = %+v, %v\nwant %+v", got, err, d)
	}
	if !got.FinishedAt.IsZero() {
		t.Errorf("FinishedAt = %v, want the zero time", got.FinishedAt)
	}
	in.ID, in.State, in.CreatedAt, in.UpdatedAt = d.ID, d.State, d.CreatedAt, d.UpdatedAt
	if !reflect.DeepEqual(d, in) {
		t.Errorf("CreateDeploy changed more than ID, State and times:\n got %+v\nwant %+v", d, in)
	}
}

func TestDeployTimesComeBackInUTC(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	shanghai := time.FixedZone("CST", 8*60*60)
	at := time.Date(2026, 3, 1, 18, 0, 0, 1, shanghai)
	d := pipeline.Deploy{Project: "api", Env: "prod", StartedAt: at}
	must(t, s.CreateDeploy(ctx, &d))
	got, err := s.Deploy(ctx, d.ID)
	must(t, err)
	if !got.StartedAt.Equal(at) || got.StartedAt.Location() != time.UTC {
		t.Errorf("StartedAt = %v, want %v in UTC", got.StartedAt, at)
	}
}

func TestTimeOutOfRange(t *testing.T) {
	s := openTest(t)
	d := pipeline.Deploy{Project: "api", Env: "prod", ApprovalDeadline: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
	err := s.CreateDeploy(context.Background(), &d)
	if !errors.Is(err, pipeline.ErrInvalid) || d.ID != 0 {
		t.Fatalf("CreateDeploy with a deadline in 9999 = %v, ID %d; want an error wrapping ErrInvalid", err, d.ID)
	}
}

func TestCreateDeployInAnotherState(t *testing.T) {
	s := openTest(t)
	d := pipeline.Deploy{Project: "api", Env: "prod", State: pipeline.StateRunning}
	if err := s.CreateDeploy(context.Background(), &d); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("CreateDeploy of a running deploy = %v; want an error wrapping ErrInvalid", err)
	}
}

func TestDeployNotFound(t *testing.T) {
	s := openTest(t)
	_, err := s.Deploy(context.Background(), 12)
	if !errors.Is(err, pipeline.ErrNotFound) || err.Error() != "deploy 12 not found" {
		t.Fatalf("Deploy(12) = %v; want deploy 12 not found", err)
	}
}

func TestTransition(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	d := pipeline.Deploy{Project: "api", Env: "prod"}
	must(t, s.CreateDeploy(ctx, &d))
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	tr := pipeline.Transition{DeployID: d.ID, From: pipeline.StateRequested, To: pipeline.StateQueued,
		Event: pipeline.EventEnqueue, Actor: "ferry", Reason: "no approvals needed"}
	got, err := s.Transition(ctx, tr, func(d *pipeline.Deploy) {
		d.Reason = "queued behind 3"
		d.StartedAt = started
		d.ID, d.CreatedAt = 99, time.Time{} // not the update's to change
		d.State = pipeline.StateFailed      // overridden by To
	})
	must(t, err)
	if got.ID != d.ID || !got.CreatedAt.Equal(d.CreatedAt) || got.State != pipeline.StateQueued ||
		got.Reason != "queued behind 3" || !got.StartedAt.Equal(started) || !got.UpdatedAt.After(d.UpdatedAt) {
		t.Fatalf("Transition returned %+v", got)
	}
	stored, err := s.Deploy(ctx, d.ID)
	if err != nil || !reflect.DeepEqual(stored, got) {
		t.Fatalf("stored deploy = %+v, %v\nwant what Transition returned %+v", stored, err, got)
	}

	at := time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)
	tr2 := pipeline.Transition{DeployID: d.ID, From: pipeline.StateQueued, To: pipeline.StateRunning, Event: pipeline.EventStart, At: at}
	running, err := s.Transition(ctx, tr2, nil)
	must(t, err)
	if !running.UpdatedAt.Equal(at) {
		t.Errorf("UpdatedAt = %v, want the transition's At %v", running.UpdatedAt, at)
	}

	ts, err := s.Transitions(ctx, d.ID)
	must(t, err)
	tr.At = got.UpdatedAt // a zero At is now
	if want := []pipeline.Transition{tr, tr2}; !reflect.DeepEqual(ts, want) {
		t.Fatalf("Transitions = %+v\nwant %+v", ts, want)
	}
}

func TestTransitionConflict(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	d := pipeline.Deploy{Project: "api", Env: "prod"}
	must(t, s.CreateDeploy(ctx, &d))

	called := false
	tr := pipeline.Transition{DeployID: d.ID, From: pipeline.StateQueued, To: pipeline.StateRunning}
	_, err := s.Transition(ctx, tr, func(*pipeline.Deploy) { called = true })
	if !errors.Is(err, pipeline.ErrConflict) || !strings.Contains(err.Error(), "deploy 1 is requested, not queued") {
		t.Fatalf("Transition from the wrong state = %v; want a conflict", err)
	}
	if called {
		t.Error("Transition called update on a conflict")
	}
	if got, err := s.Deploy(ctx, d.ID); err != nil || !reflect.DeepEqual(got, d) {
		t.Errorf("after a conflict the deploy is %+v, %v; want it unchanged", got, err)
	}
	if ts, err := s.Transitions(ctx, d.ID); err != nil || len(ts) != 0 {
		t.Errorf("after a conflict Transitions = %v, %v; want none", ts, err)
	}

	_, err = s.Transition(ctx, pipeline.Transition{DeployID: 77, From: pipeline.StateRequested, To: pipeline.StateQueued}, nil)
	if !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("Transition of a missing deploy = %v; want an error wrapping ErrNotFound", err)
	}
}

// TestConcurrentTransitions races 20 goroutines on every step of a deploy's
// life: each step has exactly one winner, and every loser sees a conflict,
// never SQLITE_BUSY.
func TestConcurrentTransitions(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	d := pipeline.Deploy{Project: "api", Env: "prod"}
	must(t, s.CreateDeploy(ctx, &d))
	path := []pipeline.State{
		pipeline.StateRequested, pipeline.StateAwaitingApproval, pipeline.StateQueued,
		pipeline.StateRunning, pipeline.StatePaused, pipeline.StateRunning, pipeline.StateSucceeded,
	}
	const racers = 20
	for i := 1; i < len(path); i++ {
		tr := pipeline.Transition{DeployID: d.ID, From: path[i-1], To: path[i]}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, racers)
		for r := range racers {
			wg.Go(func() {
				<-start
				_, errs[r] = s.Transition(ctx, tr, func(d *pipeline.Deploy) { d.Batch++ })
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, pipeline.ErrConflict):
				t.Errorf("%s → %s: %v; want a conflict", tr.From, tr.To, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%s → %s: %d winners, want 1", tr.From, tr.To, wins)
		}
	}
	got, err := s.Deploy(ctx, d.ID)
	must(t, err)
	if got.State != pipeline.StateSucceeded || got.Batch != len(path)-1 {
		t.Errorf("deploy ends %s with %d updates; want succeeded with %d", got.State, got.Batch, len(path)-1)
	}
	if ts, err := s.Transitions(ctx, d.ID); err != nil || len(ts) != len(path)-1 {
		t.Errorf("%d transitions stored, %v; want %d", len(ts), err, len(path)-1)
	}
}

func TestDeploysFilter(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	n := 0
	create := func(project, env string, to ...pipeline.State) int64 {
		n++
		at := time.Date(2026, 11, 2, 10+n, 0, 0, 0, time.UTC) // deploy n is requested at 10+n:00
		s.Now = func() time.Time { return at }
		d := pipeline.Deploy{Project: project, Env: env, Requester: map[string]string{"api": "alice", "web": "bob"}[project]}
		must(t, s.CreateDeploy(ctx, &d))
		from := d.State
		for _, st := range to {
			_, err := s.Transition(ctx, pipeline.Transition{DeployID: d.ID, From: from, To: st}, nil)
			must(t, err)
			from = st
		}
		return d.ID
	}
	apiProd := create("api", "prod", pipeline.StateQueued, pipeline.StateRunning) // 1
	apiProd2 := create("api", "prod", pipeline.StateQueued)                       // 2
	apiStaging := create("api", "staging")                                        // 3
	webProd := create("web", "prod", pipeline.StateQueued, pipeline.StateRunning) // 4
	apiProd3 := create("api", "prod", pipeline.StateDenied)                       // 5

	tests := []struct {
		name string
		f    pipeline.DeployFilter
		want []int64
	}{
		{"all, newest first", pipeline.DeployFilter{}, []int64{apiProd3, webProd, apiStaging, apiProd2, apiProd}},
		{"oldest first", pipeline.DeployFilter{Oldest: true}, []int64{apiProd, apiProd2, apiStaging, webProd, apiProd3}},
		{"limit", pipeline.DeployFilter{Limit: 2}, []int64{apiProd3, webProd}},
		{"oldest, limit", pipeline.DeployFilter{Oldest: true, Limit: 2}, []int64{apiProd, apiProd2}},
		{"project", pipeline.DeployFilter{Project: "api"}, []int64{apiProd3, apiStaging, apiProd2, apiProd}},
		{"env", pipeline.DeployFilter{Env: "prod"}, []int64{apiProd3, webProd, apiProd2, apiProd}},
		{"project and env", pipeline.DeployFilter{Project: "api", Env: "prod"}, []int64{apiProd3, apiProd2, apiProd}},
		{"state", pipeline.DeployFilter{States: []pipeline.State{pipeline.StateRunning}}, []int64{webProd, apiProd}},
		{"states", pipeline.DeployFilter{Project: "api", States: []pipeline.State{pipeline.StateQueued, pipeline.StateRequested}}, []int64{apiStaging, apiProd2}},
		{"none", pipeline.DeployFilter{Project: "db"}, nil},
		{"requester", pipeline.DeployFilter{Requester: "bob"}, []int64{webProd}},
		{"requested since", pipeline.DeployFilter{Since: time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC)}, []int64{apiProd3, webProd, apiStaging}},
		{"requested in", pipeline.DeployFilter{Since: time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC)}, []int64{apiStaging, apiProd2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := s.Deploys(ctx, tt.f)
			must(t, err)
			var ids []int64
			for _, d := range ds {
				ids = append(ids, d.ID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("Deploys(%+v) = %v, want %v", tt.f, ids, tt.want)
			}
		})
	}
	if _, err := s.Deploys(ctx, pipeline.DeployFilter{Limit: -1}); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("Deploys with a negative limit = %v; want an error wrapping ErrInvalid", err)
	}
	if n, err := s.CountDeploys(ctx); err != nil || n != 5 {
		t.Errorf("CountDeploys = %d, %v; want 5", n, err)
	}
}

func TestSetProgress(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	d := pipeline.Deploy{Project: "api", Env: "prod"}
	must(t, s.CreateDeploy(ctx, &d))
	bake := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	must(t, s.SetProgress(ctx, d.ID, 1, 4, bake))
	got, err := s.Deploy(ctx, d.ID)
	must(t, err)
	if got.Batch != 1 || got.Batches != 4 || !got.BakeUntil.Equal(bake) || !got.UpdatedAt.After(d.UpdatedAt) {
		t.Errorf("after SetProgress: batch %d/%d, bake until %v, updated %v", got.Batch, got.Batches, got.BakeUntil, got.UpdatedAt)
	}
	must(t, s.SetProgress(ctx, d.ID, 2, 4, time.Time{}))
	if got, _ := s.Deploy(ctx, d.ID); !got.BakeUntil.IsZero() {
		t.Errorf("BakeUntil = %v after clearing it", got.BakeUntil)
	}
	if err := s.SetProgress(ctx, 99, 0, 1, time.Time{}); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("SetProgress of a missing deploy = %v; want an error wrapping ErrNotFound", err)
	}
}

func BenchmarkCreateAndTransition(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	s.Now = time.Now
	for b.Loop() {
		d := pipeline.Deploy{Project: "api", Env: "prod", Kind: pipeline.KindDeploy, Ref: "main"}
		if err := s.CreateDeploy(ctx, &d); err != nil {
			b.Fatal(err)
		}
		tr := pipeline.Transition{DeployID: d.ID, From: pipeline.StateRequested, To: pipeline.StateQueued, Event: pipeline.EventEnqueue}
		if _, err := s.Transition(ctx, tr, func(d *pipeline.Deploy) { d.Reason = "queued" }); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDeployStrategy stores a deploy's own strategy once, when it is
// created, and reads it back after transitions, which cannot change it.
func TestDeployStrategy(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	plain := pipeline.Deploy{Project: "api", Env: "prod", Kind: pipeline.KindDeploy}
	must(t, s.CreateDeploy(ctx, &plain))
	if got, err := s.Deploy(ctx, plain.ID); err != nil || got.Strategy != nil {
		t.Fatalf("a deploy without a strategy reads back %+v, %v", got.Strategy, err)
	}
	own := pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 12.5}, {Percent: 100}},
		Bake: 90 * time.Second, Continue: pipeline.ContinueManual, MaxFailedUnits: 2, AutoRollback: true, Parallel: 3}
	d := pipeline.Deploy{Project: "api", Env: "prod", Kind: pipeline.KindDeploy, Strategy: &own}
	must(t, s.CreateDeploy(ctx, &d))
	_, err := s.Transition(ctx, pipeline.Transition{DeployID: d.ID, From: pipeline.StateRequested, To: pipeline.StateQueued},
		func(x *pipeline.Deploy) { x.Strategy = nil })
	must(t, err)
	got, err := s.Deploy(ctx, d.ID)
	if err != nil || got.Strategy == nil || !reflect.DeepEqual(*got.Strategy, own) {
		t.Fatalf("strategy = %+v, %v; want %+v", got.Strategy, err, own)
	}
}
