package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Tokens of the people the audit tests add to alice and bob.
const (
	carolToken = "tok-carol-0123456789" // an admin
	daveToken  = "tok-dave-0123456789"  // may deploy no project
)

// auditFixture serves two projects to four people: alice (dev) may deploy
// demo, bob (ops) api, carol is an admin and dave may deploy neither. Its
// audit log is, by ID, the want list below.
func auditFixture(t *testing.T) *fixture {
	t.Helper()
	demo := demoProject("/srv/demo.git")
	for i := range demo.Envs {
		demo.Envs[i].Deployers = []string{"dev"}
	}
	api := pipeline.Project{Name: "api", Repo: "/srv/api.git", Envs: []pipeline.Environment{{Name: "qa", DefaultRef: "main", Deployers: []string{"ops"}}, {Name: "prod", Deployers: []string{"ops"}}}}
	f := newFixture(t, setup{projects: []pipeline.Project{demo, api}})
	f.users["carol"] = pipeline.User{Name: "carol", Admin: true, Tokens: []string{carolToken}}
	f.users["dave"] = pipeline.User{Name: "dave", Tokens: []string{daveToken}}
	ctx := t.Context()
	for _, c := range []struct{ who, text string }{
		{"alice", "deploy demo to staging"},
		{"bob", "deploy api to qa"},
		{"dave", "deploy demo to staging"},
		{"carol", "lock * qa release freeze"},
		{"bob", "lock demo staging"},
	} {
		f.bot.Handle(ctx, f.users.Actor(c.who), c.text)
	}
	for _, who := range []string{"alice", "bob"} {
		if err := f.store.Audit(ctx, pipeline.AuditEntry{At: t0, Actor: who, Action: "link", Detail: "slack U-" + who + " T1"}); err != nil {
			t.Fatal(err)
		}
	}
	f.bot.Handle(ctx, f.users.Actor("alice"), "deploy demo v1.0.0 to prod force") // denied: force is for admins
	f.bot.Handle(ctx, f.users.Actor("alice"), "approve 3")                        // dave's denied deploy: nothing to approve, not audited
	f.bot.Handle(ctx, f.users.Actor("alice"), "deploy demo v1.0.0 to prod")       // deploy 5, awaiting approval
	f.bot.Handle(ctx, f.users.Actor("alice"), "approve 5")                        // denied: her own
	all, err := f.store.AuditLog(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(all) - 1; i >= 0; i-- {
		e := all[i]
		got = append(got, fmt.Sprintf("%d %s %s %s %s", e.ID, e.Actor, e.Action, e.Project, e.Env))
	}
	want := []string{
		"1 alice deploy demo staging", "2 bob deploy api qa", "3 dave deploy denied demo staging",
		"4 carol lock * qa", "5 bob lock denied demo staging", "6 alice link  ", "7 bob link  ",
		"8 alice deploy denied demo prod", "9 alice deploy demo prod", "10 alice approve denied demo prod",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the audit log of the fixture is\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return f
}

func auditIDs(l APIAuditLog) []int64 {
	out := []int64{}
	for _, e := range l.Entries {
		out = append(out, e.ID)
	}
	return out
}

// TestAPIAuditScope: an admin reads everything; a deployer of one project
// reads its entries and their own; someone of no project reads their own.
func TestAPIAuditScope(t *testing.T) {
	f := auditFixture(t)
	for _, c := range []struct {
		who, token string
		path       string
		want       []int64
		scope      APIAuditScope
	}{
		{"carol", carolToken, "/api/v1/audit", []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, APIAuditScope{All: true, Projects: []string{}}},
		{"alice", aliceToken, "/api/v1/audit", []int64{10, 9, 8, 6, 5, 3, 1}, APIAuditScope{Projects: []string{"demo"}, Actor: "alice"}},
		{"bob", bobToken, "/api/v1/audit", []int64{7, 5, 2}, APIAuditScope{Projects: []string{"api"}, Actor: "bob"}},
		{"dave", daveToken, "/api/v1/audit", []int64{3}, APIAuditScope{Projects: []string{}, Actor: "dave"}},
		{"alice, asking for what she may not read", aliceToken, "/api/v1/audit?project=api", []int64{}, APIAuditScope{Projects: []string{"demo"}, Actor: "alice"}},
		{"bob, asking for every project", bobToken, "/api/v1/audit?project=*", []int64{}, APIAuditScope{Projects: []string{"api"}, Actor: "bob"}},
		{"carol, asking for every project", carolToken, "/api/v1/audit?project=*", []int64{4}, APIAuditScope{All: true, Projects: []string{}}},
	} {
		var l APIAuditLog
		res := f.api(http.MethodGet, c.path, c.token, "", &l)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", c.who, res.StatusCode, res.Body)
		}
		if got := auditIDs(l); !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(l.Scope, c.scope) || l.NextBefore != 0 {
			t.Errorf("%s: entries %v, scope %+v, next %d; want %v, %+v, none", c.who, got, l.Scope, l.NextBefore, c.want, c.scope)
		}
	}
	var l APIAuditLog
	f.api(http.MethodGet, "/api/v1/audit?action=lock+denied", carolToken, "", &l)
	if len(l.Entries) != 1 || l.Entries[0] != (APIAuditEntry{ID: 5, At: t0, Actor: "bob", Action: "lock denied", Project: "demo", Env: "staging",
		Detail: "not allowed: only dev may deploy to staging"}) {
		t.Errorf("lock denied: %+v", l.Entries)
	}
	if res := f.api(http.MethodGet, "/api/v1/audit", "", "", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", res.StatusCode)
	}
}

func TestAPIAuditFiltersAndPages(t *testing.T) {
	f := auditFixture(t)
	for _, c := range []struct {
		query string
		want  []int64
	}{
		{"actor=alice", []int64{10, 9, 8, 6, 1}},
		{"project=demo&env=staging", []int64{5, 3, 1}},
		{"action=deploy+denied", []int64{8, 3}},
		{"since=24h", []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}}, // every entry is at t0, the server's now
		{"since=7d&until=1h", []int64{}},
		{"until=" + t0.Add(time.Second).Format(time.RFC3339), []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"since=2026-11-03", []int64{}},
		{"before=4", []int64{3, 2, 1}},
		{"actor=&project=&env=&action=&since=&until=&before=&limit=", []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}}, // an empty form
	} {
		var l APIAuditLog
		if res := f.api(http.MethodGet, "/api/v1/audit?"+c.query, carolToken, "", &l); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", c.query, res.StatusCode, res.Body)
		}
		if got := auditIDs(l); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v; want %v", c.query, got, c.want)
		}
	}

	// Pages of three of what alice may read, following next_before.
	var pages [][]int64
	path := "/api/v1/audit?limit=3"
	for range 5 {
		var l APIAuditLog
		f.api(http.MethodGet, path, aliceToken, "", &l)
		pages = append(pages, auditIDs(l))
		if l.NextBefore == 0 {
			break
		}
		path = fmt.Sprintf("/api/v1/audit?limit=3&before=%d", l.NextBefore)
	}
	if want := [][]int64{{10, 9, 8}, {6, 5, 3}, {1}}; !reflect.DeepEqual(pages, want) {
		t.Errorf("alice's pages %v; want %v", pages, want)
	}
}

// TestAPIAuditBadParameters: a 400 names the parameter and says how to fix it.
func TestAPIAuditBadParameters(t *testing.T) {
	f := auditFixture(t)
	for _, c := range []struct{ query, param, says string }{
		{"since=7x", "since", `since "7x" is not a time; give an RFC 3339 time`},
		{"until=yesterday", "until", "how long ago (7d, 24h, 90m)"},
		{"since=1h&until=2h", "until", "is not after since"},
		{"limit=0", "limit", `limit "0" is not a number from 1 to 500`},
		{"limit=501", "limit", "from 1 to 500"},
		{"before=abc", "before", `before "abc" is not an entry number`},
		{"before=-2", "before", "next_before of the page before"},
		{"projct=demo", "projct", "projct is not a parameter of the audit log; use actor, project, env, action, since, until, before, limit"},
		{"project=demo&project=api", "project", "project is given 2 times; give it once"},
	} {
		var e APIError
		res := f.api(http.MethodGet, "/api/v1/audit?"+c.query, aliceToken, "", &e)
		if res.StatusCode != http.StatusBadRequest || e.Param != c.param || !strings.Contains(e.Error, c.says) {
			t.Errorf("%s: %d %+v; want 400 about %s saying %q", c.query, res.StatusCode, e, c.param, c.says)
		}
	}
}

// auditViewer is a signed-in person with a fixed session, for pages
// rendered straight from their handler.
func (f *fixture) auditViewer(name string) *viewer {
	v := &viewer{session: session{Name: name, Expires: t0.Add(sessionTTL), Nonce: "fixed-nonce"}, Actor: f.users.Actor(name)}
	v.CSRF = f.srv.csrf(v.session)
	return v
}

func (f *fixture) auditPageAs(name, path string) (int, string) {
	rec := httptest.NewRecorder()
	f.srv.auditPage(rec, httptest.NewRequest(http.MethodGet, path, nil), f.auditViewer(name))
	return rec.Code, rec.Body.String()
}

var auditRowID = regexp.MustCompile(`<tr><td>(\d+)</td>`)

func pageIDs(body string) string {
	var ids []string
	for _, m := range auditRowID.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return strings.Join(ids, " ")
}

func TestGoldenAuditPage(t *testing.T) {
	f := auditFixture(t)
	st, body := f.auditPageAs("alice", "/audit?limit=3")
	if st != http.StatusOK {
		t.Fatalf("audit page: %d\n%s", st, body)
	}
	golden(t, "audit.html", body)
	if ids := pageIDs(body); ids != "10 9 8" || !strings.Contains(body, `href="/audit?before=8&amp;limit=3" rel="next"`) {
		t.Errorf("first page of three: rows %q, or no link to the next page in\n%s", ids, body)
	}
	st, body = f.auditPageAs("alice", "/audit?limit=3&before=8")
	if ids := pageIDs(body); st != http.StatusOK || ids != "6 5 3" || !strings.Contains(body, `href="/audit?limit=3" rel="first"`) {
		t.Errorf("second page: %d rows %q, or no link to the newest in\n%s", st, ids, body)
	}
	for _, c := range []struct{ who, path, ids, scope string }{
		{"carol", "/audit", "10 9 8 7 6 5 4 3 2 1", "You see every entry: you are an admin."},
		{"bob", "/audit", "7 5 2", "You see the entries of api, the projects you may deploy, and your own."},
		{"dave", "/audit", "3", "You see your own entries: you may deploy no project."},
		{"carol", "/audit?project=demo&env=staging&actor=bob", "5", ""},
	} {
		st, body := f.auditPageAs(c.who, c.path)
		if st != http.StatusOK || pageIDs(body) != c.ids || !strings.Contains(body, c.scope) {
			t.Errorf("%s %s: %d rows %q; want %q and %q", c.who, c.path, st, pageIDs(body), c.ids, c.scope)
		}
	}
}

// TestAuditPageEscapes: what people typed, into the log or the form, is
// shown as text.
func TestAuditPageEscapes(t *testing.T) {
	f := auditFixture(t)
	evil := `<script>alert("x")</script>`
	if err := f.store.Audit(context.Background(), pipeline.AuditEntry{At: t0, Actor: "carol", Action: "lock", Project: "*", Env: "prod", Detail: evil}); err != nil {
		t.Fatal(err)
	}
	st, body := f.auditPageAs("carol", "/audit?limit=1")
	if st != http.StatusOK || strings.Contains(body, "<script>alert") || !strings.Contains(body, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
		t.Errorf("a detail with markup: %d\n%s", st, body)
	}
	st, body = f.auditPageAs("carol", "/audit?"+url.Values{"since": {evil}, "actor": {`"><b>`}}.Encode())
	if st != http.StatusBadRequest || strings.Contains(body, "<script>alert") || strings.Contains(body, `"><b>`) || !strings.Contains(body, `value="&#34;&gt;&lt;b&gt;"`) {
		t.Errorf("a bad since with markup: %d\n%s", st, body)
	}
	golden(t, "audit_bad_since.html", body)
}
