package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// AcquireLease gives owner the lease name until now+ttl: a new lease at
// generation 1, an expired or released one at the next generation, or the
// one owner already holds, renewed.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (pipeline.Lease, error) {
	l := pipeline.Lease{Name: name, Owner: owner, Expires: now.Add(ttl)}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var held pipeline.Lease
		err := tx.QueryRowContext(ctx, `SELECT owner, generation, expires_at FROM leases WHERE name = ?`+s.forUpdate(), name).
			Scan(&held.Owner, &held.Generation, scanNanos(&held.Expires))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			l.Generation = 1
			_, err = tx.ExecContext(ctx, `INSERT INTO leases (name, owner, generation, expires_at) VALUES (?, ?, ?, ?)`,
				name, owner, l.Generation, nanos(l.Expires))
			return err
		case err != nil:
			return err
		case held.Owner == owner && now.Before(held.Expires):
			l.Generation = held.Generation
		case now.Before(held.Expires):
			return fmt.Errorf("%w: held by %s until %s", pipeline.ErrConflict, held.Owner, held.Expires.UTC().Format(time.RFC3339Nano))
		default:
			l.Generation = held.Generation + 1
		}
		_, err = tx.ExecContext(ctx, `UPDATE leases SET owner = ?, generation = ?, expires_at = ? WHERE name = ?`,
			owner, l.Generation, nanos(l.Expires), name)
		return err
	})
	if err != nil {
		return pipeline.Lease{}, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return l, nil
}

// RenewLease extends l to now+ttl if it is still held at its generation.
func (s *Store) RenewLease(ctx context.Context, l pipeline.Lease, now time.Time, ttl time.Duration) (pipeline.Lease, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ? AND generation = ?`,
		nanos(now.Add(ttl)), l.Name, l.Owner, l.Generation)
	if err == nil {
		err = mustChange(res, pipeline.ErrFenced)
	}
	if err != nil {
		return l, fmt.Errorf("renew lease %s: %w", l.Name, err)
	}
	l.Expires = now.Add(ttl)
	return l, nil
}

// ReleaseLease makes l free to take, if it is still held at its generation.
func (s *Store) ReleaseLease(ctx context.Context, l pipeline.Lease) error {
	_, err := s.w.ExecContext(ctx, `UPDATE leases SET expires_at = 0 WHERE name = ? AND owner = ? AND generation = ?`,
		l.Name, l.Owner, l.Generation)
	return wrap("release lease "+l.Name, err)
}

// EndLease deletes l, if it is still held at its generation.
func (s *Store) EndLease(ctx context.Context, l pipeline.Lease) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND owner = ? AND generation = ?`,
		l.Name, l.Owner, l.Generation)
	return wrap("end lease "+l.Name, err)
}

// ReleaseLeases makes every lease free to take: ferry alone on its SQLite
// file, starting again, takes over what it held before at once.
func (s *Store) ReleaseLeases(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `UPDATE leases SET expires_at = 0 WHERE expires_at != 0`)
	return wrap("release leases", err)
}

// Leases lists the leases, by name.
func (s *Store) Leases(ctx context.Context) ([]pipeline.Lease, error) {
	ls, err := scanAll(ctx, s.r, func(sc scanner) (pipeline.Lease, error) {
		var l pipeline.Lease
		err := sc.Scan(&l.Name, &l.Owner, &l.Generation, scanNanos(&l.Expires))
		return l, err
	}, `SELECT name, owner, generation, expires_at FROM leases ORDER BY name`)
	return ls, wrap("leases", err)
}

// fenced fails with pipeline.ErrFenced, inside tx, if ctx carries a fence
// whose lease has moved on. On PostgreSQL it holds the lease's row (FOR
// SHARE) until tx ends, so that no replica takes the lease between the
// check and the commit; on SQLite the one writer does that.
func (s *Store) fenced(ctx context.Context, tx *sql.Tx) error {
	f, ok := pipeline.FenceOf(ctx)
	if !ok {
		return nil
	}
	var gen int64
	err := tx.QueryRowContext(ctx, `SELECT generation FROM leases WHERE name = ?`+s.forShare(), f.Lease).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) || err == nil && gen != f.Generation {
		return fmt.Errorf("%w: %s is at generation %d, this write was made under %d", pipeline.ErrFenced, f.Lease, gen, f.Generation)
	}
	return err
}

// exec runs a write of one statement, fenced (see fenced) if ctx carries
// a fence.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if _, ok := pipeline.FenceOf(ctx); !ok {
		return s.w.ExecContext(ctx, query, args...)
	}
	var res sql.Result
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.fenced(ctx, tx); err != nil {
			return err
		}
		var err error
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// forUpdate and forShare lock the rows a query reads until its
// transaction ends, on PostgreSQL; SQLite's one writer needs no row locks.
func (s *Store) forUpdate() string { return s.dialect(" FOR UPDATE") }
func (s *Store) forShare() string  { return s.dialect(" FOR SHARE") }

// skipLocked makes a claim's query pass over the rows another replica is
// claiming at that moment, on PostgreSQL.
func (s *Store) skipLocked() string { return s.dialect(" FOR UPDATE SKIP LOCKED") }

func (s *Store) dialect(postgres string) string {
	if s.postgres == "" {
		return ""
	}
	return postgres
}
