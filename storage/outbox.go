package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// The outbox: what ferry owes the platforms, one row per notice, written
// in the commit of the change that owes it (Transition, AddNotices) and
// deleted once delivered. Notices of one destination are handed out one
// at a time, oldest first; pending notices of a destination marked Latest
// fold into the newest, so a burst of changes to one card is one edit.

const noticeColumns = `id, platform, dest, kind, latest, deploy_id, state, payload,
	created_at, attempts, not_before, last_error, dead_at`

func scanNotice(sc scanner) (pipeline.Notice, error) {
	var n pipeline.Notice
	var notBefore int64
	err := sc.Scan(&n.ID, &n.Platform, &n.Dest, &n.Kind, &n.Latest, &n.DeployID, &n.State, &n.Payload,
		scanNanos(&n.Created), &n.Attempts, &notBefore, &n.LastError, scanNanos(&n.Dead))
	if notBefore != 0 {
		n.NotBefore = time.Unix(0, notBefore).UTC()
	}
	return n, err
}

// Noticed is signalled (without blocking, so several commits may make one
// signal) after each commit that added notices: a dispatcher waits on it.
func (s *Store) Noticed() <-chan struct{} { return s.noticed }

func (s *Store) notify() {
	select {
	case s.noticed <- struct{}{}:
	default:
	}
}

// AddNotices writes notices owed for a change that is not a transition.
func (s *Store) AddNotices(ctx context.Context, ns []pipeline.Notice) error {
	if len(ns) == 0 {
		return nil
	}
	now := s.now()
	if err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.fenced(ctx, tx); err != nil {
			return err
		}
		return s.addNotices(ctx, tx, ns, now)
	}); err != nil {
		return fmt.Errorf("add notices: %w", err)
	}
	s.notify()
	return nil
}

// addNotices writes ns in tx. A Latest notice replaces the newest pending
// notice of its destination when that one is Latest too and not being
// delivered: it keeps that row's age, attempts and backoff, so a platform
// that is down does not see its give-up clock restart at each change.
func (s *Store) addNotices(ctx context.Context, tx *sql.Tx, ns []pipeline.Notice, now time.Time) error {
	if len(ns) > 0 && s.postgres != "" {
		// Wakes the dispatchers of every replica when tx commits.
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify('`+outboxChannel+`', '')`); err != nil {
			return err
		}
	}
	for _, n := range ns {
		if n.Platform == "" || n.Dest == "" || n.Kind == "" {
			return fmt.Errorf("%w: a notice needs a platform, a destination and a kind (got %q %q %q)", pipeline.ErrInvalid, n.Platform, n.Dest, n.Kind)
		}
		if n.Latest {
			res, err := tx.ExecContext(ctx, `UPDATE outbox SET kind = ?, deploy_id = ?, state = ?, payload = ?
				WHERE id = (SELECT max(id) FROM outbox WHERE platform = ? AND dest = ? AND dead_at IS NULL)
					AND latest = 1 AND claimed_until = 0`,
				n.Kind, n.DeployID, n.State, n.Payload, n.Platform, n.Dest)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if k > 0 {
				continue
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (platform, dest, kind, latest, deploy_id, state, payload, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			n.Platform, n.Dest, n.Kind, n.Latest, n.DeployID, n.State, n.Payload, nanos(now)); err != nil {
			return err
		}
	}
	return nil
}

// ClaimNotices hands out up to limit notices that are due at now (the
// dispatcher's clock: not before now,
// not dead, nobody delivering them) and first of their destination, oldest
// first, each claimed for lease. A claimed Latest notice carries what the
// newest pending notice of its destination says, and the ones between are
// deleted: it stands for them all. Replicas claiming at once on
// PostgreSQL pass over each other's rows (FOR UPDATE SKIP LOCKED).
func (s *Store) ClaimNotices(ctx context.Context, at time.Time, limit int, lease time.Duration) ([]pipeline.Notice, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("claim notices: %w: want a limit and a lease", pipeline.ErrInvalid)
	}
	now := at.UnixNano()
	var ns []pipeline.Notice
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		ns, err = scanAll(ctx, tx, scanNotice, `UPDATE outbox SET claimed_until = ?
			WHERE id IN (SELECT o.id FROM outbox o
				WHERE o.dead_at IS NULL AND o.not_before <= ? AND o.claimed_until < ?
					AND o.id = (SELECT min(h.id) FROM outbox h WHERE h.platform = o.platform AND h.dest = o.dest AND h.dead_at IS NULL)
				ORDER BY o.id LIMIT ?`+s.skipLocked()+`)
			RETURNING `+noticeColumns, now+lease.Nanoseconds(), now, now, limit)
		if err != nil {
			return err
		}
		for i, n := range ns {
			if n.Latest {
				if ns[i], err = fold(ctx, tx, n); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notices: %w", err)
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i].ID < ns[j].ID })
	return ns, nil
}

// fold makes the claimed notice n say what the newest pending Latest
// notice of its destination says, and deletes the others.
func fold(ctx context.Context, tx *sql.Tx, n pipeline.Notice) (pipeline.Notice, error) {
	var newest int64
	err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM outbox
		WHERE platform = ? AND dest = ? AND dead_at IS NULL AND latest = 1 AND id > ?`, n.Platform, n.Dest, n.ID).Scan(&newest)
	if err != nil || newest == 0 {
		return n, err
	}
	err = tx.QueryRowContext(ctx, `SELECT kind, deploy_id, state, payload FROM outbox WHERE id = ?`, newest).
		Scan(&n.Kind, &n.DeployID, &n.State, &n.Payload)
	if err != nil {
		return n, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET kind = ?, deploy_id = ?, state = ?, payload = ? WHERE id = ?`,
		n.Kind, n.DeployID, n.State, n.Payload, n.ID); err != nil {
		return n, err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM outbox WHERE platform = ? AND dest = ? AND dead_at IS NULL AND latest = 1 AND id > ? AND id <= ?`,
		n.Platform, n.Dest, n.ID, newest)
	return n, err
}

// DeliveredNotice deletes a notice its sink delivered and keeps ref as
// what its destination made ("" keeps the one there is). A delivered
// Latest notice also ends the dead notices of its destination before it:
// what they would have said is said.
func (s *Store) DeliveredNotice(ctx context.Context, n pipeline.Notice, ref string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, n.ID); err != nil {
			return err
		}
		if n.Latest {
			if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE platform = ? AND dest = ? AND latest = 1 AND dead_at IS NOT NULL AND id < ?`,
				n.Platform, n.Dest, n.ID); err != nil {
				return err
			}
		}
		if ref == "" {
			return nil
		}
		return putNoticeRef(ctx, tx, n.Platform, n.Dest, ref, s.now())
	})
	return wrap(fmt.Sprintf("notice %d delivered", n.ID), err)
}

// FailedNotice records a failed attempt at notice id: its error, and not
// before when to try again; dead, ferry gives up on it (it stays, shown to
// admins, until RetryNotice).
func (s *Store) FailedNotice(ctx context.Context, id int64, lastErr string, notBefore time.Time, dead bool) error {
	var deadAt any
	if dead {
		deadAt = nanos(s.now())
	}
	res, err := s.w.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, not_before = ?,
		claimed_until = 0, dead_at = ? WHERE id = ?`, lastErr, unixNanos(notBefore), deadAt, id)
	if err == nil {
		err = mustChange(res, fmt.Errorf("no notice %d: %w", id, pipeline.ErrNotFound))
	}
	return wrap(fmt.Sprintf("notice %d failed", id), err)
}

// DeferNotice gives notice id back, untried, to be handed out not before
// until: its platform asked ferry to wait, or its destination was edited
// a moment ago.
func (s *Store) DeferNotice(ctx context.Context, id int64, until time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE outbox SET not_before = max(not_before, ?), claimed_until = 0 WHERE id = ?`, unixNanos(until), id)
	return wrap(fmt.Sprintf("defer notice %d", id), err)
}

// PauseNotices holds every pending notice of a platform until until (a
// rate limit's Retry-After), in the store, so that a restart waits too.
func (s *Store) PauseNotices(ctx context.Context, platform string, until time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE outbox SET not_before = max(not_before, ?) WHERE platform = ? AND dead_at IS NULL`,
		unixNanos(until), platform)
	return wrap("pause "+platform+" notices", err)
}

// NextNoticeDue is when ClaimNotices will next hand out a notice that it
// would not now (the first of a destination, past its backoff and its
// claim); ok is false when there is none.
func (s *Store) NextNoticeDue(ctx context.Context) (at time.Time, ok bool, err error) {
	var next sql.NullInt64
	err = s.r.QueryRowContext(ctx, `SELECT min(max(o.not_before, o.claimed_until)) FROM outbox o
		WHERE o.dead_at IS NULL
			AND o.id = (SELECT min(h.id) FROM outbox h WHERE h.platform = o.platform AND h.dest = o.dest AND h.dead_at IS NULL)`).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, false, wrap("next notice", err)
	}
	return time.Unix(0, next.Int64).UTC(), true, nil
}

// ReleaseNoticeClaims makes every pending notice free to claim: ferry on
// SQLite is one process, so what the one before it was delivering is owed.
func (s *Store) ReleaseNoticeClaims(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `UPDATE outbox SET claimed_until = 0 WHERE claimed_until != 0`)
	return wrap("release notice claims", err)
}

// RetryNotice makes a dead notice pending again, due now, with a fresh
// give-up clock; an error wrapping pipeline.ErrNotFound when id is no dead
// notice.
func (s *Store) RetryNotice(ctx context.Context, id int64) error {
	res, err := s.w.ExecContext(ctx, `UPDATE outbox SET dead_at = NULL, not_before = 0, attempts = 0, created_at = ?
		WHERE id = ? AND dead_at IS NOT NULL`, nanos(s.now()), id)
	if err == nil {
		err = mustChange(res, fmt.Errorf("no dead notice %d (it was delivered, or is still being tried): %w", id, pipeline.ErrNotFound))
	}
	if err != nil {
		return fmt.Errorf("retry notice %d: %w", id, err)
	}
	s.notify()
	return nil
}

// Notices returns the rows f selects, oldest first.
func (s *Store) Notices(ctx context.Context, f pipeline.NoticeFilter) ([]pipeline.Notice, error) {
	limit, err := sqlLimit(f.Limit)
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	q, args := `SELECT `+noticeColumns+` FROM outbox WHERE 1 = 1`, []any{}
	if f.Platform != "" {
		q, args = q+` AND platform = ?`, append(args, f.Platform)
	}
	if f.Dead {
		q += ` AND dead_at IS NOT NULL`
	}
	ns, err := scanAll(ctx, s.r, scanNotice, q+` ORDER BY id LIMIT ?`, append(args, limit)...)
	return ns, wrap("notices", err)
}

// Notice returns one outbox row, or an error wrapping pipeline.ErrNotFound.
func (s *Store) Notice(ctx context.Context, id int64) (pipeline.Notice, error) {
	n, err := scanNotice(s.r.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM outbox WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return n, fmt.Errorf("no notice %d (it was delivered): %w", id, pipeline.ErrNotFound)
	}
	return n, wrap(fmt.Sprintf("notice %d", id), err)
}

// OutboxBacklog is what the outbox holds for one platform.
type OutboxBacklog struct {
	Platform string
	Pending  int
	Dead     int
	Oldest   time.Time // when the oldest pending notice was owed; zero with none
}

// OutboxBacklogs returns the backlog of every platform with rows.
func (s *Store) OutboxBacklogs(ctx context.Context) ([]OutboxBacklog, error) {
	bs, err := scanAll(ctx, s.r, func(sc scanner) (OutboxBacklog, error) {
		var b OutboxBacklog
		return b, sc.Scan(&b.Platform, &b.Pending, &b.Dead, scanNanos(&b.Oldest))
	}, `SELECT platform, count(*) FILTER (WHERE dead_at IS NULL), count(*) FILTER (WHERE dead_at IS NOT NULL),
		min(created_at) FILTER (WHERE dead_at IS NULL)
		FROM outbox GROUP BY platform ORDER BY platform`)
	return bs, wrap("outbox backlog", err)
}

// NoticeRef returns what a destination made on its platform (a Slack
// card's "channel ts", a comment ID); "" when it made nothing yet.
func (s *Store) NoticeRef(ctx context.Context, platform, dest string) (string, error) {
	var ref string
	err := s.r.QueryRowContext(ctx, `SELECT ref FROM outbox_refs WHERE platform = ? AND dest = ?`, platform, dest).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return ref, wrap("ref of "+platform+" "+dest, err)
}

// PutNoticeRef keeps what a destination made, for a write that does not go
// through the outbox (an answer on a pull request).
func (s *Store) PutNoticeRef(ctx context.Context, platform, dest, ref string) error {
	err := s.write(ctx, func(tx *sql.Tx) error { return putNoticeRef(ctx, tx, platform, dest, ref, s.now()) })
	return wrap("keep ref of "+platform+" "+dest, err)
}

func putNoticeRef(ctx context.Context, tx *sql.Tx, platform, dest, ref string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox_refs (platform, dest, ref, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (platform, dest) DO UPDATE SET ref = excluded.ref, updated_at = excluded.updated_at`,
		platform, dest, ref, now.UnixNano())
	return err
}

// unixNanos is t in unix nanoseconds; 0 for the zero time.
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
