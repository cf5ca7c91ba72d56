package pipeline_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
)

// TestOneLeader: of two replicas one leads; when it pauses past its
// lease, the other leads and catches up, and the old one, waking, knows
// it no longer leads; when the leader stops, the other leads at its next
// try.
func TestOneLeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.db")
	clock := clockwork.NewFakeClockAt(t0)
	ttl := 30 * time.Second
	type member struct {
		store *paused
		el    *pipeline.Elector
		led   atomic.Int32
		stop  context.CancelFunc
		done  chan error
	}
	join := func(name string) *member {
		st, err := storage.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		m := &member{store: &paused{Store: st}, done: make(chan error, 1)}
		m.el = pipeline.NewElector(m.store, name, ttl, clock, nil)
		m.el.OnLead(func(context.Context) { m.led.Add(1) })
		ctx, cancel := context.WithCancel(context.Background())
		m.stop = cancel
		go func() { m.done <- m.el.Run(ctx) }()
		t.Cleanup(func() { m.store.resume(); cancel(); <-m.done; st.Close() })
		return m
	}
	a := join("a")
	eventually(t, a.el.Leading, "a leads")
	b := join("b")
	// Both wait for their next try: b has tried and lost.
	waitTimers(t, clock, 2)
	if b.el.Leading() || b.led.Load() != 0 {
		t.Fatal("b leads beside a")
	}
	if err := b.el.IsLeader(context.Background()); err == nil {
		t.Fatal("b's IsLeader says it leads")
	}

	a.store.pause() // a's next renewal hangs
	clock.Advance(ttl / 3)
	waitTimers(t, clock, 1) // b tried again (a's lease holds) and waits
	if !a.el.Leading() || b.el.Leading() {
		t.Fatal("a lost the lead before its lease expired")
	}
	clock.Advance(ttl)
	if a.el.Leading() {
		t.Fatal("a still leads with an expired lease")
	}
	eventually(t, b.el.Leading, "b leads once a's lease expired")
	if b.led.Load() != 1 {
		t.Fatalf("b caught up %d times on becoming the leader, want 1", b.led.Load())
	}
	a.store.resume()
	waitTimers(t, clock, 2)
	if a.el.Leading() || a.led.Load() != 1 {
		t.Fatalf("a, waking, leads: %v (led %d times)", a.el.Leading(), a.led.Load())
	}

	b.stop() // b stops and gives the lease up
	if err := <-b.done; err != nil {
		t.Fatal(err)
	}
	b.done <- nil
	clock.Advance(ttl / 3)
	eventually(t, a.el.Leading, "a leads once b stopped")
}

// waitTimers waits until n goroutines wait on the fake clock.
func waitTimers(t *testing.T, clock *clockwork.FakeClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d timers: %v", n, err)
	}
}
