package storage

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

func TestLeases(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ttl := 10 * time.Second
	a, err := s.AcquireLease(ctx, "deploy/1", "a", t0, ttl)
	if err != nil || a.Generation != 1 || !a.Expires.Equal(t0.Add(ttl)) {
		t.Fatalf("first acquire = %+v, %v; want generation 1 until t0+10s", a, err)
	}
	if _, err := s.AcquireLease(ctx, "deploy/1", "b", t0.Add(9*time.Second), ttl); !errors.Is(err, pipeline.ErrConflict) {
		t.Fatalf("acquire of a held lease = %v, want ErrConflict", err)
	}
	if again, err := s.AcquireLease(ctx, "deploy/1", "a", t0.Add(time.Second), ttl); err != nil || again.Generation != 1 {
		t.Fatalf("acquire by its holder = %+v, %v; want it renewed at generation 1", again, err)
	}
	if a, err = s.RenewLease(ctx, a, t0.Add(5*time.Second), ttl); err != nil || !a.Expires.Equal(t0.Add(15*time.Second)) {
		t.Fatalf("renew = %+v, %v", a, err)
	}
	// a stops renewing; once it expired, b takes it at the next generation.
	b, err := s.AcquireLease(ctx, "deploy/1", "b", t0.Add(15*time.Second), ttl)
	if err != nil || b.Generation != 2 || b.Owner != "b" {
		t.Fatalf("takeover = %+v, %v; want b at generation 2", b, err)
	}
	if _, err := s.RenewLease(ctx, a, t0.Add(16*time.Second), ttl); !errors.Is(err, pipeline.ErrFenced) {
		t.Fatalf("renew by the old holder = %v, want ErrFenced", err)
	}
	must(t, s.ReleaseLease(ctx, a)) // moved on: changes nothing
	if _, err := s.AcquireLease(ctx, "deploy/1", "c", t0.Add(16*time.Second), ttl); !errors.Is(err, pipeline.ErrConflict) {
		t.Fatalf("the old holder's release freed b's lease: %v", err)
	}
	must(t, s.ReleaseLease(ctx, b))
	c, err := s.AcquireLease(ctx, "deploy/1", "c", t0.Add(16*time.Second), ttl)
	if err != nil || c.Generation != 3 {
		t.Fatalf("acquire after release = %+v, %v; want generation 3", c, err)
	}
	must(t, s.ReleaseLeases(ctx))
	ls, err := s.Leases(ctx)
	if err != nil || len(ls) != 1 || ls[0].Expires.After(t0) || ls[0].Generation != 3 {
		t.Fatalf("Leases after ReleaseLeases = %+v, %v", ls, err)
	}
	// The deploy is over for good: its lease is forgotten, and a write
	// fenced by it refused.
	d, err := s.AcquireLease(ctx, "deploy/1", "d", t0.Add(17*time.Second), ttl)
	must(t, err)
	must(t, s.EndLease(ctx, c)) // moved on: changes nothing
	must(t, s.EndLease(ctx, d))
	if ls, err := s.Leases(ctx); err != nil || len(ls) != 0 {
		t.Fatalf("Leases after EndLease = %+v, %v", ls, err)
	}
	fenced := pipeline.WithFence(ctx, pipeline.Fence{Lease: d.Name, Generation: d.Generation})
	if err := s.AppendLog(fenced, pipeline.LogEntry{DeployID: newDeploy(t, s), Text: "late", At: t0}); !errors.Is(err, pipeline.ErrFenced) {
		t.Fatalf("a write under an ended lease = %v, want ErrFenced", err)
	}
}

// TestFencedWrites: every journal write and transition made under a lease
// that has moved on fails with ErrFenced and changes nothing.
func TestFencedWrites(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := newDeploy(t, s)
	_, err := s.Transition(ctx, pipeline.Transition{DeployID: id, From: pipeline.StateRequested, To: pipeline.StateRunning, Event: pipeline.EventStart}, nil)
	must(t, err)
	name := "deploy/under-test"
	old, err := s.AcquireLease(ctx, name, "a", t0, time.Second)
	must(t, err)
	stale := pipeline.WithFence(ctx, pipeline.Fence{Lease: name, Generation: old.Generation})
	must(t, s.PutUnit(stale, pipeline.Unit{DeployID: id, Name: "web1", State: pipeline.UnitRunning})) // still held
	cur, err := s.AcquireLease(ctx, name, "b", t0.Add(2*time.Second), time.Second)
	must(t, err)
	fresh := pipeline.WithFence(ctx, pipeline.Fence{Lease: name, Generation: cur.Generation})

	writes := map[string]func(context.Context) error{
		"PutUnit": func(ctx context.Context) error {
			return s.PutUnit(ctx, pipeline.Unit{DeployID: id, Name: "web1", State: pipeline.UnitDone})
		},
		"AppendLog": func(ctx context.Context) error {
			return s.AppendLog(ctx, pipeline.LogEntry{DeployID: id, Unit: "web1", Step: "switch", Text: "ok", At: t0})
		},
		"PutUnitRelease": func(ctx context.Context) error {
			return s.PutUnitRelease(ctx, pipeline.UnitRelease{Project: "api", Env: "prod", Unit: "web1", Release: "7", DeployID: id, Updated: t0})
		},
		"SetProgress": func(ctx context.Context) error { return s.SetProgress(ctx, id, 1, 2, time.Time{}) },
		"SetReason":   func(ctx context.Context) error { return s.SetReason(ctx, id, pipeline.StateRunning, "why") },
		"AddNotices": func(ctx context.Context) error {
			return s.AddNotices(ctx, []pipeline.Notice{{Platform: "slack", Dest: "C1", Kind: "card", DeployID: id}})
		},
		"Transition": func(ctx context.Context) error {
			_, err := s.Transition(ctx, pipeline.Transition{DeployID: id, From: pipeline.StateRunning, To: pipeline.StateSucceeded, Event: pipeline.EventSucceed}, nil)
			return err
		},
	}
	for what, write := range writes {
		if err := write(stale); !errors.Is(err, pipeline.ErrFenced) {
			t.Errorf("%s under the old generation = %v, want ErrFenced", what, err)
		}
	}
	units, err := s.Units(ctx, id)
	must(t, err)
	logs, err := s.Logs(ctx, id, 0)
	must(t, err)
	rels, err := s.UnitReleases(ctx, "api", "prod")
	must(t, err)
	got, err := s.Deploy(ctx, id)
	must(t, err)
	notices, err := s.Notices(ctx, pipeline.NoticeFilter{})
	must(t, err)
	if len(units) != 1 || units[0].State != pipeline.UnitRunning || len(logs) != 0 || len(rels) != 0 ||
		got.State != pipeline.StateRunning || got.Batch != 0 || got.Reason != "" || len(notices) != 0 {
		t.Fatalf("fenced writes changed the store: units %+v, logs %d, releases %d, deploy %s batch %d reason %q, notices %d",
			units, len(logs), len(rels), got.State, got.Batch, got.Reason, len(notices))
	}
	for _, what := range []string{"PutUnit", "AppendLog", "PutUnitRelease", "SetProgress", "SetReason", "AddNotices", "Transition"} {
		if err := writes[what](fresh); err != nil {
			t.Errorf("%s under the current generation: %v", what, err)
		}
	}
}

// TestLeaseTakenOnce: replicas racing for one expired lease, one wins.
func TestLeaseTakenOnce(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	const n = 8
	var wg sync.WaitGroup
	won := make(chan pipeline.Lease, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l, err := s.AcquireLease(ctx, pipeline.LeaderLease, string(rune('a'+i)), t0, time.Minute); err == nil {
				won <- l
			} else if !errors.Is(err, pipeline.ErrConflict) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(won)
	if len(won) != 1 {
		t.Fatalf("%d replicas took the lease, want 1", len(won))
	}
}
