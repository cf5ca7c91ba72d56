package storage

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresMigrationFiles are PostgreSQL's migrations: the same schema as
// SQLite's, from version 13 on, each later change written for both under
// one number (TestSchemasInStep compares the two).
//
//go:embed migrations/postgres/*.sql
var postgresMigrationFiles embed.FS

// MigratePostgres applies to the PostgreSQL database at dsn the migrations
// it lacks, in order, each in its own transaction under an advisory lock
// (so that replicas starting together migrate once), and returns the
// versions it applied. A database with a migration this ferry does not
// know was written by a newer ferry, and is left alone.
func MigratePostgres(ctx context.Context, dsn string) (applied []int, err error) {
	all, err := readMigrations(postgresMigrationFiles, "migrations/postgres")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	known := map[int]bool{}
	for _, m := range all {
		known[m.version] = true
	}
	for _, m := range all {
		done, err := applyPostgres(ctx, conn, m, known)
		if err != nil {
			return applied, fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		if done {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// migrationLock is the advisory lock migrations hold: "ferry" in ASCII.
const migrationLock = 0x6665727279

func applyPostgres(ctx context.Context, conn *pgx.Conn, m migration, known map[int]bool) (done bool, err error) {
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			return err
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return err
		}
		for _, v := range versions {
			if !known[v] {
				return fmt.Errorf("the database has schema version %d, which this ferry does not know: it was written by a newer ferry; upgrade ferry", v)
			}
			if v == m.version {
				return nil
			}
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, m.version, m.name, time.Now().UnixNano())
		done = err == nil
		return err
	})
	return done, err
}
