package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/crypto/bcrypt"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// users is the Users of the tests: people by name, with their tokens.
type users map[string]pipeline.User

func (u users) User(name string) (pipeline.User, bool) {
	x, ok := u[name]
	return x, ok
}

func (u users) UserByToken(token string) (pipeline.User, bool) {
	for _, x := range u {
		for _, t := range x.Tokens {
			if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
				return x, true
			}
		}
	}
	return pipeline.User{}, false
}

func (u users) Actor(name string) pipeline.Actor {
	x := u[name]
	return pipeline.Actor{Name: x.Name, Admin: x.Admin, Teams: x.Teams}
}

// UserByOIDC is the user whose OIDC is value, for People.
func (u users) UserByOIDC(value string) (pipeline.User, bool) {
	for _, x := range u {
		if x.OIDC == value {
			return x, true
		}
	}
	return pipeline.User{}, false
}

func (u users) Contact() string { return "#platform on Slack" }

// Passwords and tokens of the test users.
const (
	alicePassword = "alice-secret-pw"
	bobPassword   = "bob-secret-pw"
	aliceToken    = "tok-alice-0123456789"
	bobToken      = "tok-bob-0123456789"
)

func testUsers(t testing.TB) users {
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	return users{
		"alice": {Name: "alice", Teams: []string{"dev"}, PasswordHash: hash(alicePassword), Tokens: []string{aliceToken}},
		"bob":   {Name: "bob", Teams: []string{"ops"}, PasswordHash: hash(bobPassword), Tokens: []string{bobToken}},
	}
}

// demoProject deploys to staging from main and to prod from tags, with one
// approval and no bake. Units install one at a time, so that logs come in
// one order.
func demoProject(repo string) pipeline.Project {
	oneByOne := pipeline.Strategy{Parallel: 1}
	return pipeline.Project{Name: "demo", Repo: repo, Envs: []pipeline.Environment{
		{Name: "staging", DefaultRef: "main", Branches: []*regexp.Regexp{regexp.MustCompile(`^main$`)}, Strategy: oneByOne},
		{Name: "prod", Tags: []*regexp.Regexp{regexp.MustCompile(`^v\d+\.\d+\.\d+$`)}, Approvals: pipeline.ApprovalPolicy{Required: 1, Expire: time.Hour}, Strategy: oneByOne},
	}}
}

// testClock is the server's clock for sessions and throttling.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	t      *testing.T
	path   string // of the database file
	store  *storage.Store
	engine *pipeline.Engine
	bot    *bot.Bot
	srv    *Server
	ts     *httptest.Server
	clock  *testClock
	users  users
}

type setup struct {
	projects []pipeline.Project
	target   func(pipeline.Project, pipeline.Environment) (pipeline.Target, error)
	resolver pipeline.Resolver
	clock    pipeline.Clock // nil: a fake clock at t0
	baseURL  string
	linker   Linker
	dash     *dashboards.Dashboards
	log      *slog.Logger        // nil: discard
	sinks    map[string]bot.Sink // the outbox's sinks besides the console's own
	noOutbox bool                // serve no Outbox page
	freezes  []pipeline.Freeze
	replicas Replicas // nil: alone
	setup    Setup
	// oidc is the identity provider, given the console's address; its
	// People are the fixture's users when it has none.
	oidc       func(base string) *OIDC
	noPassword bool
	reload     Reload
}

// newFixture runs an engine on a SQLite store in a temporary directory and
// serves the console over it on 127.0.0.1. Without a setup it deploys the
// demo project to in-memory targets.
func newFixture(t *testing.T, s ...setup) *fixture {
	t.Helper()
	var cfg setup
	if len(s) > 0 {
		cfg = s[0]
	}
	if cfg.projects == nil {
		cfg.projects = []pipeline.Project{demoProject("/srv/demo.git")}
	}
	if cfg.target == nil {
		var mu sync.Mutex
		targets := map[string]*pipelinetest.Target{}
		cfg.target = func(p pipeline.Project, env pipeline.Environment) (pipeline.Target, error) {
			mu.Lock()
			defer mu.Unlock()
			key := p.Name + "/" + env.Name
			if targets[key] == nil {
				targets[key] = pipelinetest.NewTarget(env.Name[:1]+"1", env.Name[:1]+"2")
			}
			return targets[key], nil
		}
	}
	if cfg.resolver == nil {
		cfg.resolver = pipelinetest.Resolver{
			"main":   {Hash: "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Branch: "main"},
			"v1.0.0": {Hash: "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Tag: "v1.0.0"},
		}
	}
	fixed := cfg.clock == nil
	if fixed {
		cfg.clock = clockwork.NewFakeClockAt(t0)
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	st, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if fixed {
		st.Now = func() time.Time { return t0 }
	}
	f := &fixture{t: t, path: path, store: st, clock: &testClock{now: t0}, users: testUsers(t)}
	if !fixed { // a browser drops cookies that expired by its own clock
		f.clock.now = time.Now()
	}
	e, err := pipeline.New(pipeline.Config{
		Store: st, Projects: cfg.projects, Target: cfg.target, Resolver: cfg.resolver,
		Subscribers: pipeline.Subscribers{Subscriber{}}, Clock: cfg.clock, Tick: time.Hour, Freezes: cfg.freezes,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.engine = e
	if f.bot, err = bot.New(bot.Config{Engine: e, Logger: cfg.log}); err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewUnstartedServer(nil)
	base := cfg.baseURL
	if base == "" {
		base = "http://" + f.ts.Listener.Addr().String()
	}
	if cfg.setup.ConvertGitHub != nil {
		cfg.setup.Audit = st
	}
	var idp *OIDC
	if cfg.oidc != nil {
		if idp = cfg.oidc(base); idp.People == nil {
			idp.People = f.users
		}
	}
	var ob Outbox // stays a nil interface with noOutbox
	if !cfg.noOutbox {
		ob = st
	}
	f.srv, err = New(Config{Bot: f.bot, Engine: e, Users: f.users, Sessions: st, SessionKey: sessionKey, BaseURL: base, Linker: cfg.linker, Dashboards: cfg.dash, Outbox: ob, Replicas: cfg.replicas, Tokens: st, Setup: cfg.setup, OIDC: idp, NoPassword: cfg.noPassword, Reload: cfg.reload, Logger: cfg.log, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.ts.Config.Handler = f.srv.Handler()
	f.ts.Start()
	sinks := map[string]bot.Sink{"web": f.srv}
	for platform, sink := range cfg.sinks {
		sinks[platform] = sink
	}
	outbox, err := bot.NewDispatcher(bot.DispatcherConfig{Store: st, Bot: f.bot, Sinks: sinks, Wake: st.Noticed(), Clock: cfg.clock})
	if err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = e.Run(runCtx) })
	wg.Go(func() { _ = outbox.Run(runCtx) })
	wg.Go(func() { _ = f.srv.Run(runCtx) })
	go func() { wg.Wait(); close(done) }()
	t.Cleanup(func() {
		f.ts.CloseClientConnections()
		f.srv.Close()
		f.ts.Close()
		cancel()
		<-done
		st.Close()
	})
	return f
}

// sessionKey signs the fixture's sessions.
var sessionKey = []byte(strings.Repeat("k", 32))

// restart serves the console from a new server over a new handle on the
// same database file, as ferry does when it starts again; the old server
// is closed. The engine and the bot stay: only what the console kept
// matters here.
func (f *fixture) restart() {
	f.t.Helper()
	st, err := storage.Open(context.Background(), f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { st.Close() })
	f.ts.CloseClientConnections()
	f.ts.Close()
	f.srv.Close()
	f.ts = httptest.NewUnstartedServer(nil)
	f.srv, err = New(Config{Bot: f.bot, Engine: f.engine, Users: f.users, Sessions: st, SessionKey: sessionKey,
		BaseURL: "http://" + f.ts.Listener.Addr().String(), Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	f.ts.Config.Handler = f.srv.Handler()
	f.ts.Start()
}

// client is a browser without script: it keeps cookies and does not follow
// redirects, so tests see them.
func (f *fixture) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn returns a client signed in as name.
func (f *fixture) signIn(name, password string) *http.Client {
	f.t.Helper()
	c := f.client()
	res := f.postForm(c, "/login", url.Values{"name": {name}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("sign in as %s: %d %s", name, res.StatusCode, res.Body)
	}
	return c
}

type response struct {
	StatusCode int
	Header     http.Header
	Body       string
}

func (f *fixture) do(c *http.Client, req *http.Request) response {
	f.t.Helper()
	res, err := c.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatalf("%s %s: read: %v", req.Method, req.URL.Path, err)
	}
	return response{StatusCode: res.StatusCode, Header: res.Header, Body: string(b)}
}

func (f *fixture) get(c *http.Client, path string) response {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.ts.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.do(c, req)
}

func (f *fixture) postForm(c *http.Client, path string, form url.Values, header ...string) response {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return f.do(c, req)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// csrf reads the CSRF token of c's session from the console page.
func (f *fixture) csrf(c *http.Client) string {
	f.t.Helper()
	res := f.get(c, "/")
	m := csrfMeta.FindStringSubmatch(res.Body)
	if res.StatusCode != http.StatusOK || m == nil {
		f.t.Fatalf("console: %d, no CSRF token in\n%s", res.StatusCode, res.Body)
	}
	return m[1]
}

// api calls the API with a bearer token ("" for none) and decodes the JSON
// answer into out, if out is not nil.
func (f *fixture) api(method, path, token, body string, out any) response {
	f.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.ts.URL+path, r)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res := f.do(http.DefaultClient, req)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		f.t.Fatalf("%s %s: Content-Type %q, want JSON; body %s", method, path, ct, res.Body)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(res.Body), out); err != nil {
			f.t.Fatalf("%s %s: decode %s: %v", method, path, res.Body, err)
		}
	}
	return res
}

// wait blocks until deploy id is in state want, failing after 10 s.
func (f *fixture) wait(id int64, want pipeline.State) pipeline.Deploy {
	f.t.Helper()
	var d pipeline.Deploy
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if d, err = f.store.Deploy(context.Background(), id); err == nil && d.State == want {
			return d
		}
	}
	f.t.Fatalf("deploy %d is %s (%s, %v), want %s", id, d.State, d.Reason, err, want)
	return d
}

func (f *fixture) deployCount() int {
	f.t.Helper()
	ds, err := f.store.Deploys(context.Background(), pipeline.DeployFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	return len(ds)
}
