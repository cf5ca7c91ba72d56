package storage

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ferrybot/ferry/dashboards"
)

var _ dashboards.Ledger = (*Store)(nil)

// ClaimDigest records that a digest is being sent, unless it was claimed
// before: the primary key (name, scheduled time) lets one ferry claim it.
func (s *Store) ClaimDigest(ctx context.Context, d dashboards.Sending, now time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO digests (name, scheduled_at, period_from, period_to, claimed_at, sent_at, late)
		VALUES (?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (name, scheduled_at) DO NOTHING`,
		d.Name, nanos(d.Scheduled), nanos(d.Period.From), nanos(d.Period.To), nanos(now), d.Late)
	if err != nil {
		return false, wrap("claim digest "+d.Name, err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("claim digest "+d.Name, err)
}

// DigestSent records that a claimed digest reached its chat.
func (s *Store) DigestSent(ctx context.Context, name string, scheduled, now time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE digests SET sent_at = ? WHERE name = ? AND scheduled_at = ?`, nanos(now), name, nanos(scheduled))
	return wrap("digest sent "+name, err)
}

// LastDigest returns the digest of name scheduled last.
func (s *Store) LastDigest(ctx context.Context, name string) (dashboards.Sending, bool, error) {
	d := dashboards.Sending{Name: name}
	var sent time.Time
	err := s.r.QueryRowContext(ctx, `SELECT scheduled_at, period_from, period_to, claimed_at, sent_at, late FROM digests
		WHERE name = ? ORDER BY scheduled_at DESC LIMIT 1`, name).
		Scan(scanNanos(&d.Scheduled), scanNanos(&d.Period.From), scanNanos(&d.Period.To), scanNanos(&d.ClaimedAt), scanNanos(&sent), &d.Late)
	if errors.Is(err, sql.ErrNoRows) {
		return d, false, nil
	}
	d.Sent = !sent.IsZero()
	return d, err == nil, wrap("last digest "+name, err)
}
