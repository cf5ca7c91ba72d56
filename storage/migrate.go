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
// upwards. A number may be skipped — branches developed side by side each
// take their own — so every migration is recorded by its number and applied
// if the database lacks it, whatever came after it. A migration, once
// released, is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string // the file name
	sql     string
}

// migrations reads the embedded migrations of SQLite in order.
func migrations() ([]migration, error) { return readMigrations(migrationFiles, "migrations") }

// readMigrations reads the migrations NNNN_name.sql of a directory in
// order.
func readMigrations(files fs.FS, dir string) ([]migration, error) {
	names, err := fs.Glob(files, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	var all []migration
	for _, path := range names { // fs.Glob sorts
		name := strings.TrimPrefix(path, dir+"/")
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || len(prefix) != 4 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", name)
		}
		if v < 1 || len(all) > 0 && v == all[len(all)-1].version {
			return nil, fmt.Errorf("migration %s: want a number from 0001 that no other file has", name)
		}
		text, err := fs.ReadFile(files, path)
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
func (s *Store) Migrate(ctx context.Context) (applied []int, err error) {
	if s.postgres != "" {
		return MigratePostgres(ctx, s.postgres)
	}
	all, err := migrations()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return s.migrate(ctx, all)
}

// migrate applies the migrations of all the database lacks.
func (s *Store) migrate(ctx context.Context, all []migration) (applied []int, err error) {
	_, err = s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	known := map[int]bool{}
	for _, m := range all {
		known[m.version] = true
	}
	for _, m := range all {
		done, err := s.apply(ctx, m, known)
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
// m once. A database with a migration this ferry does not know (known) was
// written by a newer ferry, and is left alone.
func (s *Store) apply(ctx context.Context, m migration, known map[int]bool) (done bool, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		versions, err := scanAll(ctx, tx, func(sc scanner) (int, error) {
			var v int
			return v, sc.Scan(&v)
		}, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			return err
		}
		have := false
		for _, v := range versions {
			if !known[v] {
				return fmt.Errorf("the database has schema version %d, which this ferry does not know: it was written by a newer ferry; upgrade ferry", v)
			}
			have = have || v == m.version
		}
		if have {
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
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var migrated bool
	exists := `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')`
	if s.postgres != "" {
		exists = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	}
	err := s.r.QueryRowContext(ctx, exists).Scan(&migrated)
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
