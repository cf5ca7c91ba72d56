package storage

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// migrationFiles are the schema changes, NNNN_name.sql, numbered from 0001
// without gaps. A migration, once released, is never edited: a change is a
// new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string // the file name
	sql     string
}

// migrations reads the embedded migrations in order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var all []migration
	for i, path := range names { // fs.Glob sorts
		name := strings.TrimPrefix(path, "migrations/")
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || len(prefix) != 4 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", name)
		}
		if v != i+1 {
			return nil, fmt.Errorf("migration %s: want number %04d", name, i+1)
		}
		text, err := migrationFiles.ReadFile(path)
		if err != nil {
			return nil, err
		}
		all = append(all, migration{version: v, name: name, sql: string(text)})
	}
	return all, nil
}

// Migrate applies the migrations the database lacks, in order, each in its
// own transaction, and returns the versions it applied: none if the schema is
// up to date. It fails without changing anything if the database has a
// migration this ferry does not know, that is, it was written by a newer ferry.
func (s *SQLite) Migrate(ctx context.Context) (applied []int, err error) {
	all, err := migrations()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	for _, m := range all {
		done, err := s.apply(ctx, m, len(all))
		if err != nil {
			return applied, fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		if done {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// apply applies m unless the database has it, and reports whether it did.
// The check is in the transaction, so two processes migrating one file apply
// m once.
func (s *SQLite) apply(ctx context.Context, m migration, latest int) (done bool, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		var have int
		err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have)
		if err != nil {
			return err
		}
		if have > latest {
			return fmt.Errorf("the database is at schema version %d, newer than this ferry (%d); upgrade ferry", have, latest)
		}
		if have >= m.version {
			return nil
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, nanos(s.now()))
		done = err == nil
		return err
	})
	return done, err
}

// SchemaVersion returns the version of the last migration applied to the
// database, 0 for none.
func (s *SQLite) SchemaVersion(ctx context.Context) (int, error) {
	var migrated bool
	err := s.r.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')`).Scan(&migrated)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if !migrated {
		return 0, nil
	}
	var v int
	err = s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}
