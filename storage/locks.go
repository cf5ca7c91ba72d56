package storage

import (
	"context"
	"fmt"

	"github.com/ferrybot/ferry/pipeline"
)

// PutLock creates the lock of (l.Project, l.Env), or replaces it.
func (s *Store) PutLock(ctx context.Context, l pipeline.Lock) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO locks (project, env, owner, reason, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (project, env) DO UPDATE SET
			owner = excluded.owner, reason = excluded.reason,
			created_at = excluded.created_at, expires_at = excluded.expires_at`,
		l.Project, l.Env, l.Owner, l.Reason, nanos(l.Created), nanos(l.Expires))
	return wrap("lock "+l.Scope(), err)
}

// DeleteLock removes the lock of (project, env), or fails with an error
// wrapping pipeline.ErrNotFound if there is none.
func (s *Store) DeleteLock(ctx context.Context, project, env string) error {
	scope := pipeline.Lock{Project: project, Env: env}.Scope()
	res, err := s.w.ExecContext(ctx, `DELETE FROM locks WHERE project = ? AND env = ?`, project, env)
	if err != nil {
		return fmt.Errorf("unlock %s: %w", scope, err)
	}
	none := fmt.Errorf("%s is not locked: %w", scope, pipeline.ErrNotFound)
	return wrap("unlock", mustChange(res, none))
}

// Locks returns every lock, expired or not, by project and environment.
func (s *Store) Locks(ctx context.Context) ([]pipeline.Lock, error) {
	ls, err := scanAll(ctx, s.r, func(sc scanner) (pipeline.Lock, error) {
		var l pipeline.Lock
		err := sc.Scan(&l.Project, &l.Env, &l.Owner, &l.Reason, scanNanos(&l.Created), scanNanos(&l.Expires))
		return l, err
	}, `SELECT project, env, owner, reason, created_at, expires_at FROM locks ORDER BY project, env`)
	return ls, wrap("list locks", err)
}
