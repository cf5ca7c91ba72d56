package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ferrybot/ferry/storage/pgtest"
)

// TestStart: the server takes connections on 127.0.0.1, its database is
// empty and writable, and two servers run side by side.
func TestStart(t *testing.T) {
	ctx := context.Background()
	for range 2 {
		conn, err := pgx.Connect(ctx, pgtest.Start(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `CREATE TABLE probe (id bigint PRIMARY KEY, name text NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		var name string
		if err := conn.QueryRow(ctx, `INSERT INTO probe VALUES (1, '部署') RETURNING name`).Scan(&name); err != nil || name != "部署" {
			t.Fatalf("round trip: %q %v", name, err)
		}
		var addr string
		if err := conn.QueryRow(ctx, `SELECT host(inet_server_addr())`).Scan(&addr); err != nil || addr != "127.0.0.1" {
			t.Fatalf("server address %q %v", addr, err)
		}
	}
}
