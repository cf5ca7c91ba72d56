package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferrybot/ferry/pipeline"
)

// Audit adds e to the audit log; the store numbers it, and e.ID is ignored.
func (s *Store) Audit(ctx context.Context, e pipeline.AuditEntry) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit (at, actor, action, project, env, deploy_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		nanos(e.At), e.Actor, e.Action, e.Project, e.Env, e.DeployID, e.Detail)
	return wrap("audit "+e.Action, err)
}

const selectAudit = `SELECT id, at, actor, action, project, env, deploy_id, detail FROM audit`

func scanAudit(sc scanner) (pipeline.AuditEntry, error) {
	var e pipeline.AuditEntry
	err := sc.Scan(&e.ID, scanNanos(&e.At), &e.Actor, &e.Action, &e.Project, &e.Env, &e.DeployID, &e.Detail)
	return e, err
}

// AuditLog returns the last limit entries of the audit log, newest first;
// limit 0 returns them all.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]pipeline.AuditEntry, error) {
	n, err := sqlLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	es, err := scanAll(ctx, s.r, scanAudit, selectAudit+` ORDER BY id DESC LIMIT ?`, n)
	return es, wrap("audit log", err)
}

// AuditEntries returns the page of the audit log f selects, newest first.
// It reads one entry more than the page holds to know whether another page
// follows.
func (s *Store) AuditEntries(ctx context.Context, f pipeline.AuditFilter) (pipeline.AuditPage, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = pipeline.AuditLimit
	case limit < 0 || limit > pipeline.MaxAuditLimit:
		return pipeline.AuditPage{}, fmt.Errorf("audit entries: %w: limit %d is not from 1 to %d", pipeline.ErrInvalid, f.Limit, pipeline.MaxAuditLimit)
	}
	if f.Before < 0 {
		return pipeline.AuditPage{}, fmt.Errorf("audit entries: %w: negative cursor %d", pipeline.ErrInvalid, f.Before)
	}
	where, args := auditWhere(f)
	es, err := scanAll(ctx, s.r, scanAudit, selectAudit+where+` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return pipeline.AuditPage{}, fmt.Errorf("audit entries: %w", err)
	}
	page := pipeline.AuditPage{Entries: es}
	if len(es) > limit {
		page.Entries = es[:limit]
		page.Next = es[limit-1].ID
	}
	return page, nil
}

// auditWhere is the WHERE clause of f, with its arguments; "" for none.
func auditWhere(f pipeline.AuditFilter) (string, []any) {
	var conds []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	eq("actor", f.Actor)
	eq("project", f.Project)
	eq("env", f.Env)
	eq("action", f.Action)
	// Times beyond what nanos stores bound nothing, or select nothing.
	switch since := f.Since; {
	case since.IsZero() || since.Before(minNanos):
	case since.After(maxNanos):
		conds = append(conds, "1 = 0")
	default:
		conds = append(conds, "at >= ?")
		args = append(args, nanos(since))
	}
	switch until := f.Until; {
	case until.IsZero() || until.After(maxNanos):
	case !until.After(minNanos):
		conds = append(conds, "1 = 0")
	default:
		conds = append(conds, "at < ?")
		args = append(args, nanos(until))
	}
	if f.Before > 0 {
		conds = append(conds, "id < ?")
		args = append(args, f.Before)
	}
	if sc := f.Scope; sc != nil {
		var or []string
		if len(sc.Projects) > 0 {
			or = append(or, "project IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(sc.Projects)), ", ")+")")
			for _, p := range sc.Projects {
				args = append(args, p)
			}
		}
		if sc.Actor != "" {
			or = append(or, "actor = ?")
			args = append(args, sc.Actor)
		}
		if len(or) == 0 {
			or = []string{"1 = 0"} // a scope of nothing
		}
		conds = append(conds, "("+strings.Join(or, " OR ")+")")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}
