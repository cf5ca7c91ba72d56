package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// RevokeSession records that the session id was signed out, so that its
// cookie is refused until it expires, after a restart too. Sessions that
// have expired by the store's clock are forgotten.
func (s *Store) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	if id == "" {
		return fmt.Errorf("revoke a session: %w: no session id", pipeline.ErrInvalid)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM revoked_sessions WHERE expires <= ?`, nanos(s.now())); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO revoked_sessions (id, expires) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET expires = max(expires, excluded.expires)`, id, nanos(expires))
		return err
	})
	return wrap("revoke a session", err)
}

// SessionRevoked reports whether the session id was signed out.
func (s *Store) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var revoked bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE id = ?)`, id).Scan(&revoked)
	return revoked, wrap("read a revoked session", err)
}

// SignInFailed records a failed sign-in at at under each key, and forgets
// the failures of every key older than keep before at.
func (s *Store) SignInFailed(ctx context.Context, at time.Time, keep time.Duration, keys ...string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sign_in_failures WHERE at < ?`, nanos(at.Add(-keep))); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sign_in_failures (key, at) VALUES (?, ?)`, k, nanos(at)); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("record a failed sign-in", err)
}

// SignInFailures returns the times of the failed sign-ins under key at or
// after since (zero: every one kept), newest first, at most limit of them
// (0: all).
func (s *Store) SignInFailures(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error) {
	if since.IsZero() {
		since = minNanos
	}
	n, err := sqlLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("failed sign-ins: %w", err)
	}
	ts, err := scanAll(ctx, s.r, func(sc scanner) (time.Time, error) {
		var t time.Time
		return t, sc.Scan(scanNanos(&t))
	}, `SELECT at FROM sign_in_failures WHERE key = ? AND at >= ? ORDER BY at DESC LIMIT ?`, key, since.UnixNano(), n)
	return ts, wrap("failed sign-ins", err)
}

// ClearSignInFailures forgets the failed sign-ins under key.
func (s *Store) ClearSignInFailures(ctx context.Context, key string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sign_in_failures WHERE key = ?`, key)
	return wrap("clear failed sign-ins", err)
}
