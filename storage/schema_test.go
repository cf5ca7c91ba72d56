package storage

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ferrybot/ferry/storage/pgtest"
)

// TestSchemasInStep: SQLite's and PostgreSQL's migrations make the same
// tables with the same columns and end at the same version, so a
// migration written for one and not the other fails here. Migrating
// PostgreSQL twice applies nothing the second time.
func TestSchemasInStep(t *testing.T) {
	ctx := context.Background()
	lite, err := Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	want := map[string][]string{}
	tables, err := scanAll(ctx, lite.r, func(sc scanner) (string, error) {
		var n string
		return n, sc.Scan(&n)
	}, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		cols, err := scanAll(ctx, lite.r, func(sc scanner) (string, error) {
			var n string
			return n, sc.Scan(&n)
		}, `SELECT name FROM pragma_table_info(?) ORDER BY name`, table)
		if err != nil {
			t.Fatal(err)
		}
		want[table] = cols
	}

	dsn := pgtest.Start(t)
	applied, err := MigratePostgres(ctx, dsn)
	if err != nil || len(applied) == 0 {
		t.Fatalf("migrate PostgreSQL: %v %v", applied, err)
	}
	if again, err := MigratePostgres(ctx, dsn); err != nil || len(again) != 0 {
		t.Fatalf("migrating again applied %v (%v); want nothing", again, err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		got[table] = append(got[table], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, table := range slices.Sorted(maps.Keys(want)) {
		if !slices.Equal(got[table], want[table]) {
			t.Errorf("table %s: PostgreSQL has columns %v, SQLite %v", table, got[table], want[table])
		}
	}
	for table := range got {
		if want[table] == nil {
			t.Errorf("PostgreSQL has table %s, which SQLite has not", table)
		}
	}
	lv, err := lite.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pv int
	if err := conn.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&pv); err != nil || pv != lv {
		t.Fatalf("PostgreSQL is at schema version %d (%v), SQLite at %d: write migration %d for both", pv, err, lv, max(pv, lv))
	}
}
