package storage

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// standStill makes s's clock read *now, which the test moves.
func standStill(s *Store, now *time.Time) { s.Now = func() time.Time { return *now } }

func card(id int64, st pipeline.State) pipeline.Notice {
	return pipeline.Notice{Platform: "slack", Dest: fmt.Sprint("card ", id), Kind: "card", Latest: true, DeployID: id, State: st}
}

func claim(t *testing.T, s *Store, limit int) []pipeline.Notice {
	t.Helper()
	ns, err := s.ClaimNotices(context.Background(), s.now(), limit, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestTransitionWritesNotices: the notices a transition owes are in its
// commit, made from the deploy it leaves; a refused transition owes none.
func TestTransitionWritesNotices(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := newDeploy(t, s)
	owe := func(d pipeline.Deploy) []pipeline.Notice {
		return []pipeline.Notice{card(d.ID, d.State), {Platform: "slack", Dest: "dm 1", Kind: "dm", DeployID: d.ID, State: d.State}}
	}
	if _, err := s.Transition(ctx, pipeline.Transition{DeployID: id, From: pipeline.StateRequested, To: pipeline.StateQueued, Notices: owe}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Noticed():
	default:
		t.Error("Noticed was not signalled")
	}
	if _, err := s.Transition(ctx, pipeline.Transition{DeployID: id, From: pipeline.StateRequested, To: pipeline.StateRunning, Notices: owe}, nil); !errors.Is(err, pipeline.ErrConflict) {
		t.Fatalf("stale transition = %v; want ErrConflict", err)
	}
	ns, err := s.Notices(ctx, pipeline.NoticeFilter{})
	if err != nil || len(ns) != 2 || ns[0].State != pipeline.StateQueued || ns[1].Kind != "dm" || ns[0].Created.IsZero() {
		t.Fatalf("Notices = %+v, %v; want the card and the dm of queued", ns, err)
	}
	bad := func(pipeline.Deploy) []pipeline.Notice { return []pipeline.Notice{{Platform: "slack"}} }
	if _, err := s.Transition(ctx, pipeline.Transition{DeployID: id, From: pipeline.StateQueued, To: pipeline.StateRunning, Notices: bad}, nil); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("a notice without a destination = %v; want ErrInvalid", err)
	}
	if d, _ := s.Deploy(ctx, id); d.State != pipeline.StateQueued {
		t.Errorf("the transition whose notices failed moved the deploy to %s", d.State)
	}
	// The card folds into the one pending; the dm after it is still owed.
	if _, err := s.Transition(ctx, pipeline.Transition{DeployID: id, From: pipeline.StateQueued, To: pipeline.StateRunning, Notices: owe}, nil); err != nil {
		t.Fatal(err)
	}
	ns, err = s.Notices(ctx, pipeline.NoticeFilter{})
	if err != nil || len(ns) != 3 || ns[0].State != pipeline.StateRunning || ns[2].Kind != "dm" || ns[2].State != pipeline.StateRunning {
		t.Fatalf("Notices = %+v, %v; want the card of running and both dms", ns, err)
	}
}

// TestNoticesFold: pending edits of one card fold into one row that says
// the latest; a row being delivered is left alone, and the next change
// waits behind it.
func TestNoticesFold(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := t0
	standStill(s, &now)
	states := []pipeline.State{pipeline.StateQueued, pipeline.StateRunning, pipeline.StateRunning, pipeline.StateSucceeded}
	for _, st := range states {
		must(t, s.AddNotices(ctx, []pipeline.Notice{card(1, st)}))
	}
	ns := claim(t, s, 10)
	if len(ns) != 1 || ns[0].State != pipeline.StateSucceeded {
		t.Fatalf("claimed %+v; want one card saying succeeded", ns)
	}
	must(t, s.AddNotices(ctx, []pipeline.Notice{card(1, pipeline.StateRolledBack)}))
	if more := claim(t, s, 10); len(more) != 0 {
		t.Fatalf("claimed %+v while the card is being edited; want nothing", more)
	}
	must(t, s.DeliveredNotice(ctx, ns[0], "C1 1.0001"))
	next := claim(t, s, 10)
	if len(next) != 1 || next[0].State != pipeline.StateRolledBack {
		t.Fatalf("after the edit, claimed %+v; want rolled_back", next)
	}
	if ref, err := s.NoticeRef(ctx, "slack", "card 1"); err != nil || ref != "C1 1.0001" {
		t.Errorf("NoticeRef = %q, %v", ref, err)
	}
}

// TestNoticesInOrder: notices of one destination that do not fold go one
// at a time, oldest first; other destinations do not wait for them.
func TestNoticesInOrder(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := t0
	standStill(s, &now)
	dm := func(st pipeline.State) pipeline.Notice {
		return pipeline.Notice{Platform: "slack", Dest: "dm 1", Kind: "dm", DeployID: 1, State: st}
	}
	must(t, s.AddNotices(ctx, []pipeline.Notice{dm(pipeline.StateFailed), dm(pipeline.StateRolledBack), card(2, pipeline.StateQueued)}))
	ns := claim(t, s, 10)
	if len(ns) != 2 || ns[0].State != pipeline.StateFailed || ns[1].Dest != "card 2" {
		t.Fatalf("claimed %+v; want the first dm and card 2", ns)
	}
	// The first dm fails: the second waits behind it through its backoff.
	must(t, s.FailedNotice(ctx, ns[0].ID, "slack is down", now.Add(time.Minute), false))
	if more := claim(t, s, 10); len(more) != 0 {
		t.Fatalf("claimed %+v during the backoff; want nothing", more)
	}
	if at, ok, err := s.NextNoticeDue(ctx); err != nil || !ok || !at.Equal(now.Add(time.Minute)) {
		t.Errorf("NextNoticeDue = %v, %v, %v; want the end of the backoff (card 2 is claimed)", at, ok, err)
	}
	now = now.Add(time.Minute)
	again := claim(t, s, 10)
	if len(again) != 1 || again[0].State != pipeline.StateFailed || again[0].Attempts != 1 || again[0].LastError != "slack is down" {
		t.Fatalf("after the backoff, claimed %+v; want the first dm, tried once", again)
	}
}

// TestNoticesDeadAndRetry: a dead notice stays, out of the way of its
// destination, until it is retried with a fresh give-up clock; a later
// edit of its card delivered makes it moot.
func TestNoticesDeadAndRetry(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := t0
	standStill(s, &now)
	must(t, s.AddNotices(ctx, []pipeline.Notice{card(1, pipeline.StateRunning)}))
	n := claim(t, s, 1)[0]
	must(t, s.FailedNotice(ctx, n.ID, "channel_not_found", time.Time{}, true))
	dead, err := s.Notices(ctx, pipeline.NoticeFilter{Dead: true})
	if err != nil || len(dead) != 1 || dead[0].Dead.IsZero() || dead[0].LastError != "channel_not_found" {
		t.Fatalf("dead notices = %+v, %v", dead, err)
	}
	if bs, err := s.OutboxBacklogs(ctx); err != nil || len(bs) != 1 || bs[0].Dead != 1 || bs[0].Pending != 0 {
		t.Fatalf("OutboxBacklogs = %+v, %v; want slack with 1 dead", bs, err)
	}
	if err := s.RetryNotice(ctx, 999); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("RetryNotice(999) = %v; want ErrNotFound", err)
	}
	now = now.Add(48 * time.Hour)
	must(t, s.RetryNotice(ctx, n.ID))
	again := claim(t, s, 1)
	if len(again) != 1 || !again[0].Created.Equal(now) || again[0].Attempts != 0 {
		t.Fatalf("retried: claimed %+v; want it due now with a fresh clock", again)
	}
	must(t, s.FailedNotice(ctx, n.ID, "channel_not_found", time.Time{}, true))
	must(t, s.AddNotices(ctx, []pipeline.Notice{card(1, pipeline.StateSucceeded)}))
	later := claim(t, s, 1)
	if len(later) != 1 || later[0].State != pipeline.StateSucceeded {
		t.Fatalf("claimed %+v; want the new edit past the dead one", later)
	}
	must(t, s.DeliveredNotice(ctx, later[0], ""))
	if left, _ := s.Notices(ctx, pipeline.NoticeFilter{}); len(left) != 0 {
		t.Errorf("after a later edit was delivered the outbox holds %+v; want nothing", left)
	}
}

// TestNoticesPauseSurvivesRestart: a platform's Retry-After holds its
// notices in the store, and a notice claimed by a ferry that died is owed.
func TestNoticesPauseSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	s := openAt(t, path)
	now := t0
	standStill(s, &now)
	must(t, s.AddNotices(ctx, []pipeline.Notice{card(1, pipeline.StateRunning), card(2, pipeline.StateRunning),
		{Platform: "github", Dest: "status 1", Kind: "status", Latest: true, DeployID: 1}}))
	ns := claim(t, s, 1) // claimed, then ferry dies
	must(t, s.PauseNotices(ctx, "slack", now.Add(30*time.Second)))
	s.Close()

	s2 := openAt(t, path)
	standStill(s2, &now)
	must(t, s2.ReleaseNoticeClaims(ctx))
	got := claim(t, s2, 10)
	if len(got) != 1 || got[0].Platform != "github" {
		t.Fatalf("claimed %+v during slack's pause; want github's status only", got)
	}
	now = now.Add(30 * time.Second)
	got = claim(t, s2, 10)
	if len(got) != 2 || got[0].ID != ns[0].ID {
		t.Fatalf("after the pause claimed %+v; want both cards, the one the dead ferry held first", got)
	}
}

// TestNoticesClaimedOnce: replicas claiming the outbox at once are each
// handed other notices, and never two of one destination at a time.
func TestNoticesClaimedOnce(t *testing.T) {
	ctx := context.Background()
	a, b := openReplicas(t)
	var ns []pipeline.Notice
	for i := range 60 {
		ns = append(ns, pipeline.Notice{Platform: "slack", Dest: fmt.Sprint("dm ", i%20), Kind: "dm", DeployID: int64(i)})
	}
	must(t, a.AddNotices(ctx, ns))
	seen := map[int64]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b, a, b} {
		wg.Go(func() {
			for range 100 {
				got, err := s.ClaimNotices(ctx, time.Now(), 5, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, n := range got {
					seen[n.ID]++
				}
				mu.Unlock()
				for _, n := range got {
					must(t, s.DeliveredNotice(ctx, n, ""))
				}
				if len(got) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("notice %d handed out %d times", id, n)
		}
	}
	if len(seen) != 60 {
		t.Errorf("%d notices handed out, want 60", len(seen))
	}
}
