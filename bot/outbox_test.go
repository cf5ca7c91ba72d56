package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
)

// sink is a fake platform: it records what it is given and fails while
// down says so.
type sink struct {
	mu    sync.Mutex
	got   []Outgoing
	refs  []string
	down  func(call int) error // nil: up
	held  chan struct{}        // the first call waits until it is closed
	calls chan struct{}
}

func newSink() *sink { return &sink{calls: make(chan struct{}, 1000)} }

func (s *sink) Deliver(ctx context.Context, o Outgoing, ref string) (string, error) {
	s.mu.Lock()
	call, held, down := len(s.got)+len(s.refs), s.held, s.down
	s.mu.Unlock()
	if call == 0 && held != nil {
		<-held
	}
	var err error
	if down != nil {
		err = down(call)
	}
	s.mu.Lock()
	if err == nil {
		s.got = append(s.got, o)
	} else {
		s.refs = append(s.refs, "failed") // counts the call
	}
	s.mu.Unlock()
	s.calls <- struct{}{}
	if err != nil {
		return ref, err
	}
	return fmt.Sprintf("msg-%d", len(s.got)), nil
}

func (s *sink) delivered() []Outgoing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Outgoing(nil), s.got...)
}

// wait waits for n more calls of Deliver.
func (s *sink) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-s.calls:
		case <-time.After(10 * time.Second):
			t.Fatalf("the sink was not called")
		}
	}
}

// dispatch runs a dispatcher of st through the sink on clock until the
// returned function is called.
func dispatch(t *testing.T, b *Bot, st *storage.Store, s *sink, clock pipeline.Clock, giveUp time.Duration) (stop func()) {
	t.Helper()
	d, err := NewDispatcher(DispatcherConfig{Store: st, Bot: b, Sinks: map[string]Sink{"chat": s}, Wake: st.Noticed(), Clock: clock, GiveUp: giveUp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func edit(state pipeline.State) pipeline.Notice {
	return pipeline.Notice{Platform: "chat", Dest: "card 7", Kind: "card", Latest: true, State: state}
}

func owe(t *testing.T, st *storage.Store, ns ...pipeline.Notice) {
	t.Helper()
	if err := st.AddNotices(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}

// TestOutboxCoalesces: 100 changes of one card while the platform is busy
// with the first end in a few edits, the last saying the latest state.
func TestOutboxCoalesces(t *testing.T) {
	b, st := newTestBot(t)
	s := newSink()
	s.held = make(chan struct{})
	dispatch(t, b, st, s, nil, 0)
	owe(t, st, edit("change 0"))
	for i := 1; i < 100; i++ {
		owe(t, st, edit(pipeline.State(fmt.Sprint("change ", i))))
	}
	close(s.held)
	for {
		s.wait(t, 1)
		got := s.delivered()
		if got[len(got)-1].State == "change 99" {
			if len(got) > 3 {
				t.Errorf("100 changes made %d edits; want at most 3", len(got))
			}
			break
		}
	}
	waitEmpty(t, st)
	if ref, _ := st.NoticeRef(context.Background(), "chat", "card 7"); ref == "" {
		t.Error("what the card's edits made was not kept")
	}
}

// waitEmpty waits until the outbox holds nothing.
func waitEmpty(t *testing.T, st *storage.Store) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		left, err := st.Notices(context.Background(), pipeline.NoticeFilter{})
		if err == nil && len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox still holds %+v (%v)", left, err)
		}
	}
}

// TestOutboxPlatformDown: a platform down for six hours is retried with
// backoff on the dispatcher's clock, and gets the latest state when it is
// up; a notice past its give-up time is dead, with the last error.
func TestOutboxPlatformDown(t *testing.T) {
	b, st := newTestBot(t)
	start := st.Now()
	clock := clockwork.NewFakeClockAt(start)
	var mu sync.Mutex
	up := false
	s := newSink()
	s.down = func(int) error {
		mu.Lock()
		defer mu.Unlock()
		if up {
			return nil
		}
		return errors.New("503 Service Unavailable")
	}
	dispatch(t, b, st, s, clock, 24*time.Hour)
	owe(t, st, edit(pipeline.StateRunning))
	s.wait(t, 1)
	owe(t, st, edit(pipeline.StateSucceeded))
	tries := 1
	for clock.Since(start) < 6*time.Hour {
		clock.Advance(5 * time.Minute) // the longest backoff
		select {
		case <-s.calls:
			tries++
		case <-time.After(2 * time.Second):
			t.Fatalf("no retry within 5 minutes on the dispatcher's clock, after %d tries", tries)
		}
	}
	mu.Lock()
	up = true
	mu.Unlock()
	clock.Advance(5 * time.Minute)
	s.wait(t, 1)
	got := s.delivered()
	if len(got) != 1 || got[0].State != pipeline.StateSucceeded {
		t.Fatalf("delivered %+v when the platform came back; want the latest, succeeded", got)
	}
	if tries < 70 || tries > 90 {
		t.Errorf("%d tries in six hours; want about one each 5 minutes after the first backoffs", tries)
	}

	// Down for good: past the give-up time the notice is dead.
	mu.Lock()
	up = false
	mu.Unlock()
	owe(t, st, pipeline.Notice{Platform: "chat", Dest: "dm 7", Kind: "dm"})
	s.wait(t, 1)
	for i := 0; ; i++ {
		dead, err := st.Notices(context.Background(), pipeline.NoticeFilter{Dead: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) == 1 {
			if dead[0].LastError != "503 Service Unavailable" || dead[0].Attempts < 2 {
				t.Errorf("dead notice %+v; want the last error and its attempts", dead[0])
			}
			break
		}
		if i == 400 {
			t.Fatalf("the dm is not dead after %v on the dispatcher's clock", clock.Since(start))
		}
		clock.Advance(5 * time.Minute)
		select {
		case <-s.calls:
		case <-time.After(2 * time.Second):
		}
	}
}

// TestOutboxRetryAfterSurvivesRestart: a platform's Retry-After holds its
// notices across a restart of ferry; once it passes they are delivered.
func TestOutboxRetryAfterSurvivesRestart(t *testing.T) {
	b, st := newTestBot(t)
	clock := clockwork.NewFakeClockAt(st.Now())
	s := newSink()
	s.down = func(call int) error {
		if call == 0 {
			return RetryAfter(10*time.Minute, errors.New("429 Too Many Requests"))
		}
		return nil
	}
	stop := dispatch(t, b, st, s, clock, 0)
	owe(t, st, edit(pipeline.StateRunning))
	s.wait(t, 1)
	owe(t, st, pipeline.Notice{Platform: "chat", Dest: "dm 7", Kind: "dm"}) // owed during the pause
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		ns, err := st.Notices(context.Background(), pipeline.NoticeFilter{})
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("the dm was not held: %+v, %v", ns, err)
		}
		if len(ns) == 2 && !ns[1].NotBefore.IsZero() {
			break
		}
	}
	stop() // ferry stops during the pause

	if err := st.ReleaseNoticeClaims(context.Background()); err != nil {
		t.Fatal(err)
	}
	for len(st.Noticed()) > 0 {
		<-st.Noticed()
	}
	dispatch(t, b, st, s, clock, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, 1); err != nil { // the new dispatcher waits for the pause to end
		t.Fatal(err)
	}
	if got := s.delivered(); len(got) != 0 {
		t.Fatalf("delivered %+v during the platform's Retry-After", got)
	}
	clock.Advance(10 * time.Minute)
	s.wait(t, 2)
	if got := s.delivered(); len(got) != 2 {
		t.Fatalf("after the pause delivered %+v; want the card and the dm", got)
	}
}

// TestOutboxPermanent: an error that trying again cannot mend kills the
// notice at once; Retry sends it again.
func TestOutboxPermanent(t *testing.T) {
	b, st := newTestBot(t)
	s := newSink()
	s.down = func(call int) error {
		if call == 0 {
			return Permanent(errors.New("channel_not_found"))
		}
		return nil
	}
	dispatch(t, b, st, s, nil, 0)
	owe(t, st, pipeline.Notice{Platform: "chat", Dest: "dm 7", Kind: "dm"})
	s.wait(t, 1)
	var dead []pipeline.Notice
	for deadline := time.Now().Add(10 * time.Second); len(dead) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the notice did not die")
		}
		dead, _ = st.Notices(context.Background(), pipeline.NoticeFilter{Dead: true})
	}
	if dead[0].LastError != "channel_not_found" || dead[0].Attempts != 1 {
		t.Fatalf("dead notice %+v", dead[0])
	}
	if err := st.RetryNotice(context.Background(), dead[0].ID); err != nil {
		t.Fatal(err)
	}
	s.wait(t, 1)
	if got := s.delivered(); len(got) != 1 || got[0].Kind != "dm" {
		t.Fatalf("after Retry delivered %+v", got)
	}
}

// TestOutboxCard: a notice about a deploy reaches its sink with the
// deploy's card as it is when it is delivered.
func TestOutboxCard(t *testing.T) {
	b, st := newTestBot(t)
	b.Handle(context.Background(), pipeline.Actor{Name: "alice"}, "deploy demo to staging")
	waitDeploy(t, st, 1, pipeline.StateSucceeded)
	s := newSink()
	dispatch(t, b, st, s, nil, 0)
	owe(t, st, pipeline.Notice{Platform: "chat", Dest: "card 1", Kind: "card", Latest: true, DeployID: 1, State: pipeline.StateQueued})
	s.wait(t, 1)
	o := s.delivered()[0]
	if o.Card.DeployID != 1 || o.Card.State != pipeline.StateSucceeded || o.Deploy.State != pipeline.StateSucceeded || o.State != pipeline.StateQueued {
		t.Fatalf("delivered %+v; want the card of deploy 1 as it is now, succeeded, and the notice's own state", o)
	}
}
