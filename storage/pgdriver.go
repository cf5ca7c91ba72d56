package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// The store's SQL is written once, in the dialect SQLite and PostgreSQL
// share, with ? and ?N placeholders. For PostgreSQL, pgx's database/sql
// driver is wrapped by one that rewrites placeholders to $N, reads
// "LIMIT ?" so that SQLite's -1 (no limit) is PostgreSQL's NULL, and
// passes booleans as the 0 and 1 both schemas keep.
const pgDriverName = "ferry-pgx"

var registerPG sync.Once

func pgDriver() string {
	registerPG.Do(func() { sql.Register(pgDriverName, pgRebind{stdlib.GetDefaultDriver()}) })
	return pgDriverName
}

type pgRebind struct{ driver.Driver }

func (d pgRebind) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return &pgConn{c.(*stdlib.Conn)}, nil
}

// pgConn is pgx's connection with the store's SQL rebound.
type pgConn struct{ *stdlib.Conn }

var (
	_ driver.ExecerContext      = (*pgConn)(nil)
	_ driver.QueryerContext     = (*pgConn)(nil)
	_ driver.ConnPrepareContext = (*pgConn)(nil)
	_ driver.NamedValueChecker  = (*pgConn)(nil)
)

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebind(query))
}

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), args)
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), args)
}

// CheckNamedValue passes booleans as 0 and 1, as SQLite stores them.
func (c *pgConn) CheckNamedValue(v *driver.NamedValue) error {
	if b, ok := v.Value.(bool); ok {
		v.Value = map[bool]int64{false: 0, true: 1}[b]
	}
	return nil
}

var (
	rebound   sync.Map // query → its PostgreSQL form
	indexedBy = regexp.MustCompile(`(?i)\s+INDEXED BY \w+`)
)

// rebind rewrites ? and ?N outside quotes to $N, and LIMIT ? to
// LIMIT NULLIF($N, -1).
func rebind(query string) string {
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	quoted := false
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case ch == '\'':
			quoted = !quoted
			b.WriteByte(ch)
		case ch == '?' && !quoted:
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			num := query[i+1 : j]
			if num == "" {
				n++
				num = strconv.Itoa(n)
			}
			param := "$" + num
			if s := strings.TrimRight(b.String(), " \t\n"); strings.HasSuffix(strings.ToUpper(s), "LIMIT") {
				param = "NULLIF(" + param + "::bigint, -1)"
			}
			b.WriteString(param)
			i = j - 1
		default:
			b.WriteByte(ch)
		}
	}
	// SQLite's index hints: PostgreSQL's planner picks its own.
	q := scalarMinMax(indexedBy.ReplaceAllString(b.String(), ""))
	rebound.Store(query, q)
	return q
}

// scalarMinMax writes SQLite's two-argument max(a, b) and min(a, b) as
// PostgreSQL's GREATEST and LEAST; one-argument max and min are
// aggregates in both.
func scalarMinMax(q string) string {
	lower := strings.ToLower(q)
	var b strings.Builder
	last := 0
	for i := 0; i+4 <= len(q); i++ {
		fn := lower[i : i+4]
		if fn != "max(" && fn != "min(" || i > 0 && isIdent(lower[i-1]) {
			continue
		}
		depth, comma := 0, false
		for j := i + 3; j < len(q); j++ {
			switch q[j] {
			case '(':
				depth++
			case ')':
				depth--
			case ',':
				comma = comma || depth == 1
			}
			if depth == 0 {
				break
			}
		}
		if comma {
			b.WriteString(q[last:i])
			b.WriteString(map[string]string{"max(": "GREATEST(", "min(": "LEAST("}[fn])
			last = i + 4
		}
	}
	b.WriteString(q[last:])
	return b.String()
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// pgCode is the SQLSTATE of a PostgreSQL error, "" for another error.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
