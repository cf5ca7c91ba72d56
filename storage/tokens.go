package storage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// tokenDigest is what the store keeps of a personal token's secret.
func tokenDigest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

const tokenColumns = `id, user_name, name, created_at, expires_at, last_used_at, revoked_at`

func scanToken(sc scanner) (pipeline.PersonalToken, error) {
	var t pipeline.PersonalToken
	err := sc.Scan(&t.ID, &t.User, &t.Name, scanNanos(&t.Created), scanNanos(&t.Expires), scanNanos(&t.LastUsed), scanNanos(&t.Revoked))
	return t, err
}

// CreateToken stores t (User, Name, Created, Expires) with the digest of
// secret and returns it with its ID.
func (s *Store) CreateToken(ctx context.Context, t pipeline.PersonalToken, secret string) (pipeline.PersonalToken, error) {
	err := s.w.QueryRowContext(ctx, `INSERT INTO api_tokens (user_name, name, digest, created_at, expires_at, last_used_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, NULL, NULL) RETURNING id`,
		t.User, t.Name, tokenDigest(secret), nanos(t.Created), nanos(t.Expires)).Scan(&t.ID)
	return t, wrap("create token "+t.Name, err)
}

// TokenBySecret returns the personal token whose secret this is, whatever
// its state (the caller checks Valid); ErrNotFound if there is none.
func (s *Store) TokenBySecret(ctx context.Context, secret string) (pipeline.PersonalToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE digest = ?`, tokenDigest(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token: %w", pipeline.ErrNotFound)
	}
	return t, wrap("token", err)
}

// TokenUsed records that token id was used at, if it was last used
// before at-every (so a busy script costs a write a minute, not a write a
// request).
func (s *Store) TokenUsed(ctx context.Context, id int64, at time.Time, every time.Duration) error {
	_, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		nanos(at), id, nanos(at.Add(-every)))
	return wrap("token used", err)
}

// Tokens lists a person's tokens, newest first, revoked ones too.
func (s *Store) Tokens(ctx context.Context, user string) ([]pipeline.PersonalToken, error) {
	ts, err := scanAll(ctx, s.r, scanToken, `SELECT `+tokenColumns+` FROM api_tokens WHERE user_name = ? ORDER BY id DESC`, user)
	return ts, wrap("tokens of "+user, err)
}

// RevokeToken revokes a person's token id at at; ErrNotFound if user has
// no such token in use.
func (s *Store) RevokeToken(ctx context.Context, user string, id int64, at time.Time) (pipeline.PersonalToken, error) {
	t, err := scanToken(s.w.QueryRowContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_name = ? AND revoked_at IS NULL
		RETURNING `+tokenColumns, nanos(at), id, user))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %d: %w: %s has no token %d in use", id, pipeline.ErrNotFound, user, id)
	}
	return t, wrap(fmt.Sprint("revoke token ", id), err)
}
