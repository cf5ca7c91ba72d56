package storage

import (
	"context"
	"fmt"
	"strings"
)

// copyTables are the tables CopyTo copies, parents before the rows that
// refer to them. sign_in_failures (a minute's throttle state), leases
// (held by the processes running on the old database) and
// schema_migrations (each store's own) are not copied.
var copyTables = []string{
	"deploys", "transitions", "units", "logs", "approvals", "locks", "unit_releases",
	"links", "digests", "deliveries", "delivery_bodies", "audit", "outbox", "outbox_refs",
	"revoked_sessions", "promotions", "announcements", "api_tokens",
}

// CopyTo copies every row of the store into to (a PostgreSQL store, made
// empty by its migrations or filled by an earlier CopyTo), skipping rows
// to has already, and returns the rows each table has on both sides. A
// count that differs is an error: run it again once nothing writes to
// either. Identity columns of to continue after the highest copied ID.
func (s *Store) CopyTo(ctx context.Context, to *Store) (map[string]int64, error) {
	if to.postgres == "" {
		return nil, fmt.Errorf("copy: the target must be a PostgreSQL store")
	}
	counts := map[string]int64{}
	for _, table := range copyTables {
		if err := s.copyTable(ctx, to, table); err != nil {
			return counts, fmt.Errorf("copy %s: %w", table, err)
		}
		var from, got int64
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&from); err != nil {
			return counts, fmt.Errorf("count %s: %w", table, err)
		}
		if err := to.r.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&got); err != nil {
			return counts, fmt.Errorf("count %s in PostgreSQL: %w", table, err)
		}
		if from != got {
			return counts, fmt.Errorf("copy %s: %d rows here, %d in PostgreSQL; run the copy again when nothing writes to either", table, from, got)
		}
		counts[table] = from
	}
	return counts, nil
}

// copyTable copies one table's rows, in one transaction of to.
func (s *Store) copyTable(ctx context.Context, to *Store, table string) error {
	rows, err := s.r.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = `"` + c + `"`
	}
	insert := `INSERT INTO ` + table + ` (` + strings.Join(quoted, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(cols)-1) + `) ON CONFLICT DO NOTHING`
	tx, err := to.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, insert)
	if err != nil {
		return err
	}
	defer stmt.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, vals...); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if identity[table] {
		if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', 'id'), GREATEST(COALESCE(max(id), 0), 1), max(id) IS NOT NULL) FROM `+table); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// identity are the tables whose id PostgreSQL generates.
var identity = map[string]bool{"deploys": true, "transitions": true, "approvals": true, "deliveries": true, "audit": true, "outbox": true, "promotions": true, "api_tokens": true}
