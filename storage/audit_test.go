package storage

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// auditFixture writes a small audit log, one entry a minute from 09:00,
// and returns the entries by ID.
func auditFixture(t *testing.T) (*Store, map[int64]pipeline.AuditEntry) {
	t.Helper()
	ctx := context.Background()
	s := openTest(t)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	log := []pipeline.AuditEntry{
		{Actor: "alice", Action: "deploy", Project: "api", Env: "staging", DeployID: 1, Detail: "main@1111111 (main)"}, // 1
		{Actor: "bob", Action: "approve", Project: "api", Env: "prod", DeployID: 2},                                    // 2
		{Actor: "alice", Action: "deploy denied", Project: "web", Env: "prod", Detail: "only ops may deploy to prod"},  // 3
		{Actor: "carol", Action: "lock", Project: "*", Env: "prod", Detail: "release freeze"},                          // 4
		{Actor: "bob", Action: "link", Detail: "slack U1 T1"},                                                          // 5
		{Actor: "alice", Action: "deploy", Project: "api", Env: "prod", DeployID: 3, Detail: "v1.0.0 (v1.0.0)"},        // 6
		{Actor: "bob", Action: "scale", Project: "web", Env: "prod", Detail: "to 3"},                                   // 7
	}
	byID := map[int64]pipeline.AuditEntry{}
	for i, e := range log {
		e.At = at.Add(time.Duration(i) * time.Minute)
		must(t, s.Audit(ctx, e))
		e.ID = int64(i + 1)
		byID[e.ID] = e
	}
	return s, byID
}

func ids(es []pipeline.AuditEntry) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestAuditEntriesFilters(t *testing.T) {
	ctx := context.Background()
	s, byID := auditFixture(t)
	nine := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		f    pipeline.AuditFilter
		want []int64
	}{
		{"everything, newest first", pipeline.AuditFilter{}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"actor", pipeline.AuditFilter{Actor: "alice"}, []int64{6, 3, 1}},
		{"project", pipeline.AuditFilter{Project: "api"}, []int64{6, 2, 1}},
		{"every project", pipeline.AuditFilter{Project: "*"}, []int64{4}},
		{"env", pipeline.AuditFilter{Env: "prod"}, []int64{7, 6, 4, 3, 2}},
		{"action, exactly", pipeline.AuditFilter{Action: "deploy"}, []int64{6, 1}},
		{"refusals", pipeline.AuditFilter{Action: "deploy denied"}, []int64{3}},
		{"since, inclusive", pipeline.AuditFilter{Since: nine.Add(4 * time.Minute)}, []int64{7, 6, 5}},
		{"until, exclusive", pipeline.AuditFilter{Until: nine.Add(2 * time.Minute)}, []int64{2, 1}},
		{"since and until", pipeline.AuditFilter{Since: nine.Add(time.Minute), Until: nine.Add(3 * time.Minute)}, []int64{3, 2}},
		{"together", pipeline.AuditFilter{Actor: "alice", Project: "api", Env: "prod", Action: "deploy"}, []int64{6}},
		{"nothing matches", pipeline.AuditFilter{Actor: "mallory"}, []int64{}},
		{"since the year 1000", pipeline.AuditFilter{Since: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"until the year 3000", pipeline.AuditFilter{Until: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"since the year 3000", pipeline.AuditFilter{Since: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, []int64{}},
		{"until the year 1000", pipeline.AuditFilter{Until: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}, []int64{}},
	} {
		page, err := s.AuditEntries(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := ids(page.Entries); !reflect.DeepEqual(got, c.want) || page.Next != 0 {
			t.Errorf("%s: entries %v, next %d; want %v, next 0", c.name, got, page.Next, c.want)
		}
		for _, e := range page.Entries {
			if e != byID[e.ID] {
				t.Errorf("%s: entry %+v; want %+v", c.name, e, byID[e.ID])
			}
		}
	}
}

// TestAuditEntriesPages walks the log with the cursor: every entry once,
// newest first, and no Next on the last page, with a filter kept on every
// page.
func TestAuditEntriesPages(t *testing.T) {
	ctx := context.Background()
	s, _ := auditFixture(t)
	for _, c := range []struct {
		f     pipeline.AuditFilter
		pages [][]int64
	}{
		{pipeline.AuditFilter{Limit: 3}, [][]int64{{7, 6, 5}, {4, 3, 2}, {1}}},
		{pipeline.AuditFilter{Limit: 7}, [][]int64{{7, 6, 5, 4, 3, 2, 1}}},
		{pipeline.AuditFilter{Limit: 2, Env: "prod"}, [][]int64{{7, 6}, {4, 3}, {2}}},
		{pipeline.AuditFilter{Limit: 1, Actor: "alice"}, [][]int64{{6}, {3}, {1}}},
	} {
		var got [][]int64
		f := c.f
		for range 10 {
			page, err := s.AuditEntries(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(page.Entries))
			if page.Next == 0 {
				break
			}
			if last := page.Entries[len(page.Entries)-1].ID; page.Next != last {
				t.Errorf("%+v: next %d; want the last entry's ID %d", c.f, page.Next, last)
			}
			f.Before = page.Next
		}
		if !reflect.DeepEqual(got, c.pages) {
			t.Errorf("%+v: pages %v; want %v", c.f, got, c.pages)
		}
	}
	page, err := s.AuditEntries(ctx, pipeline.AuditFilter{Before: 5})
	if err != nil || !reflect.DeepEqual(ids(page.Entries), []int64{4, 3, 2, 1}) {
		t.Errorf("before 5: %v, %v; want 4 3 2 1", ids(page.Entries), err)
	}
}

func TestAuditEntriesLimit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	for i := range pipeline.AuditLimit + 1 {
		must(t, s.Audit(ctx, pipeline.AuditEntry{Actor: "alice", Action: "deploy", Project: "api", Env: "staging", DeployID: int64(i + 1)}))
	}
	page, err := s.AuditEntries(ctx, pipeline.AuditFilter{})
	if err != nil || len(page.Entries) != pipeline.AuditLimit || page.Next != 2 {
		t.Errorf("no limit: %d entries, next %d, %v; want %d and next 2", len(page.Entries), page.Next, err, pipeline.AuditLimit)
	}
	if page, err := s.AuditEntries(ctx, pipeline.AuditFilter{Limit: pipeline.MaxAuditLimit}); err != nil || len(page.Entries) != pipeline.AuditLimit+1 || page.Next != 0 {
		t.Errorf("limit %d: %d entries, next %d, %v", pipeline.MaxAuditLimit, len(page.Entries), page.Next, err)
	}
	for _, f := range []pipeline.AuditFilter{{Limit: -1}, {Limit: pipeline.MaxAuditLimit + 1}, {Before: -3}} {
		if _, err := s.AuditEntries(ctx, f); !errors.Is(err, pipeline.ErrInvalid) {
			t.Errorf("%+v: %v; want an error wrapping ErrInvalid", f, err)
		}
	}
}

// TestAuditEntriesScope: a scope selects the entries of its projects and
// its person's own, whatever else the filter says; an empty one, nothing.
func TestAuditEntriesScope(t *testing.T) {
	ctx := context.Background()
	s, _ := auditFixture(t)
	for _, c := range []struct {
		name  string
		f     pipeline.AuditFilter
		scope pipeline.AuditScope
		want  []int64
	}{
		{"one project", pipeline.AuditFilter{}, pipeline.AuditScope{Projects: []string{"api"}}, []int64{6, 2, 1}},
		{"two projects", pipeline.AuditFilter{}, pipeline.AuditScope{Projects: []string{"api", "web"}}, []int64{7, 6, 3, 2, 1}},
		{"a project and one's own", pipeline.AuditFilter{}, pipeline.AuditScope{Projects: []string{"api"}, Actor: "bob"}, []int64{7, 6, 5, 2, 1}},
		{"one's own only", pipeline.AuditFilter{}, pipeline.AuditScope{Actor: "carol"}, []int64{4}},
		{"nothing", pipeline.AuditFilter{}, pipeline.AuditScope{}, []int64{}},
		{"and a filter", pipeline.AuditFilter{Env: "prod"}, pipeline.AuditScope{Projects: []string{"web"}, Actor: "bob"}, []int64{7, 3, 2}},
		{"a filter outside the scope", pipeline.AuditFilter{Project: "web", Actor: "alice"}, pipeline.AuditScope{Projects: []string{"api"}}, []int64{}},
		{"paged", pipeline.AuditFilter{Before: 6, Limit: 1}, pipeline.AuditScope{Projects: []string{"api"}, Actor: "bob"}, []int64{5}},
	} {
		f := c.f
		f.Scope = &c.scope
		page, err := s.AuditEntries(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := ids(page.Entries); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v; want %v", c.name, got, c.want)
		}
	}
}

// TestAuditEntriesUseIndexes: a page of one project or one person searches
// an index rather than scanning the log (migration 0007).
func TestAuditEntriesUseIndexes(t *testing.T) {
	sqliteOnly(t, "it reads SQLite's query plans and pragmas")
	ctx := context.Background()
	s := openTest(t)
	for _, f := range []pipeline.AuditFilter{
		{Project: "api"},
		{Actor: "alice", Before: 10},
		{Scope: &pipeline.AuditScope{Projects: []string{"api", "web"}, Actor: "alice"}},
	} {
		where, args := auditWhere(f)
		rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+selectAudit+where+" ORDER BY id DESC LIMIT ?", append(args, 51)...)
		must(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			must(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); strings.Contains(p, "SCAN audit") || !strings.Contains(p, "USING INDEX audit_") {
			t.Errorf("%+v: query plan %q; want a search of the audit indexes", f, p)
		}
	}
}
