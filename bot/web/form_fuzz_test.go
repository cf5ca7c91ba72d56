package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/crypto/bcrypt"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

// fuzzed is a server for fuzz targets, served in process: the demo
// project on a SQLite store, an engine that does not run (deploys stay
// queued), and the server's clock, which FuzzLogin moves past the
// throttling windows at each sign-in, so that each is checked in full.
type fuzzed struct {
	srv     *Server
	handler http.Handler
	store   *storage.Store
	clock   *testClock
	users   users
}

func newFuzzed(f *testing.F) *fuzzed {
	f.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(f.TempDir(), "ferry.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	var mu sync.Mutex
	targets := map[string]*pipelinetest.Target{}
	e, err := pipeline.New(pipeline.Config{
		Store: st, Projects: []pipeline.Project{demoProject("/srv/demo.git")},
		Target: func(_ pipeline.Project, env pipeline.Environment) (pipeline.Target, error) {
			mu.Lock()
			defer mu.Unlock()
			if targets[env.Name] == nil {
				targets[env.Name] = pipelinetest.NewTarget(env.Name[:1] + "1")
			}
			return targets[env.Name], nil
		},
		Resolver: pipelinetest.Resolver{
			"main":   {Hash: "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Branch: "main"},
			"v1.0.0": {Hash: "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Tag: "v1.0.0"},
		},
		Subscribers: pipeline.Subscribers{Subscriber{}}, Clock: clockwork.NewFakeClockAt(t0), Tick: time.Hour,
	})
	if err != nil {
		f.Fatal(err)
	}
	b, err := bot.New(bot.Config{Engine: e})
	if err != nil {
		f.Fatal(err)
	}
	fz := &fuzzed{store: st, clock: &testClock{now: t0}, users: testUsers(f)}
	fz.srv, err = New(Config{Bot: b, Engine: e, Users: fz.users, Sessions: st, SessionKey: sessionKey, BaseURL: "http://ferry.test", Now: fz.clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(fz.srv.Close)
	// An unknown name is compared against a hash of bcrypt's least cost,
	// as the users' are, rather than of its default.
	dummy, err := bcrypt.GenerateFromPassword([]byte("no one's"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	fz.srv.dummy = func() []byte { return dummy }
	fz.handler = fz.srv.Handler()
	return fz
}

func (fz *fuzzed) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	fz.handler.ServeHTTP(rec, req)
	return rec
}

func (fz *fuzzed) post(path, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return fz.serve(req)
}

// signIn returns alice's session cookie and CSRF token.
func (fz *fuzzed) signIn(f *testing.F) (cookie, csrf string) {
	f.Helper()
	rec := fz.post("/login", url.Values{"name": {"alice"}, "password": {alicePassword}}.Encode())
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			cookie = c.Name + "=" + c.Value
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", cookie)
	page := fz.serve(req)
	m := csrfMeta.FindStringSubmatch(page.Body.String())
	if cookie == "" || m == nil {
		f.Fatalf("sign in: %d, cookie %q; console %d without a CSRF token", rec.Code, cookie, page.Code)
	}
	return cookie, m[1]
}

func (fz *fuzzed) deploys(t *testing.T) int {
	t.Helper()
	ds, err := fz.store.Deploys(context.Background(), pipeline.DeployFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(ds)
}

// checkLocal checks that a redirect stays on the server, as a browser
// reads its address: it drops tabs and line breaks and takes a backslash
// for a slash.
func checkLocal(t *testing.T, from, location string) {
	t.Helper()
	seen := strings.ReplaceAll(strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, location), `\`, "/")
	base, _ := url.Parse("https://ferry.test/board")
	u, err := base.Parse(location)
	if !strings.HasPrefix(seen, "/") || strings.HasPrefix(seen, "//") || err != nil || u.Host != "ferry.test" {
		t.Fatalf("%q sends the browser to %q, off the server", from, location)
	}
}

// FuzzLocalPath: whatever a form's next or back says, the address ferry
// redirects to is a path on ferry itself, and stays so read again.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/board", "/deploys/1?x=y#z", "//evil.example", `/\evil.example`, "https://evil.example/",
		"/%2F%2Fevil.example", "/\t/evil.example", "/.//evil.example", "javascript:alert(1)", "", "/a b", "/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := localPath(p)
		checkLocal(t, p, got)
		if again := localPath(got); again != got {
			t.Fatalf("localPath(%q) = %q, and of that %q", p, got, again)
		}
	})
}

// FuzzLogin posts sign-in forms. Whatever the body, the answer is a page
// (400, 401) or a redirect to a path on ferry with a session, and the
// session only for a name and its password.
func FuzzLogin(f *testing.F) {
	fz := newFuzzed(f)
	for _, s := range []string{
		url.Values{"name": {"alice"}, "password": {alicePassword}, "next": {"/board"}}.Encode(),
		url.Values{"name": {" bob "}, "password": {bobPassword}, "next": {"//evil.example"}}.Encode(),
		url.Values{"name": {"alice"}, "password": {"guess"}}.Encode(),
		url.Values{"name": {"mallory"}, "password": {alicePassword}}.Encode(),
		"name=alice&password=" + url.QueryEscape(alicePassword) + "&name=bob", "name=%zz", "password=" + strings.Repeat("x", 100),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fz.clock.Advance(nameWindow + time.Minute)
		rec := fz.post("/login", body)
		var session bool
		for _, c := range rec.Result().Cookies() {
			session = session || c.Name == sessionCookie && c.Value != ""
		}
		form, err := url.ParseQuery(body)
		name := strings.TrimSpace(form.Get("name"))
		u, known := fz.users[name]
		right := err == nil && known && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(form.Get("password"))) == nil
		switch {
		case right && (rec.Code != http.StatusSeeOther || !session):
			t.Fatalf("%s signs in as %s: status %d, session %v; want 303 with one", body, name, rec.Code, session)
		case !right && (session || rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized):
			t.Fatalf("%s: status %d, session %v; want 400 or 401 and none", body, rec.Code, session)
		case right:
			checkLocal(t, form.Get("next"), rec.Header().Get("Location"))
		}
	})
}

// FuzzConsoleForm posts the console's command and button forms as alice.
// Whatever the body, without the session's CSRF token nothing is run;
// with it the answer is never a server error, a page's redirect stays on
// ferry, and a fragment for the page's script is HTML.
func FuzzConsoleForm(f *testing.F) {
	fz := newFuzzed(f)
	cookie, csrf := fz.signIn(f)
	for _, s := range []string{
		url.Values{"text": {"deploy demo to staging"}, "back": {"/board"}}.Encode(),
		url.Values{"text": {"status"}, "back": {"//evil.example"}}.Encode(),
		url.Values{"command": {"approve 1"}}.Encode(),
		url.Values{"text": {"config demo prod set K=v"}}.Encode(),
		url.Values{"text": {"deploy demo " + strings.Repeat("x", 300) + " to prod"}}.Encode(),
		"text=%zz", "csrf=wrong&text=status",
	} {
		for how := range uint8(4) {
			f.Add(s, how)
		}
	}
	paths := []string{"/console/command", "/console/action"}
	f.Fuzz(func(t *testing.T, body string, how uint8) {
		header := []string{"Cookie", cookie}
		withToken := how&1 == 1
		if withToken {
			header = append(header, "X-CSRF-Token", csrf)
		}
		script := how&2 == 2
		if script {
			header = append(header, "X-Requested-With", "fetch")
		}
		before := fz.deploys(t)
		rec := fz.post(paths[len(body)%len(paths)], body, header...)
		switch {
		case !withToken:
			if rec.Code != http.StatusForbidden && rec.Code != http.StatusBadRequest || fz.deploys(t) != before {
				t.Fatalf("without the token: status %d, %d deploys made; want 403 or 400 and none", rec.Code, fz.deploys(t)-before)
			}
		case rec.Code >= 500:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		case !script && rec.Code == http.StatusSeeOther:
			form, _ := url.ParseQuery(body)
			checkLocal(t, form.Get("back"), rec.Header().Get("Location"))
		case script && rec.Code != http.StatusBadRequest && !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html"):
			t.Fatalf("a fragment of type %q", rec.Header().Get("Content-Type"))
		}
	})
}
