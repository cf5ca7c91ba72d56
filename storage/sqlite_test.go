package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage/pgtest"
)

// clock is a fake time source: every reading is a second after the last.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// openAt opens the store at path with a fake clock and closes it after the test.
func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = newClock().Now
	t.Cleanup(func() { s.Close() })
	return s
}

// openTest opens a new store: a SQLite file in a temporary directory or,
// with FERRY_TEST_STORE=postgres, a new database on the PostgreSQL
// server TestMain started. Every test that opens its store here is a
// contract test of both stores.
func openTest(t testing.TB) *Store {
	t.Helper()
	if pgServer != nil {
		return openAt(t, pgServer.Database(t))
	}
	return openAt(t, filepath.Join(t.TempDir(), "ferry.db"))
}

// openReplicas opens two stores on one new database, as two replicas
// (on SQLite, two processes on one file) would.
func openReplicas(t testing.TB) (*Store, *Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ferry.db")
	if pgServer != nil {
		path = pgServer.Database(t)
	}
	return openAt(t, path), openAt(t, path)
}

// sqliteOnly ends a test that checks what only SQLite has (its query
// plans, its pragmas) when the stores are PostgreSQL's.
func sqliteOnly(t *testing.T, why string) {
	t.Helper()
	if pgServer != nil {
		t.Skip("SQLite only: " + why)
	}
}

// pgServer runs the stores of openTest when FERRY_TEST_STORE=postgres.
var pgServer *pgtest.Server

func TestMain(m *testing.M) {
	if os.Getenv("FERRY_TEST_STORE") == "postgres" {
		srv, err := pgtest.StartServer()
		if err != nil {
			fmt.Fprintln(os.Stderr, "storage tests on PostgreSQL:", err)
			os.Exit(1)
		}
		pgServer = srv
		code := m.Run()
		srv.Stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func latestVersion(t testing.TB) int {
	t.Helper()
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	return all[len(all)-1].version
}

// versions lists the numbers of the embedded migrations.
func versions(t testing.TB) []int {
	t.Helper()
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var vs []int
	for _, m := range all {
		vs = append(vs, m.version)
	}
	return vs
}

func TestOpenMigrates(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != latestVersion(t) || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, latestVersion(t))
	}
	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", applied, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestMigrateReportsWhatItApplied(t *testing.T) {
	ctx := context.Background()
	s, err := OpenUnmigrated(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("SchemaVersion of a new file = %d, %v; want 0", v, err)
	}
	want := versions(t)
	applied, err := s.Migrate(ctx)
	if err != nil || !reflect.DeepEqual(applied, want) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, want)
	}
	applied, err = s.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", applied, err)
	}
}

func TestOpenTwiceSharesTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	a, b := openAt(t, path), openAt(t, path)
	d := pipeline.Deploy{Project: "api", Env: "prod", Kind: pipeline.KindDeploy}
	if err := a.CreateDeploy(ctx, &d); err != nil {
		t.Fatal(err)
	}
	got, err := b.Deploy(ctx, d.ID)
	if err != nil || got.Project != "api" {
		t.Fatalf("the second store reads %+v, %v", got, err)
	}
	// Two processes writing one file: the other's writer waits its turn.
	if _, err := b.Transition(ctx, pipeline.Transition{DeployID: d.ID, From: pipeline.StateRequested, To: pipeline.StateQueued}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Transition(ctx, pipeline.Transition{DeployID: d.ID, From: pipeline.StateQueued, To: pipeline.StateRunning}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	s := openAt(t, path)
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err == nil {
		t.Fatal("Migrate of a database from a newer ferry succeeded")
	}
	if s2, err := Open(ctx, path); err == nil {
		s2.Close()
		t.Fatal("Open of a database from a newer ferry succeeded")
	}
}

// TestMigrateFillsAGap applies a migration with a lower number than the
// database's latest, as when a branch that took a skipped number merges
// after the database moved past it.
func TestMigrateFillsAGap(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	first := all[0]
	if _, err := s.w.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = ?`, first.version); err != nil {
		t.Fatal(err)
	}
	// Applying 0001 again would fail on its CREATE TABLEs: this one is
	// harmless, and shows it ran.
	probe := migration{version: first.version, name: first.name, sql: `CREATE TABLE gap_probe (x INTEGER)`}
	known := map[int]bool{}
	for _, m := range all {
		known[m.version] = true
	}
	done, err := s.apply(ctx, probe, known)
	if err != nil || !done {
		t.Fatalf("apply of the missing migration = %v, %v; want it applied", done, err)
	}
	if _, err := s.w.ExecContext(ctx, `SELECT x FROM gap_probe`); err != nil {
		t.Fatalf("the missing migration did not run: %v", err)
	}
}

func TestOpenRefusesNonFiles(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:?cache=shared"} {
		if s, err := Open(context.Background(), path); !errors.Is(err, pipeline.ErrInvalid) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Open(%q) = %v; want an error wrapping ErrInvalid", path, err)
		}
	}
}

func TestOpenOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?x=1#y%20", "ferry.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path)
	d := pipeline.Deploy{Project: "api", Env: "prod"}
	if err := s.CreateDeploy(context.Background(), &d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no database at %s: %v", path, err)
	}
}

func TestPragmas(t *testing.T) {
	sqliteOnly(t, "it reads SQLite's query plans and pragmas")
	ctx := context.Background()
	s := openTest(t)
	want := map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"synchronous":  "2", // FULL: a commit is on disk before it returns
	}
	for pragma, v := range want {
		for _, h := range []struct {
			name string
			q    querier
		}{{"writer", s.w}, {"reader", s.r}} {
			var got string
			if err := h.q.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != v {
				t.Errorf("%s: PRAGMA %s = %s, want %s", h.name, pragma, got, v)
			}
		}
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM locks`); err == nil {
		t.Error("the reader pool can write")
	}
}

// TestRestart stores one of everything, closes the store and opens the file
// again, as ferry does when it restarts.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = newClock().Now
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d := pipeline.Deploy{Project: "api", Env: "prod", Kind: pipeline.KindDeploy, Ref: "v1.2.0"}
	must(t, s.CreateDeploy(ctx, &d))
	d, err = s.Transition(ctx, pipeline.Transition{DeployID: d.ID, From: pipeline.StateRequested, To: pipeline.StateQueued, Event: pipeline.EventEnqueue}, nil)
	must(t, err)
	must(t, s.PutUnit(ctx, pipeline.Unit{DeployID: d.ID, Name: "web1", State: pipeline.UnitDone, Started: at}))
	must(t, s.AppendLog(ctx, pipeline.LogEntry{DeployID: d.ID, Unit: "web1", Step: "install", Text: "ok", At: at}))
	must(t, s.AddApproval(ctx, pipeline.Approval{DeployID: d.ID, Approver: "bob", At: at}))
	must(t, s.PutLock(ctx, pipeline.Lock{Project: "*", Env: "prod", Owner: "carol", Created: at}))
	must(t, s.Audit(ctx, pipeline.AuditEntry{At: at, Actor: "alice", Action: "deploy", DeployID: d.ID}))
	if _, err := s.Receive(ctx, pipeline.Delivery{Platform: "github", ID: "guid-1", Event: "push", Body: []byte("{}")}, 0); err != nil {
		t.Fatal(err)
	}
	must(t, s.Close())

	s = openAt(t, path)
	got, err := s.Deploy(ctx, d.ID)
	if err != nil || !reflect.DeepEqual(got, d) {
		t.Fatalf("after restart Deploy = %+v, %v\nwant %+v", got, err, d)
	}
	counts := map[string]func() (int, error){
		"transitions": func() (int, error) { v, err := s.Transitions(ctx, d.ID); return len(v), err },
		"units":       func() (int, error) { v, err := s.Units(ctx, d.ID); return len(v), err },
		"logs":        func() (int, error) { v, err := s.Logs(ctx, d.ID, 0); return len(v), err },
		"approvals":   func() (int, error) { v, err := s.Approvals(ctx, d.ID); return len(v), err },
		"locks":       func() (int, error) { v, err := s.Locks(ctx); return len(v), err },
		"audit":       func() (int, error) { v, err := s.AuditLog(ctx, 0); return len(v), err },
		"deploys":     func() (int, error) { return s.CountDeploys(ctx) },
	}
	for name, count := range counts {
		if n, err := count(); err != nil || n != 1 {
			t.Errorf("after restart %s: %d, %v; want 1", name, n, err)
		}
	}
	if r, err := s.Receive(ctx, pipeline.Delivery{Platform: "github", ID: "guid-1", Event: "push"}, 0); err != nil || r != pipeline.Duplicate {
		t.Errorf("after restart a redelivery is %v, %v; want a duplicate", r, err)
	}
	next := pipeline.Deploy{Project: "api", Env: "prod"}
	must(t, s.CreateDeploy(ctx, &next))
	if next.ID <= d.ID {
		t.Errorf("a deploy after restart got ID %d, not after %d", next.ID, d.ID)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
