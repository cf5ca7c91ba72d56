package dashboards

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
)

// memLedger is a Ledger in memory.
type memLedger struct {
	mu   sync.Mutex
	rows map[string]Sending // name\x00scheduled → sending
}

func newLedger() *memLedger { return &memLedger{rows: map[string]Sending{}} }

func (l *memLedger) ClaimDigest(_ context.Context, s Sending, now time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := s.Name + "\x00" + s.Scheduled.UTC().String()
	if _, ok := l.rows[k]; ok {
		return false, nil
	}
	s.ClaimedAt = now
	l.rows[k] = s
	return true, nil
}

func (l *memLedger) DigestSent(_ context.Context, name string, scheduled, _ time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := name + "\x00" + scheduled.UTC().String()
	s := l.rows[k]
	s.Sent = true
	l.rows[k] = s
	return nil
}

func (l *memLedger) LastDigest(_ context.Context, name string) (Sending, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last Sending
	ok := false
	for _, s := range l.rows {
		if s.Name == name && (!ok || s.Scheduled.After(last.Scheduled)) {
			last, ok = s, true
		}
	}
	return last, ok, nil
}

// poster records the digests it is given.
type poster chan Digest

func (p poster) PostDigest(_ context.Context, _ string, g Digest, chart []byte) error {
	p <- g
	return nil
}

func (p poster) next(t *testing.T) Digest {
	t.Helper()
	select {
	case g := <-p:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no digest was posted")
	}
	return Digest{}
}

func (p poster) none(t *testing.T) {
	t.Helper()
	select {
	case g := <-p:
		t.Fatalf("a digest was posted: %s scheduled %v", g.Title(), g.Scheduled)
	default:
	}
}

// runScheduler runs a scheduler for Mondays 10:00 in Berlin on a fake
// clock until the test ends.
func runScheduler(t *testing.T, clock *clockwork.FakeClock, ledger Ledger, out poster) {
	t.Helper()
	startScheduler(t, clock, ledger, out, nil)
}

// startScheduler runs a scheduler of Monday's digest to #deploys, with an
// elector (nil: alone), and returns it.
func startScheduler(t *testing.T, clock *clockwork.FakeClock, ledger Ledger, out poster, el gocron.Elector) *Scheduler {
	t.Helper()
	berlin := mustLoad(t, "Europe/Berlin")
	sched, err := ParseSchedule(DefaultCron, berlin)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Store: weekFacts(), Directory: testDir, ChartURL: func(g Digest) string { return "http://ferry.test/chart?" + g.Scope.String() }})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScheduler(SchedulerConfig{
		Dashboards: d, Ledger: ledger, Poster: out, Clock: clock,
		Chart:    func(Digest) ([]byte, error) { return []byte("png"), nil },
		Channels: []Channel{{Name: "#deploys", Scope: All, Schedule: sched}},
		Elector:  el,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// elector is a replica's say in who leads; asked counts the questions.
type elector struct {
	leads atomic.Bool
	asked atomic.Int32
}

func (e *elector) IsLeader(context.Context) error {
	defer e.asked.Add(1)
	if e.leads.Load() {
		return nil
	}
	return errors.New("another replica leads")
}

// TestSchedulerOnTheLeaderOnly: of two replicas, only the leader sends
// the digest at its time; a replica that becomes the leader after a
// digest was due while nobody led sends it, late, once.
func TestSchedulerOnTheLeaderOnly(t *testing.T) {
	ledger := newLedger()
	sunday := time.Date(2026, 10, 25, 23, 0, 0, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(sunday)
	outA, outB := make(poster, 4), make(poster, 4)
	a, b := &elector{}, &elector{}
	a.leads.Store(true)
	startScheduler(t, clock, ledger, outA, a)
	sb := startScheduler(t, clock, ledger, outB, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, 2); err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2026, 10, 26, 9, 0, 0, 0, time.UTC)
	clock.Advance(monday.Sub(clock.Now()))
	if g := outA.next(t); !g.Scheduled.Equal(monday) || g.Late {
		t.Fatalf("the leader sent %v (late %v), want Monday's on time", g.Scheduled, g.Late)
	}
	outB.none(t)

	// The next Monday, nobody leads at 09:00; b leads from 09:00:20.
	a.leads.Store(false)
	if err := clock.BlockUntilContext(ctx, 2); err != nil {
		t.Fatal(err)
	}
	next := monday.AddDate(0, 0, 7)
	asked := b.asked.Load()
	clock.Advance(next.Sub(clock.Now()))
	for deadline := time.Now().Add(10 * time.Second); b.asked.Load() == asked; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b's scheduler did not ask whether it leads at 09:00")
		}
	}
	b.leads.Store(true)
	sb.CatchUp(ctx)
	if g := outB.next(t); !g.Scheduled.Equal(next) || !g.Late {
		t.Fatalf("the new leader sent %v (late %v), want the next Monday's, late", g.Scheduled, g.Late)
	}
	sb.CatchUp(ctx) // again: sent already
	outA.none(t)
	outB.none(t)
}

// TestSchedulerSendsOnceAndCatchesUp: ferry starts on a Wednesday after
// missing Monday's digest, and sends it late; a restart does not send it
// again; the next Monday's goes out at 10:00 Berlin time, which is 09:00
// UTC now that summer time is over.
func TestSchedulerSendsOnceAndCatchesUp(t *testing.T) {
	ledger := newLedger()
	out := make(poster, 4)
	wed := time.Date(2026, 10, 21, 12, 0, 0, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(wed)
	runScheduler(t, clock, ledger, out)
	g := out.next(t)
	if !g.Late || !g.Scheduled.Equal(time.Date(2026, 10, 19, 8, 0, 0, 0, time.UTC)) || g.ChartURL == "" {
		t.Errorf("the missed digest: late %v, scheduled %v, chart %q; want late, Monday 08:00 UTC", g.Late, g.Scheduled.UTC(), g.ChartURL)
	}
	if got := g.Period.String(); got != "2026-10-12 – 2026-10-18" {
		t.Errorf("it covers %s; want the week before", got)
	}

	// A second ferry (or the same after a restart) sends nothing.
	runScheduler(t, clockwork.NewFakeClockAt(wed.Add(time.Hour)), ledger, out)

	// Advance to the next Monday 09:00 UTC: the scheduler's timers fire.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2026, 10, 26, 9, 0, 0, 0, time.UTC)
	clock.Advance(monday.Sub(clock.Now()) - time.Minute)
	out.none(t)
	clock.Advance(time.Minute)
	g = out.next(t)
	if g.Late || !g.Scheduled.Equal(monday) || g.Period.DayCount() != 7 {
		t.Errorf("Monday's digest: late %v, scheduled %v, %v days; want on time at %v, 7 days", g.Late, g.Scheduled.UTC(), g.Period.DayCount(), monday)
	}
	out.none(t)
	// The ledger records the sending once the post returned, just after
	// the poster received it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		last, ok, _ := ledger.LastDigest(context.Background(), "slack:#deploys")
		if ok && last.Sent && last.Scheduled.Equal(monday) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ledger's last digest = %+v, %v; want Monday's, sent", last, ok)
		}
	}
}

// TestSchedulerResendsAnAbandonedClaim: a ferry stopped while sending; the
// next, started 30 minutes later, sends the digest, late. One started 5
// minutes after the claim leaves it to the ferry that is sending it.
func TestSchedulerResendsAnAbandonedClaim(t *testing.T) {
	ledger := newLedger()
	monday := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	ledger.ClaimDigest(context.Background(), Sending{Name: "slack:#deploys", Scheduled: monday}, monday)
	out := make(poster, 4)
	runScheduler(t, clockwork.NewFakeClockAt(monday.Add(5*time.Minute)), ledger, out)
	runScheduler(t, clockwork.NewFakeClockAt(monday.Add(30*time.Minute)), ledger, out)
	if g := out.next(t); !g.Late || !g.Scheduled.Equal(monday) {
		t.Errorf("resent digest: late %v, scheduled %v", g.Late, g.Scheduled)
	}
	out.none(t)
}
