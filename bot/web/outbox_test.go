package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// switchSink is a platform that fails with err until err is nil, and then
// records what it delivered.
type switchSink struct {
	mu        sync.Mutex
	err       error
	delivered []string // destinations
}

func (s *switchSink) Deliver(_ context.Context, o bot.Outgoing, ref string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "", s.err
	}
	s.delivered = append(s.delivered, o.Dest)
	return "ref of " + o.Dest, nil
}

func (s *switchSink) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *switchSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.delivered)
}

const carolPassword = "carol-secret-pw"

// outboxFixture is a console whose outbox holds, after deploy 1 of demo to
// staging succeeded and the console's own notices were delivered, a Slack
// card and a Slack direct message ferry gave up on (Slack refuses them for
// good) and a GitHub status it is still trying (GitHub answers 502, and
// the fixture's clock stands still, so its next try never comes). carol is
// an admin and may sign in.
type outboxFixture struct {
	*fixture
	slack, github *switchSink
	card, dm, st  int64 // the notices' IDs
}

func newOutboxFixture(t *testing.T, s ...setup) *outboxFixture {
	t.Helper()
	o := &outboxFixture{
		slack:  &switchSink{err: bot.Permanent(errors.New("slack chat.postMessage: channel_not_found"))},
		github: &switchSink{err: errors.New("github POST /repos/acme/demo/statuses/1111111: 502 Bad Gateway")},
	}
	cfg := setup{}
	if len(s) > 0 {
		cfg = s[0]
	}
	cfg.sinks = map[string]bot.Sink{"slack": o.slack, "github": o.github}
	o.fixture = newFixture(t, cfg)
	hash, err := bcrypt.GenerateFromPassword([]byte(carolPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	o.users["carol"] = pipeline.User{Name: "carol", Admin: true, PasswordHash: string(hash), Tokens: []string{carolToken}}
	ctx := t.Context()
	o.bot.Handle(ctx, o.users.Actor("alice"), "deploy demo to staging")
	o.wait(1, pipeline.StateSucceeded)
	o.waitOutbox("the console's notices delivered", func(ns []pipeline.Notice) bool { return len(ns) == 0 })
	ok := pipeline.StateSucceeded
	if err := o.store.AddNotices(ctx, []pipeline.Notice{
		{Platform: "slack", Dest: "card 1", Kind: "card", Latest: true, DeployID: 1, State: ok},
		{Platform: "github", Dest: "status 1", Kind: "status", DeployID: 1, State: ok},
		{Platform: "slack", Dest: "dm alice", Kind: "dm", DeployID: 1, State: ok},
	}); err != nil {
		t.Fatal(err)
	}
	ns := o.waitOutbox("two dead, one tried once", func(ns []pipeline.Notice) bool {
		dead, tried := 0, 0
		for _, n := range ns {
			if !n.Dead.IsZero() {
				dead++
			} else if n.Attempts == 1 {
				tried++
			}
		}
		return len(ns) == 3 && dead == 2 && tried == 1
	})
	o.card, o.st, o.dm = ns[0].ID, ns[1].ID, ns[2].ID
	return o
}

// waitOutbox waits until the rows of the outbox satisfy ok, and returns them.
func (f *fixture) waitOutbox(what string, ok func([]pipeline.Notice) bool) []pipeline.Notice {
	f.t.Helper()
	var ns []pipeline.Notice
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ns, err = f.store.Notices(context.Background(), pipeline.NoticeFilter{}); err == nil && ok(ns) {
			return ns
		}
	}
	f.t.Fatalf("outbox: waited for %s; it holds %+v (%v)", what, ns, err)
	return nil
}

func (o *outboxFixture) apiNotice(id int64) APINotice {
	n, err := o.store.Notice(context.Background(), id)
	if err != nil {
		o.t.Fatal(err)
	}
	return newAPINotice(n)
}

func noticeIDs(l APIOutbox) []int64 {
	out := []int64{}
	for _, n := range l.Notices {
		out = append(out, n.ID)
	}
	return out
}

func TestAPIOutbox(t *testing.T) {
	o := newOutboxFixture(t)
	var l APIOutbox
	if res := o.api(http.MethodGet, "/api/v1/outbox", carolToken, "", &l); res.StatusCode != http.StatusOK {
		t.Fatalf("carol: %d %s", res.StatusCode, res.Body)
	}
	card := APINotice{ID: o.card, Platform: "slack", Dest: "card 1", Kind: "card", Latest: true, DeployID: 1, State: "succeeded",
		CreatedAt: t0, Attempts: 1, NotBefore: t0.Add(time.Second), LastError: "slack chat.postMessage: channel_not_found", DeadAt: t0}
	status := APINotice{ID: o.st, Platform: "github", Dest: "status 1", Kind: "status", DeployID: 1, State: "succeeded",
		CreatedAt: t0, Attempts: 1, NotBefore: t0.Add(time.Second), LastError: "github POST /repos/acme/demo/statuses/1111111: 502 Bad Gateway"}
	if len(l.Notices) != 3 || l.Notices[0] != card || l.Notices[1] != status || l.Notices[2].Dest != "dm alice" || l.More {
		t.Errorf("every row: %+v\nwant %+v,\n%+v and the dm", l, card, status)
	}
	for _, c := range []struct {
		query string
		want  []int64
		more  bool
	}{
		{"dead=1", []int64{o.card, o.dm}, false},
		{"dead=true&platform=slack", []int64{o.card, o.dm}, false},
		{"platform=github", []int64{o.st}, false},
		{"platform=github&dead=1", []int64{}, false},
		{"platform=teams", []int64{}, false},
		{"limit=2", []int64{o.card, o.st}, true},
		{"limit=3", []int64{o.card, o.st, o.dm}, false},
		{"platform=&dead=&limit=", []int64{o.card, o.st, o.dm}, false}, // an empty form
	} {
		var l APIOutbox
		if res := o.api(http.MethodGet, "/api/v1/outbox?"+c.query, carolToken, "", &l); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", c.query, res.StatusCode, res.Body)
		}
		if got := noticeIDs(l); !reflect.DeepEqual(got, c.want) || l.More != c.more {
			t.Errorf("%s: %v more %v; want %v more %v", c.query, got, l.More, c.want, c.more)
		}
	}
	for _, c := range []struct{ query, param, says string }{
		{"dead=yes", "dead", `dead "yes" is neither 1 nor 0; give dead=1`},
		{"limit=0", "limit", `limit "0" is not a number from 1 to 1000`},
		{"limit=1001", "limit", "from 1 to 1000"},
		{"state=dead", "state", "state is not a parameter of the outbox; use platform, dead, limit"},
		{"dead=1&dead=0", "dead", "dead is given 2 times; give it once"},
	} {
		var e APIError
		res := o.api(http.MethodGet, "/api/v1/outbox?"+c.query, carolToken, "", &e)
		if res.StatusCode != http.StatusBadRequest || e.Param != c.param || !strings.Contains(e.Error, c.says) {
			t.Errorf("%s: %d %+v; want 400 about %s saying %q", c.query, res.StatusCode, e, c.param, c.says)
		}
	}
}

// TestAPIOutboxRetry: a dead notice is owed again, delivered, and the
// retry is in the audit log; an id that is no dead notice gets 404 saying
// why, and nothing changes.
func TestAPIOutboxRetry(t *testing.T) {
	o := newOutboxFixture(t)
	ctx := t.Context()
	retry := func(id any) (response, APIOutboxRetry, APIError) {
		var v struct {
			APIOutboxRetry
			APIError
		}
		res := o.api(http.MethodPost, fmt.Sprintf("/api/v1/outbox/%v/retry", id), carolToken, "", &v)
		return res, v.APIOutboxRetry, v.APIError
	}

	dead := o.apiNotice(o.card)
	o.slack.set(nil) // Slack takes the card now
	res, got, _ := retry(o.card)
	want := fmt.Sprintf("Outbox notice %d (slack card 1) is owed again: ferry tries to deliver it now, and gives up again only after outbox.give_up of failures.", o.card)
	if res.StatusCode != http.StatusOK || got.Text != want || got.Notice != dead {
		t.Fatalf("retry the dead card: %d %+v; want %q and the notice as it was, %+v", res.StatusCode, got, want, dead)
	}
	o.waitOutbox("the card delivered", func(ns []pipeline.Notice) bool { return len(ns) == 2 })
	if d := o.slack.got(); !reflect.DeepEqual(d, []string{"card 1"}) {
		t.Errorf("slack got %v; want the card", d)
	}
	log, err := o.store.AuditLog(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	entry := pipeline.AuditEntry{ID: log[0].ID, At: t0, Actor: "carol", Action: "outbox retry", Project: "demo", Env: "staging", DeployID: 1,
		Detail: "slack card 1 (card), given up at 2026-11-02 10:00:00 UTC after 1 attempt"}
	if len(log) != 1 || log[0] != entry {
		t.Errorf("audit log: %+v; want %+v", log, entry)
	}

	for _, c := range []struct {
		name string
		id   any
		st   int
		says string
	}{
		{"the card again", o.card, http.StatusNotFound, fmt.Sprintf("there is no outbox notice %d: it was delivered (or never owed), so there is nothing to retry", o.card)},
		{"a status still tried", o.st, http.StatusNotFound, fmt.Sprintf("outbox notice %d (github status 1) is not dead: ferry is still trying it (1 attempt); only a notice ferry gave up on can be retried", o.st)},
		{"no such notice", 9999, http.StatusNotFound, "there is no outbox notice 9999: it was delivered"},
		{"not a number", "abc", http.StatusBadRequest, `"abc" is not the number of an outbox notice; ferry outbox lists them`},
	} {
		res, _, e := retry(c.id)
		if res.StatusCode != c.st || !strings.HasPrefix(e.Error, c.says) {
			t.Errorf("%s: %d %q; want %d %q", c.name, res.StatusCode, e.Error, c.st, c.says)
		}
	}
	if n := o.apiNotice(o.st); n.Attempts != 1 || !n.DeadAt.IsZero() {
		t.Errorf("the status after a refused retry: %+v", n)
	}
	if log, _ := o.store.AuditLog(ctx, 0); len(log) != 2 { // deploy 1, and the one retry
		t.Errorf("refused retries were audited: %+v", log)
	}
	if res := o.api(http.MethodGet, fmt.Sprintf("/api/v1/outbox/%d/retry", o.dm), carolToken, "", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET of a retry: %d", res.StatusCode)
	}
}

// TestOutboxForAdminsOnly: someone who is not an admin is refused the
// page, the API and the retry with 403 and a sentence, and nothing
// changes; without an outbox every route says it is not available.
func TestOutboxForAdminsOnly(t *testing.T) {
	o := newOutboxFixture(t)
	forbidden := "the outbox is for admins: it shows and retries what ferry owes every platform."
	var e APIError
	if res := o.api(http.MethodGet, "/api/v1/outbox", aliceToken, "", &e); res.StatusCode != http.StatusForbidden || !strings.HasPrefix(e.Error, forbidden) {
		t.Errorf("alice GET /api/v1/outbox: %d %+v", res.StatusCode, e)
	}
	if res := o.api(http.MethodPost, fmt.Sprintf("/api/v1/outbox/%d/retry", o.dm), aliceToken, "", &e); res.StatusCode != http.StatusForbidden || !strings.HasPrefix(e.Error, forbidden) {
		t.Errorf("alice POST retry: %d %+v", res.StatusCode, e)
	}
	if res := o.api(http.MethodGet, "/api/v1/outbox", "", "", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", res.StatusCode)
	}
	alice := o.signIn("alice", alicePassword)
	if res := o.get(alice, "/outbox"); res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, forbidden) {
		t.Errorf("alice GET /outbox: %d\n%s", res.StatusCode, res.Body)
	}
	res := o.postForm(alice, fmt.Sprintf("/outbox/%d/retry", o.dm), url.Values{"csrf": {o.csrf(alice)}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, forbidden) {
		t.Errorf("alice POST /outbox/%d/retry: %d\n%s", o.dm, res.StatusCode, res.Body)
	}
	if home := o.get(alice, "/"); strings.Contains(home.Body, `href="/outbox"`) {
		t.Errorf("alice's nav links the outbox")
	}
	if n := o.apiNotice(o.dm); n.DeadAt.IsZero() {
		t.Errorf("alice's retry changed the notice: %+v", n)
	}
	if log, _ := o.store.AuditLog(t.Context(), 0); len(log) != 1 {
		t.Errorf("alice's refused retry wrote the audit log: %+v", log)
	}
	rec := httptest.NewRecorder()
	o.srv.outboxPage(rec, httptest.NewRequest(http.MethodGet, "/outbox", nil), o.auditViewer("alice"))
	golden(t, "outbox_forbidden.html", rec.Body.String())

	none := newFixture(t, setup{noOutbox: true})
	none.users["carol"] = o.users["carol"]
	unavailable := "the outbox is not available: this ferry server was started without one"
	if res := none.api(http.MethodGet, "/api/v1/outbox", carolToken, "", &e); res.StatusCode != http.StatusNotFound || e.Error != unavailable {
		t.Errorf("no outbox, GET /api/v1/outbox: %d %+v", res.StatusCode, e)
	}
	if res := none.api(http.MethodPost, "/api/v1/outbox/1/retry", carolToken, "", &e); res.StatusCode != http.StatusNotFound || e.Error != unavailable {
		t.Errorf("no outbox, POST retry: %d %+v", res.StatusCode, e)
	}
	carol := none.signIn("carol", carolPassword)
	if res := none.get(carol, "/outbox"); res.StatusCode != http.StatusNotFound || !strings.Contains(res.Body, unavailable) {
		t.Errorf("no outbox, GET /outbox: %d\n%s", res.StatusCode, res.Body)
	}
	if home := none.get(carol, "/"); strings.Contains(home.Body, `href="/outbox"`) {
		t.Errorf("with no outbox, carol's nav links it")
	}
}

var outboxRowID = regexp.MustCompile(`<tr(?: class="dead")?><td>(\d+)</td>`)

func outboxRows(body string) []string {
	var ids []string
	for _, m := range outboxRowID.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestOutboxPageRetry: an admin's nav links the Outbox page, which lists
// every row with a Retry button on the dead ones; pressing it posts the
// CSRF token, redirects back to the page with a flash, and the notice is
// delivered; a refused retry comes back as a flash that says why.
func TestOutboxPageRetry(t *testing.T) {
	o := newOutboxFixture(t)
	carol := o.signIn("carol", carolPassword)
	if home := o.get(carol, "/"); !strings.Contains(home.Body, `<a href="/outbox">Outbox</a>`) {
		t.Errorf("carol's nav does not link the outbox:\n%s", home.Body)
	}
	page := o.get(carol, "/outbox")
	ids := []string{fmt.Sprint(o.card), fmt.Sprint(o.st), fmt.Sprint(o.dm)}
	if page.StatusCode != http.StatusOK || !reflect.DeepEqual(outboxRows(page.Body), ids) || strings.Count(page.Body, "data-retry=") != 2 ||
		!strings.Contains(page.Body, fmt.Sprintf(`action="/outbox/%d/retry"`, o.dm)) || strings.Contains(page.Body, fmt.Sprintf(`action="/outbox/%d/retry"`, o.st)) {
		t.Fatalf("the outbox page: %d rows %v, want %v with two Retry buttons, on the dead ones:\n%s", page.StatusCode, outboxRows(page.Body), ids, page.Body)
	}
	if dead := o.get(carol, "/outbox?dead=1&platform=slack"); !reflect.DeepEqual(outboxRows(dead.Body), []string{ids[0], ids[2]}) {
		t.Errorf("dead slack rows: %v", outboxRows(dead.Body))
	}
	if bad := o.get(carol, "/outbox?limit=x"); bad.StatusCode != http.StatusBadRequest || !strings.Contains(bad.Body, `limit &#34;x&#34; is not a number from 1 to 1000`) {
		t.Errorf("a bad limit: %d\n%s", bad.StatusCode, bad.Body)
	}

	path := fmt.Sprintf("/outbox/%d/retry", o.dm)
	if res := o.postForm(carol, path, url.Values{"back": {"/outbox?dead=1"}}); res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "security token") {
		t.Errorf("a retry without the CSRF token: %d\n%s", res.StatusCode, res.Body)
	}
	o.slack.set(nil)
	token := o.csrf(carol)
	res := o.postForm(carol, path, url.Values{"csrf": {token}, "back": {"/outbox?dead=1"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/outbox?dead=1" {
		t.Fatalf("retry: %d %s; want a redirect back to the page", res.StatusCode, res.Header.Get("Location"))
	}
	after := o.get(carol, "/outbox?dead=1")
	if !strings.Contains(after.Body, fmt.Sprintf("retry outbox notice %d", o.dm)) || !strings.Contains(after.Body, fmt.Sprintf("Outbox notice %d (slack dm alice) is owed again", o.dm)) {
		t.Errorf("no flash after the retry:\n%s", after.Body)
	}
	o.waitOutbox("the dm delivered", func(ns []pipeline.Notice) bool { return len(ns) == 2 })
	if got := o.slack.got(); !reflect.DeepEqual(got, []string{"dm alice"}) {
		t.Errorf("slack got %v; want the dm", got)
	}

	for _, c := range []struct {
		id   int64
		says string
	}{
		{o.dm, fmt.Sprintf("there is no outbox notice %d: it was delivered", o.dm)},
		{o.st, fmt.Sprintf("outbox notice %d (github status 1) is not dead: ferry is still trying it (1 attempt)", o.st)},
	} {
		res := o.postForm(carol, fmt.Sprintf("/outbox/%d/retry", c.id), url.Values{"csrf": {token}, "back": {"//evil.example/outbox"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/outbox" {
			t.Errorf("refused retry of %d: %d %s; want a redirect to /outbox", c.id, res.StatusCode, res.Header.Get("Location"))
		}
		if page := o.get(carol, "/outbox"); !strings.Contains(page.Body, `<b class="failed">Not done:</b> `+c.says) {
			t.Errorf("refused retry of %d: no flash saying %q in\n%s", c.id, c.says, page.Body)
		}
	}
	if res := o.postForm(carol, "/outbox/abc/retry", url.Values{"csrf": {token}}); res.StatusCode != http.StatusNotFound || !strings.Contains(res.Body, "is not the number of an outbox notice") {
		t.Errorf("retry of abc: %d\n%s", res.StatusCode, res.Body)
	}
}

// fixedOutbox is an outbox that holds rows it was given, for a page that
// looks the same at every run.
type fixedOutbox []pipeline.Notice

func (o fixedOutbox) Notices(_ context.Context, f pipeline.NoticeFilter) ([]pipeline.Notice, error) {
	var ns []pipeline.Notice
	for _, n := range o {
		if (f.Platform == "" || n.Platform == f.Platform) && (!f.Dead || !n.Dead.IsZero()) && len(ns) < f.Limit {
			ns = append(ns, n)
		}
	}
	return ns, nil
}

func (o fixedOutbox) Notice(_ context.Context, id int64) (pipeline.Notice, error) {
	for _, n := range o {
		if n.ID == id {
			return n, nil
		}
	}
	return pipeline.Notice{}, fmt.Errorf("no notice %d: %w", id, pipeline.ErrNotFound)
}

func (fixedOutbox) RetryNotice(context.Context, int64) error         { return errors.New("fixed") }
func (fixedOutbox) Audit(context.Context, pipeline.AuditEntry) error { return errors.New("fixed") }

func TestGoldenOutboxPage(t *testing.T) {
	f := newFixture(t)
	f.users["carol"] = pipeline.User{Name: "carol", Admin: true}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	var rows fixedOutbox
	for i := range outboxLimit + 1 {
		rows = append(rows, pipeline.Notice{ID: int64(100 + i), Platform: "web", Dest: fmt.Sprint("deploy ", 900+i), Kind: "card", Latest: true, DeployID: int64(900 + i), State: pipeline.StateRunning, Created: at(30)})
	}
	rows = append(fixedOutbox{
		{ID: 12, Platform: "slack", Dest: "card 7", Kind: "card", Latest: true, DeployID: 7, State: pipeline.StateFailed,
			Created: at(-1440), Attempts: 311, NotBefore: at(4), LastError: "slack chat.update: <html> 503 Service Unavailable", Dead: at(0)},
		{ID: 14, Platform: "github", Dest: "status 7", Kind: "status", DeployID: 7, State: pipeline.StateFailed,
			Created: at(-20), Attempts: 6, NotBefore: at(3), LastError: "github POST /repos/acme/demo/statuses/4444444: 502 Bad Gateway"},
		{ID: 15, Platform: "slack", Dest: "digest weekly", Kind: "digest", Created: at(-1)},
	}, rows...)
	f.srv.outbox = rows
	v := f.auditViewer("carol")

	// A refused retry from the page: back to it, with what went wrong.
	req := httptest.NewRequest(http.MethodPost, "/outbox/14/retry", nil)
	req.SetPathValue("id", "14")
	req.PostForm = url.Values{"back": {"/outbox?limit=3"}}
	rec := httptest.NewRecorder()
	f.srv.outboxRetry(rec, req, v)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/outbox?limit=3" {
		t.Fatalf("retry 14: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	rec = httptest.NewRecorder()
	f.srv.outboxPage(rec, httptest.NewRequest(http.MethodGet, "/outbox?limit=3", nil), v)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !reflect.DeepEqual(outboxRows(body), []string{"12", "14", "15"}) || !strings.Contains(body, `id="outbox-more"`) {
		t.Fatalf("outbox page: %d rows %v\n%s", rec.Code, outboxRows(body), body)
	}
	golden(t, "outbox.html", body)

	rec = httptest.NewRecorder()
	f.srv.outboxPage(rec, httptest.NewRequest(http.MethodGet, "/outbox", nil), v)
	if n := len(outboxRows(rec.Body.String())); n != outboxLimit || !strings.Contains(rec.Body.String(), "ferry shows the oldest 200 rows; there are more.") {
		t.Errorf("outbox page of %d rows shows %d; want %d and a note", len(rows), n, outboxLimit)
	}
	rec = httptest.NewRecorder()
	f.srv.outboxPage(rec, httptest.NewRequest(http.MethodGet, "/outbox?platform=teams&dead=1", nil), v)
	if !strings.Contains(rec.Body.String(), "No dead notices.") || strings.Contains(rec.Body.String(), "outbox-more") {
		t.Errorf("an empty page:\n%s", rec.Body.String())
	}
}
