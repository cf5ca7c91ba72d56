package storage

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestRevokedSessionsSurviveReopening: a signed-out session is refused by
// the store after it is opened again, until it expires.
func TestRevokedSessionsSurviveReopening(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	s := openAt(t, path)
	now := setClock(s, time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC))
	must(t, s.RevokeSession(ctx, "old", now.Add(time.Hour)))
	must(t, s.RevokeSession(ctx, "gone", now.Add(2*time.Hour)))
	s.Close()

	s = openAt(t, path)
	setClock(s, now.Add(3*time.Hour)) // "old" and "gone" have expired
	for id, want := range map[string]bool{"old": true, "gone": true, "never": false} {
		if got, err := s.SessionRevoked(ctx, id); err != nil || got != want {
			t.Errorf("SessionRevoked(%q) after reopening = %v, %v; want %v", id, got, err, want)
		}
	}
	must(t, s.RevokeSession(ctx, "new", now.Add(15*time.Hour)))
	for id, want := range map[string]bool{"old": false, "gone": false, "new": true} {
		if got, err := s.SessionRevoked(ctx, id); err != nil || got != want {
			t.Errorf("SessionRevoked(%q) after a revocation pruned the expired = %v, %v; want %v", id, got, err, want)
		}
	}
}

func TestSignInFailures(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	for i := range 4 {
		must(t, s.SignInFailed(ctx, t0.Add(time.Duration(i)*time.Minute), time.Hour, "name:a", "addr:x"))
	}
	got, err := s.SignInFailures(ctx, "name:a", t0.Add(time.Minute), 2)
	if err != nil || len(got) != 2 || !got[0].Equal(t0.Add(3*time.Minute)) || !got[1].Equal(t0.Add(2*time.Minute)) {
		t.Errorf("the 2 newest failures since 10:01 = %v, %v; want 10:03 and 10:02", got, err)
	}
	if got, _ := s.SignInFailures(ctx, "addr:x", t0, 0); len(got) != 4 {
		t.Errorf("failures of addr:x = %v; want 4", got)
	}
	must(t, s.ClearSignInFailures(ctx, "name:a"))
	if got, _ := s.SignInFailures(ctx, "name:a", t0, 0); len(got) != 0 {
		t.Errorf("failures after clearing = %v", got)
	}
	// A failure an hour later forgets those older than an hour.
	must(t, s.SignInFailed(ctx, t0.Add(time.Hour+150*time.Second), time.Hour, "addr:y"))
	if got, _ := s.SignInFailures(ctx, "addr:x", time.Time{}, 0); len(got) != 1 || !got[0].Equal(t0.Add(3*time.Minute)) {
		t.Errorf("addr:x after pruning = %v; want only 10:03", got)
	}
}
