package storage

import (
	"context"
	"fmt"

	"github.com/ferrybot/ferry/pipeline"
)

// Audit adds e to the audit log; the store numbers it, and e.ID is ignored.
func (s *SQLite) Audit(ctx context.Context, e pipeline.AuditEntry) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit (at, actor, action, project, env, deploy_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		nanos(e.At), e.Actor, e.Action, e.Project, e.Env, e.DeployID, e.Detail)
	return wrap("audit "+e.Action, err)
}

// AuditLog returns the last limit entries of the audit log, newest first;
// limit 0 returns them all.
func (s *SQLite) AuditLog(ctx context.Context, limit int) ([]pipeline.AuditEntry, error) {
	n, err := sqlLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	es, err := scanAll(ctx, s.r, func(sc scanner) (pipeline.AuditEntry, error) {
		var e pipeline.AuditEntry
		err := sc.Scan(&e.ID, scanNanos(&e.At), &e.Actor, &e.Action, &e.Project, &e.Env, &e.DeployID, &e.Detail)
		return e, err
	}, `SELECT id, at, actor, action, project, env, deploy_id, detail FROM audit ORDER BY id DESC LIMIT ?`, n)
	return es, wrap("audit log", err)
}
