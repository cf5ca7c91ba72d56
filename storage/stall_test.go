package storage

import (
	"context"
	"testing"
	"time"
)

// TestStalledReplicaReleasesItsLocks: on PostgreSQL, a replica stopped in
// the middle of a write holds the FOR SHARE of its lease's fence; the
// server ends its session once it has been idle in the transaction for
// the bound, so the replica taking over gets the row instead of waiting
// for as long as the other is stopped.
func TestStalledReplicaReleasesItsLocks(t *testing.T) {
	if pgServer == nil {
		t.Skip("PostgreSQL only: SQLite has one process per file")
	}
	if got := withStallBound("postgres://ferry@db/ferry"); got != "postgres://ferry@db/ferry?idle_in_transaction_session_timeout=5000" {
		t.Errorf("withStallBound = %q", got)
	}
	if got := withStallBound("host=db dbname=ferry"); got != "host=db dbname=ferry idle_in_transaction_session_timeout=5000" {
		t.Errorf("withStallBound = %q", got)
	}
	ctx := context.Background()
	dsn := pgServer.Database(t)
	var bound string
	if err := openAt(t, dsn).w.QueryRowContext(ctx, "SHOW idle_in_transaction_session_timeout").Scan(&bound); err != nil || bound != "5s" {
		t.Errorf("the writer's idle_in_transaction_session_timeout = %q, %v; want 5s", bound, err)
	}
	// The stalled replica's bound is short here, so the test waits
	// 200 ms for the server rather than 5 s.
	stalled, taker := openAt(t, dsn+"&idle_in_transaction_session_timeout=200"), openAt(t, dsn)
	now := time.Now()
	if _, err := stalled.AcquireLease(ctx, "deploy/1", "a", now, time.Second); err != nil {
		t.Fatal(err)
	}
	tx, err := stalled.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT generation FROM leases WHERE name = 'deploy/1'"+stalled.forShare()); err != nil {
		t.Fatal(err)
	}
	// Now the stalled replica sends nothing more; the other takes over.
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	l, err := taker.AcquireLease(wait, "deploy/1", "b", now.Add(2*time.Second), time.Second)
	if err != nil || l.Owner != "b" {
		t.Fatalf("takeover while the other replica stalls in a transaction: %+v, %v", l, err)
	}
	if err := tx.Commit(); err == nil {
		t.Error("the stalled transaction committed after the server should have ended it")
	}
}
