package github

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

const (
	secret   = "It's a Secret to Everybody"
	apiToken = "ghp_test_token"
)

// Commits of the real payloads: push.branch.json pushes master to after,
// push.new-branch.json creates master at created.
const (
	after   = "199eddf46df50de8d02e99bf1c5fdb4101338224"
	created = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
)

// testProject deploys the payloads' repository, named owner/name so that
// it is on whichever GitHub the adapter calls (the fake's, in tests): master to staging (auto),
// tags v* to prod (auto, ops only), release-* branches to qa (not auto),
// patch-* branches to preview with one approval from ops, and, where a
// repository's .ferry.yaml adds the optional review, patch-* there too.
// staging and preview have URLs, preview's one per branch.
func testProject() pipeline.Project {
	re := regexp.MustCompile
	return pipeline.Project{Name: "hello", Repo: "Codertocat/Hello-World", Envs: []pipeline.Environment{
		{Name: "staging", Auto: true, Branches: []*regexp.Regexp{re(`^master$`)}, URL: "https://{{.Env}}.hello.example.com"},
		{Name: "qa", Branches: []*regexp.Regexp{re(`^release-`)}},
		{Name: "prod", Auto: true, Tags: []*regexp.Regexp{re(`^v`)}, Deployers: []string{"ops"}},
		{Name: "preview", Branches: []*regexp.Regexp{re(`^patch-`)}, Approvals: pipeline.ApprovalPolicy{Required: 1, From: []string{"ops"}},
			URL: "https://{{.Ref}}.preview.example.com"},
		{Name: "review", Branches: []*regexp.Regexp{re(`^patch-`)}, Optional: true},
	}}
}

type fixture struct {
	t       testing.TB
	store   *storage.Store
	engine  *pipeline.Engine
	adapter *Adapter
	ts      *httptest.Server
	clock   *clockwork.FakeClock // the engine's and the adapter's
	cancel  context.CancelFunc
	done    chan struct{}
}

func newFixture(t testing.TB, users *config.Config) *fixture {
	return newFixtureWith(t, users, nil)
}

// newFixtureWith builds a fixture whose adapter answers comments through
// the fake API fg, when fg is not nil.
func newFixtureWith(t testing.TB, users *config.Config, fg *fakegithub.Server, mods ...func(*Config)) *fixture {
	t.Helper()
	return newFixtureResolving(t, users, fg, refs, mods...)
}

// refs are the refs of the test project's repository as the fixture's
// engine resolves them, unless a test gives it a resolver of its own.
var refs = pipelinetest.Resolver{
	"master":  {Hash: after, Branch: "master"},
	"patch-2": {Hash: "b7a1f9c27caa4e03c14a88feb56e2d4f7500aa63", Branch: "patch-2"},
	"changes": {Hash: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", Branch: "changes"},
	"v1.2.0":  {Hash: created, Tag: "v1.2.0"},
	// The head of the pull request payloads, which the tests move to
	// other branches: on every branch.
	"ec26c3e57ca3a959ca5aad62de7213c562f8c821": {Hash: "ec26c3e57ca3a959ca5aad62de7213c562f8c821"},
}

// newFixtureResolving is newFixtureWith with the refs of the test
// project's repository resolved by resolver.
func newFixtureResolving(t testing.TB, users *config.Config, fg *fakegithub.Server, resolver pipeline.Resolver, mods ...func(*Config)) *fixture {
	t.Helper()
	f, _, _ := build(t, users, fg, resolver, true, mods...)
	return f
}

// build makes a fixture whose adapter runs, with the outbox's dispatcher
// running too when withOutbox (and drained at the end), and returns the
// target its engine deploys to and the dispatcher. The engine does not
// run.
func build(t testing.TB, users *config.Config, fg *fakegithub.Server, resolver pipeline.Resolver, withOutbox bool, mods ...func(*Config)) (*fixture, *pipelinetest.Target, *bot.Dispatcher) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	target := pipelinetest.NewTarget("h1")
	clock := clockwork.NewFakeClockAt(t0)
	eng, err := pipeline.New(pipeline.Config{
		Store: st, Projects: []pipeline.Project{testProject()}, Clock: clock, Tick: time.Hour,
		Subscribers: pipeline.Subscribers{NewSubscriber(pipelinetest.Projects{testProject()}, "")},
		Target:      func(pipeline.Project, pipeline.Environment) (pipeline.Target, error) { return target, nil },
		Resolver:    resolver,
	})
	if err != nil {
		t.Fatal(err)
	}
	if users == nil {
		users = &config.Config{}
	}
	cfg := Config{Engine: eng, Users: users, Store: st, WebhookSecret: secret, Clock: clock}
	b, err := bot.New(bot.Config{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	if fg != nil {
		cfg.Bot, cfg.Token, cfg.APIURL = b, apiToken, fg.BaseURL()
	}
	for _, m := range mods {
		m(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := bot.NewDispatcher(bot.DispatcherConfig{Store: st, Bot: b, Sinks: map[string]bot.Sink{platform: a}, Wake: st.Noticed()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: st, engine: eng, adapter: a, clock: clock, done: make(chan struct{})}
	var runCtx context.Context
	runCtx, f.cancel = context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.Run(runCtx) })
	if withOutbox {
		wg.Go(func() { _ = outbox.Run(runCtx) })
	}
	go func() { wg.Wait(); close(f.done) }()
	for !a.inbox.Accepting() {
		// Run has not started yet; it does at once.
		select {
		case <-f.done:
			t.Fatal("Run returned")
		default:
			runtime.Gosched()
		}
	}
	f.ts = httptest.NewServer(a.Handler())
	t.Cleanup(f.ts.Close)
	if withOutbox {
		t.Cleanup(f.drain)
	} else {
		t.Cleanup(func() { f.cancel(); <-f.done })
	}
	return f, target, outbox
}

// drain waits until every acknowledged delivery is processed and what
// they owe GitHub is delivered (or given up), then stops Run.
func (f *fixture) drain() {
	deadline := time.After(10 * time.Second)
	for {
		backlog, err := f.store.InboxBacklog(context.Background())
		if err != nil {
			f.t.Fatal(err)
		}
		owed, err := f.store.OutboxBacklogs(context.Background())
		if err != nil {
			f.t.Fatal(err)
		}
		pending := 0
		for _, o := range owed {
			pending += o.Pending
		}
		if len(backlog) == 0 && pending == 0 {
			break
		}
		select {
		case <-f.done:
			f.t.Fatalf("Run returned with deliveries owed: %+v", backlog)
		case <-deadline:
			f.t.Fatalf("still owed after 10 s: deliveries %+v, notices %+v", backlog, owed)
		case <-time.After(time.Millisecond):
		}
	}
	f.cancel()
	<-f.done
}

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send posts body as event with delivery ID id, signed with sig ("" for
// none), and returns the status.
func (f *fixture) send(event, id, sig string, body []byte) int {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.ts.URL+"/hooks/github", bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// deliver sends a correctly signed delivery.
func (f *fixture) deliver(event, id string, body []byte) int {
	return f.send(event, id, sign([]byte(secret), body), body)
}

func (f *fixture) deploys() []pipeline.Deploy {
	f.t.Helper()
	ds, err := f.engine.Deploys(context.Background(), pipeline.DeployFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}

// nopEngine and nopStore stand in where New only checks its arguments.
type nopEngine struct{ forge.Engine }

type nopStore struct{ Store }

// projects is an Engine with projects only.
type projects struct {
	forge.Engine
	ps []pipeline.Project
}

func (p projects) Projects() []pipeline.Project { return p.ps }
