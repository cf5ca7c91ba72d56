package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

// paused is a replica's store whose lease renewals wait while the
// replica is "paused" (a SIGSTOP, a long GC pause, a partition): its
// workers go on, but it cannot renew.
type paused struct {
	*storage.Store
	mu   sync.Mutex
	wake chan struct{} // non-nil while paused
}

func (p *paused) pause() {
	p.mu.Lock()
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

func (p *paused) resume() {
	p.mu.Lock()
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
	p.mu.Unlock()
}

func (p *paused) RenewLease(ctx context.Context, l pipeline.Lease, now time.Time, ttl time.Duration) (pipeline.Lease, error) {
	p.mu.Lock()
	wake := p.wake
	p.mu.Unlock()
	if wake != nil {
		<-wake
	}
	return p.Store.RenewLease(ctx, l, now, ttl)
}

// replica runs an engine on its own store of a shared database file.
type replica struct {
	store  *paused
	engine *pipeline.Engine
	target *pipelinetest.Target
}

func startReplica(t *testing.T, path, name string, clock pipeline.Clock, ttl time.Duration) *replica {
	t.Helper()
	st, err := storage.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{store: &paused{Store: st}, target: pipelinetest.NewTarget("s1", "s2")}
	r.engine, err = pipeline.New(pipeline.Config{
		Store:    r.store,
		Projects: []pipeline.Project{demoProject()},
		Target: func(pipeline.Project, pipeline.Environment) (pipeline.Target, error) {
			return r.target, nil
		},
		Resolver: refs, Clock: clock, Owner: name, LeaseTTL: ttl,
		Tick: 10 * time.Millisecond, // sweeps and renewals, in real time
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.engine.Run(ctx); close(done) }()
	t.Cleanup(func() {
		r.store.resume()
		cancel()
		<-done
		st.Close()
	})
	return r
}

// TestReplicaTakesOverAndFencesTheOld: replica a drives a deploy, then
// pauses in the middle of an install; once its lease expired, replica b
// takes it over and finishes the deploy from the journal. When a wakes,
// every write it tries is refused, and it stops.
func TestReplicaTakesOverAndFencesTheOld(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	clock := clockwork.NewFakeClockAt(t0)
	ttl := time.Minute
	a := startReplica(t, path, "a", clock, ttl)
	hold, started := make(chan struct{}), make(chan string, 2)
	a.target.Set(func(t *pipelinetest.Target) { t.Hold, t.Started = hold, started })
	d, err := a.engine.Request(ctx, alice, pipeline.Request{Project: "demo", Env: "staging", Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	a.store.pause()
	b := startReplica(t, path, "b", clock, ttl)
	waitLease(t, b.store.Store, "deploy/1", "a")
	clock.Advance(ttl + time.Second)
	waitState(t, b.store.Store, d.ID, pipeline.StateSucceeded)
	if got := b.target.Current(); got["s1"] != "1" || got["s2"] != "1" {
		t.Fatalf("b left the units at %v, want release 1 on both", got)
	}
	before := snapshot(t, b.store.Store, d.ID)

	close(hold) // a wakes and finishes its install
	a.store.resume()
	waitIdle(t, a.engine, d.ID)
	if after := snapshot(t, b.store.Store, d.ID); after != before {
		t.Fatalf("the paused replica wrote after it lost its lease:\nbefore %s\nafter  %s", before, after)
	}
	if a.target.Installs("s1")+a.target.Installs("s2") == 0 {
		t.Fatal("replica a never ran its install: the test did not pause it in the middle")
	}
}

func waitLease(t *testing.T, st *storage.Store, name, owner string) {
	t.Helper()
	eventually(t, func() bool {
		ls, err := st.Leases(context.Background())
		return err == nil && len(ls) > 0 && ls[0].Name == name && ls[0].Owner == owner
	}, "lease %s held by %s", name, owner)
}

func waitState(t *testing.T, st *storage.Store, id int64, want pipeline.State) {
	t.Helper()
	eventually(t, func() bool {
		d, err := st.Deploy(context.Background(), id)
		return err == nil && d.State == want
	}, "deploy %d %s", id, want)
}

// waitIdle waits until the engine has no worker left for deploy id.
func waitIdle(t *testing.T, e *pipeline.Engine, id int64) {
	t.Helper()
	eventually(t, func() bool { return !e.Working(id) }, "replica stops working on deploy %d", id)
}

// eventually polls cond for up to 10 s of real time.
func eventually(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+what, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// snapshot is what the store holds of a deploy: state, transitions,
// units, logs and releases.
func snapshot(t *testing.T, st *storage.Store, id int64) string {
	t.Helper()
	ctx := context.Background()
	d, err1 := st.Deploy(ctx, id)
	ts, err2 := st.Transitions(ctx, id)
	us, err3 := st.Units(ctx, id)
	ls, err4 := st.Logs(ctx, id, 0)
	rs, err5 := st.UnitReleases(ctx, d.Project, d.Env)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(string(d.State))
	for _, x := range ts {
		b.WriteString(" " + string(x.To))
	}
	for _, u := range us {
		b.WriteString(" " + u.Name + ":" + string(u.State))
	}
	for _, r := range rs {
		b.WriteString(" " + r.Unit + "@" + r.Release)
	}
	fmt.Fprintf(&b, " logs:%d updated:%s", len(ls), d.UpdatedAt)
	return b.String()
}
