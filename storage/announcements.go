package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ferrybot/ferry/pipeline"
)

// Announce records a and owes its notices, in one commit, unless a.Key
// was announced before: then it changes nothing and returns false.
func (s *Store) Announce(ctx context.Context, a pipeline.Announcement, ns []pipeline.Notice) (bool, error) {
	now := s.now()
	fresh := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO announcements (key, project, text, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
			a.Key, a.Project, a.Text, nanos(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		fresh = true
		return s.addNotices(ctx, tx, ns, now)
	})
	if err != nil {
		return false, fmt.Errorf("announce %s: %w", a.Key, err)
	}
	if fresh && len(ns) > 0 {
		s.notify()
	}
	return fresh, nil
}
