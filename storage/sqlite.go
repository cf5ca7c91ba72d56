package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ferrybot/ferry/pipeline"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ pipeline.Store = (*Store)(nil)

// Store is a pipeline.Store in one SQLite database file, or in a
// PostgreSQL database. It is safe for concurrent use. What follows is of
// SQLite; on PostgreSQL the writer is one connection too, and readers a
// pool.
//
// It holds two connection pools on the file. Writes go through a pool of one
// connection, so writers wait their turn in database/sql's queue, in order and
// without polling, and never fail with SQLITE_BUSY because of each other. A
// single pool of several connections with _txlock=immediate would be correct
// too, but its writers would wait on SQLite's file lock, which busy_timeout
// polls with sleeps: slow and unfair under contention, and after 5 s an
// error. Reads go through a second pool of several read-only connections,
// which in WAL mode read alongside the writer and each other.
//
// busy_timeout and BEGIN IMMEDIATE (_txlock) still matter for other
// processes on the same file, such as `ferry migrate` beside `ferry serve`:
// a deferred transaction that reads, then writes after another process
// committed fails at once with SQLITE_BUSY_SNAPSHOT, whereas an immediate one
// takes the write lock first, waiting up to busy_timeout for it.
type Store struct {
	// Now is the clock for the times the store sets (CreatedAt, UpdatedAt,
	// a zero Transition.At, a delivery's arrival). Nil means time.Now. Set it
	// before the store is used.
	Now func() time.Time

	w *sql.DB // the writer: one connection, BEGIN IMMEDIATE
	r *sql.DB // readers: query_only connections

	// postgres is the connection string of a PostgreSQL database the
	// store keeps its state in instead (see pgdriver.go); "" for SQLite.
	postgres string

	owner    string        // names this store in the claims it takes
	group    chan *groupOp // writes waiting for a group commit
	closing  chan struct{} // closed by Close
	closed   sync.Once
	grouping chan struct{} // closed when the group committer has stopped
	noticed  chan struct{} // a commit added to the outbox (see Noticed)
	changes  chan int64    // deploys other replicas changed (see Changes)
	stmts    deliveryStmts // prepared by Open, once the schema is up to date
	codec    codec         // of delivery bodies
}

// Open opens the SQLite database at path, creating the file if it does not
// exist, or the PostgreSQL database path names (postgres://…), and
// applies pending migrations. An in-memory SQLite database cannot be
// shared by the two pools.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path)
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if s.stmts, err = prepareDeliveries(ctx, s.w); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// OpenUnmigrated opens the database at path like Open but leaves its schema
// as it is. `ferry migrate` uses it to apply and report migrations with
// Migrate; the store's other methods need an up-to-date schema.
func OpenUnmigrated(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path)
}

func open(ctx context.Context, path string) (*Store, error) {
	if IsPostgres(path) {
		return openPostgres(ctx, path)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open %q: %w: want the path of a database file", path, pipeline.ErrInvalid)
	}
	w, err := sql.Open("sqlite", dsn(path)+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	// The writer connects first: it creates the file and turns on WAL,
	// which then persists in the file for every later connection.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path)+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return newStore(w, r, "")
}

// newStore starts a store on its writer and readers.
func newStore(w, r *sql.DB, postgres string) (*Store, error) {
	c, err := newCodec()
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open: %w", err)
	}
	owner := make([]byte, 8)
	rand.Read(owner)
	s := &Store{w: w, r: r, postgres: postgres, owner: hex.EncodeToString(owner), codec: c,
		group: make(chan *groupOp), closing: make(chan struct{}), grouping: make(chan struct{}),
		noticed: make(chan struct{}, 1), changes: make(chan int64, 256)}
	go s.commitGroups()
	return s, nil
}

// IsPostgres reports whether storage names a PostgreSQL database
// (postgres:// or postgresql://) rather than a SQLite file.
func IsPostgres(storage string) bool {
	return strings.HasPrefix(storage, "postgres://") || strings.HasPrefix(storage, "postgresql://")
}

// openPostgres opens the store on a PostgreSQL database: one writer
// connection, as on SQLite, and a pool of readers.
func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	dsn = withStallBound(dsn)
	w, err := sql.Open(pgDriver(), dsn)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open(pgDriver(), dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	for _, db := range []*sql.DB{w, r} {
		if err := db.PingContext(ctx); err != nil {
			w.Close()
			r.Close()
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
	}
	return newStore(w, r, dsn)
}

// stalledTx bounds how long PostgreSQL lets a connection of ferry sit in
// a transaction without sending anything: a replica stopped mid-write (a
// paused VM, SIGSTOP, a stalled node) would otherwise hold its row locks,
// among them the FOR SHARE of its lease's fence, and the replica taking
// its deploys over would wait on them for as long as it is stopped. The
// server ends such a session after stalledTx, and the locks with it.
// ferry's transactions never wait on anything but the database.
const stalledTx = "5000" // milliseconds

// withStallBound adds idle_in_transaction_session_timeout to a PostgreSQL
// URL or keyword/value DSN that does not set it itself.
func withStallBound(dsn string) string {
	const param = "idle_in_transaction_session_timeout"
	switch {
	case strings.Contains(dsn, param):
		return dsn
	case !IsPostgres(dsn):
		return dsn + " " + param + "=" + stalledTx
	case strings.Contains(dsn, "?"):
		return dsn + "&" + param + "=" + stalledTx
	}
	return dsn + "?" + param + "=" + stalledTx
}

// dsn is the data source name of the database file at path. The pragmas are
// in the DSN, not run once after opening, so that every connection a pool
// opens gets them.
func dsn(path string) string {
	// A file: URI decodes %XX in the path and ends it at '?' or '#'.
	path = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + path +
		"?_pragma=busy_timeout(5000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		// FULL: every commit is on disk (fsync of the WAL) before it
		// returns, so what ferry acknowledged survives a power cut too.
		// Group commits (grouped) share that fsync among the webhooks
		// stored at once; NORMAL would lose the last commits on power loss.
		"&_pragma=synchronous(FULL)"
}

// Close closes the database.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		s.closeGroups()
		s.stmts.close()
		s.codec.close()
		err = errors.Join(s.w.Close(), s.r.Close())
	})
	return err
}

// Ping reports whether the database can be read and written, for a
// readiness check.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.SchemaVersion(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: writer: %w", err)
	}
	return nil
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// write runs fn in a write transaction, committed if fn returns nil. fn must
// not call the store's write methods: the writer has one connection, and fn
// holds it.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// querier is what reads need of *sql.DB and *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanAll reads every row of a query with scan.
func scanAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, rows.Err()
}

// sqlLimit turns the store's limit (0: none) into SQLite's (-1: none).
func sqlLimit(n int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("%w: negative limit %d", pipeline.ErrInvalid, n)
	case n == 0:
		return -1, nil
	}
	return n, nil
}

// sqliteConstraintForeignKey is SQLITE_CONSTRAINT_FOREIGNKEY, the extended
// result code of a foreign key violation.
const sqliteConstraintForeignKey = 787

// missingDeploy turns the foreign key violation of a row written for a
// deploy that does not exist into an error wrapping pipeline.ErrNotFound.
func missingDeploy(err error, id int64) error {
	var coded interface{ Code() int }
	if errors.As(err, &coded) && coded.Code() == sqliteConstraintForeignKey || pgCode(err) == "23503" {
		return fmt.Errorf("deploy %d %w", id, pipeline.ErrNotFound)
	}
	return err
}

// nanos stores a time as INTEGER unix nanoseconds, and the zero time as NULL.
type nanos time.Time

var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// Value implements driver.Valuer.
func (n nanos) Value() (driver.Value, error) {
	t := time.Time(n)
	switch {
	case t.IsZero():
		return nil, nil
	case t.Before(minNanos) || t.After(maxNanos):
		return nil, fmt.Errorf("%w: time %s is outside the years 1678 to 2262", pipeline.ErrInvalid, t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// scanNanos reads what nanos stored into t, in UTC.
func scanNanos(t *time.Time) sql.Scanner { return nanosDest{t} }

type nanosDest struct{ t *time.Time }

func (d nanosDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		*d.t = time.Unix(0, v).UTC()
	default:
		return fmt.Errorf("scan time: want unix nanoseconds, got %T", src)
	}
	return nil
}

// wrap prefixes err with the operation that failed; nil stays nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// mustChange returns none if res changed no row.
func mustChange(res sql.Result, none error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}
