package storage

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

func TestPersonalTokens(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ci, err := s.CreateToken(ctx, pipeline.PersonalToken{User: "alice", Name: "ci", Created: t0, Expires: t0.Add(24 * time.Hour)}, "fpt_secret-one")
	must(t, err)
	_, err = s.CreateToken(ctx, pipeline.PersonalToken{User: "alice", Name: "laptop", Created: t0.Add(time.Minute)}, "fpt_secret-two")
	must(t, err)
	_, err = s.CreateToken(ctx, pipeline.PersonalToken{User: "bob", Name: "ci", Created: t0}, "fpt_secret-bob")
	must(t, err)

	got, err := s.TokenBySecret(ctx, "fpt_secret-one")
	if err != nil || got.ID != ci.ID || got.User != "alice" || !got.Expires.Equal(t0.Add(24*time.Hour)) || !got.LastUsed.IsZero() || !got.Valid(t0) || got.Valid(t0.Add(24*time.Hour)) {
		t.Fatalf("TokenBySecret = %+v, %v", got, err)
	}
	if _, err := s.TokenBySecret(ctx, "fpt_not-a-token"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("an unknown secret: %v", err)
	}
	must(t, s.TokenUsed(ctx, ci.ID, t0.Add(time.Hour), time.Minute))
	must(t, s.TokenUsed(ctx, ci.ID, t0.Add(time.Hour+time.Second), time.Minute)) // within the minute: not written
	ts, err := s.Tokens(ctx, "alice")
	if err != nil || len(ts) != 2 || ts[0].Name != "laptop" || !ts[1].LastUsed.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Tokens = %+v, %v; want laptop then ci, used at t0+1h", ts, err)
	}
	if _, err := s.RevokeToken(ctx, "bob", ci.ID, t0); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("bob revoked alice's token: %v", err)
	}
	r, err := s.RevokeToken(ctx, "alice", ci.ID, t0.Add(2*time.Hour))
	if err != nil || r.Valid(t0.Add(2*time.Hour)) || !r.Revoked.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("RevokeToken = %+v, %v", r, err)
	}
	if _, err := s.RevokeToken(ctx, "alice", ci.ID, t0); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("revoked twice: %v", err)
	}
}
