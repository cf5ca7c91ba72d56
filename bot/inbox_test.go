package bot_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
)

func openInboxStore(t *testing.T, path string) *storage.Store {
	t.Helper()
	s, err := storage.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// handled records what an inbox's Handle was given.
type handled struct {
	mu   sync.Mutex
	keys []string
	gate chan struct{} // nil: handle at once; else wait for it (or ctx)
	done chan string
}

func newHandled() *handled { return &handled{done: make(chan string, 1000)} }

func (h *handled) handle(ctx context.Context, d pipeline.Delivery) string {
	if h.gate != nil {
		select {
		case <-h.gate:
		case <-ctx.Done():
			return "cut off"
		}
	}
	h.mu.Lock()
	h.keys = append(h.keys, pipeline.DeliveryOf(ctx))
	h.mu.Unlock()
	h.done <- d.ID
	return "handled " + string(d.Body)
}

func (h *handled) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-h.done:
		case <-t.Context().Done():
			t.Fatal("deliveries not handled")
		}
	}
}

var probes atomic.Int64

// startInbox runs an inbox until the test ends or stop is called.
func startInbox(t *testing.T, cfg bot.InboxConfig) (in *bot.Inbox, stop func()) {
	t.Helper()
	in, err := bot.NewInbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { in.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	// Accept refuses until Run has begun.
	for {
		if _, err := in.Accept(ctx, pipeline.Delivery{ID: fmt.Sprintf("probe-%d", probes.Add(1)), Body: []byte("probe")}); err == nil {
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatal("inbox never started")
		case <-time.After(time.Millisecond):
		}
	}
	return in, stop
}

func TestInboxHandlesOnce(t *testing.T) {
	st := openInboxStore(t, t.TempDir()+"/ferry.db")
	h := newHandled()
	in, _ := startInbox(t, bot.InboxConfig{Platform: "github", Store: st, Handle: h.handle})
	h.wait(t, 1) // the probe
	ctx := t.Context()
	for _, want := range []pipeline.Receipt{pipeline.Received, pipeline.Duplicate} {
		r, err := in.Accept(ctx, pipeline.Delivery{ID: "d1", Event: "push", Body: []byte("one")})
		if err != nil || r != want {
			t.Fatalf("Accept = %v, %v; want %v", r, err, want)
		}
	}
	h.wait(t, 1)
	rec := waitProcessed(t, st, "github", "d1")
	if rec.Outcome != "handled one" || rec.Attempts != 1 {
		t.Errorf("stored %+v; want its outcome, one handling", rec)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.keys) != 2 || h.keys[1] != "github/d1" {
		t.Errorf("handled with keys %v; want one handling each, keyed by platform/delivery", h.keys)
	}
}

// waitProcessed waits until the store says a delivery was processed.
func waitProcessed(t *testing.T, st *storage.Store, platform, id string) storage.DeliveryRecord {
	t.Helper()
	for {
		rec, err := st.DeliveryOf(t.Context(), platform, id)
		if err == nil && !rec.Processed.IsZero() {
			return rec
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("delivery %s never processed: %+v, %v", id, rec, err)
		case <-time.After(time.Millisecond):
		}
	}
}

// A full queue leaves deliveries in the store, and they are handled when
// workers are free.
func TestInboxOverflow(t *testing.T) {
	st := openInboxStore(t, t.TempDir()+"/ferry.db")
	h := newHandled()
	in, _ := startInbox(t, bot.InboxConfig{Platform: "github", Store: st, Handle: h.handle, Workers: 1, Queue: 2})
	h.wait(t, 1)
	h.mu.Lock()
	h.gate = make(chan struct{})
	h.mu.Unlock()
	for i := range 20 {
		if r, err := in.Accept(t.Context(), pipeline.Delivery{ID: fmt.Sprint(i), Body: []byte("x")}); err != nil || r != pipeline.Received {
			t.Fatalf("Accept %d = %v, %v", i, r, err)
		}
	}
	close(h.gate)
	h.wait(t, 20)
	for i := range 20 {
		waitProcessed(t, st, "github", fmt.Sprint(i))
	}
}

// What a stopped ferry acknowledged and did not finish is handled by the
// next one, once.
func TestInboxAfterRestart(t *testing.T) {
	path := t.TempDir() + "/ferry.db"
	st := openInboxStore(t, path)
	h := newHandled()
	in, stop := startInbox(t, bot.InboxConfig{Platform: "slack", Store: st, Handle: h.handle, Workers: 1, Timeout: time.Millisecond})
	h.wait(t, 1)
	h.mu.Lock()
	h.gate = make(chan struct{}) // never opened: every handling is cut off
	h.mu.Unlock()
	for _, id := range []string{"a", "b", "c"} {
		if _, err := in.Accept(t.Context(), pipeline.Delivery{ID: id, Body: []byte(id)}); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	// Stopped (or not yet started), the inbox still stores what comes, for
	// the next Run.
	if r, err := in.Accept(t.Context(), pipeline.Delivery{ID: "late", Body: []byte("late")}); err != nil || r != pipeline.Received {
		t.Errorf("Accept after Run = %v, %v; want it stored", r, err)
	}
	if backlog, _ := st.InboxBacklog(t.Context()); len(backlog) != 1 || backlog[0].Pending != 4 {
		t.Fatalf("after the stop the store owes %+v; want a, b, c and late", backlog)
	}
	st.Close()

	st = openInboxStore(t, path)
	if err := st.ReleaseClaims(t.Context()); err != nil {
		t.Fatal(err)
	}
	h2 := newHandled()
	startInbox(t, bot.InboxConfig{Platform: "slack", Store: st, Handle: h2.handle})
	h2.wait(t, 5) // a, b, c, late and the probe
	for _, id := range []string{"a", "b", "c", "late"} {
		rec := waitProcessed(t, st, "slack", id)
		if rec.Outcome != "handled "+id || rec.Attempts < 1 {
			t.Errorf("%s: %+v", id, rec)
		}
	}
	h2.mu.Lock()
	defer h2.mu.Unlock()
	if len(h2.keys) != 5 {
		t.Errorf("the second ferry handled %v; want each owed delivery once", h2.keys)
	}
}

// Two inboxes on one store (two replicas) handle each delivery once.
func TestInboxTwoWorkers(t *testing.T) {
	path := t.TempDir() + "/ferry.db"
	a, b := openInboxStore(t, path), openInboxStore(t, path)
	for i := range 100 {
		if _, err := a.Receive(t.Context(), pipeline.Delivery{Platform: "github", ID: fmt.Sprint(i), Body: []byte("x")}, 0); err != nil {
			t.Fatal(err)
		}
	}
	h := newHandled()
	startInbox(t, bot.InboxConfig{Platform: "github", Store: a, Handle: h.handle, Queue: 7})
	startInbox(t, bot.InboxConfig{Platform: "github", Store: b, Handle: h.handle, Queue: 5})
	h.wait(t, 102)
	for i := range 100 {
		waitProcessed(t, a, "github", fmt.Sprint(i))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]int{}
	for _, k := range h.keys {
		seen[k]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s handled %d times", k, n)
		}
	}
}

// A delivery whose handling was cut off too often is given up, not handled
// at every start for ever.
func TestInboxGivesUp(t *testing.T) {
	path := t.TempDir() + "/ferry.db"
	st := openInboxStore(t, path)
	if _, err := st.Receive(t.Context(), pipeline.Delivery{Platform: "github", ID: "poison", Body: []byte("x")}, 0); err != nil {
		t.Fatal(err)
	}
	for range 5 { // five handlings begun, none ended
		if _, err := st.ClaimDeliveries(t.Context(), "github", 1, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := st.ReleaseClaims(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	h := newHandled()
	startInbox(t, bot.InboxConfig{Platform: "github", Store: st, Handle: h.handle})
	rec := waitProcessed(t, st, "github", "poison")
	if rec.Outcome != "given up: 5 handlings were cut off" {
		t.Errorf("outcome %q", rec.Outcome)
	}
	h.wait(t, 1) // only the probe
	select {
	case id := <-h.done:
		t.Errorf("%s handled; want the poison given up", id)
	default:
	}
}
