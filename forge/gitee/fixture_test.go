package gitee

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/gitee/fakegitee"
	goldenfile "github.com/ferrybot/ferry/internal/golden"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

const (
	secret   = "bBg5lrt03VixkX85CNqYIcecC0SIGASE" // SIGNING.md's key
	apiToken = "gitee-test-token-5f3a9c"
	repoName = "kit101/drone-yml-test" // the repository of every real payload
	login    = "kit101"                // who pushed, opened, labelled and commented in them
)

// Commits of the real payloads.
const (
	pushed  = "9921e45e570db8e57e544650baf837932fb2100f" // push_hooks.json: feat-2-1
	tagged  = "aa9d11518a64dcd0d591a2a4eb35dfb4d91d49d5" // tag_push_hooks.create.json: 1.3
	opened  = "dc8fa2ebe050d63f639c5b834311e96bc2303523" // merge_request_hooks.open.json, .merge.json: #9, feat-3
	updated = "6168d9dae737b47f00c59fafca10c913a6850c3a" // merge_request_hooks.update.json: #7, feat-2
	patched = "5c3b0e9d7a1f24e6b8c90d1e2f3a4b5c6d7e8f90" // patch-1, of no payload: the approved pull request's head
)

// testProject deploys the payloads' repository, named owner/name so that
// it is on whichever Gitee the adapter calls (the fake's, in tests):
// feat-* branches to staging (auto), release-* to qa (not auto), tags
// that start with a digit to prod (auto, ops only); the optional review
// takes feat-* where a repository's .ferry.yaml adds it; patch-* go to
// preview with one approval from ops.
func testProject() pipeline.Project {
	re := regexp.MustCompile
	return pipeline.Project{Name: "drone", Repo: repoName, Envs: []pipeline.Environment{
		{Name: "staging", Auto: true, Branches: []*regexp.Regexp{re(`^feat-`)}},
		{Name: "qa", Branches: []*regexp.Regexp{re(`^release-`)}},
		{Name: "prod", Auto: true, Tags: []*regexp.Regexp{re(`^\d`)}, Deployers: []string{"ops"}},
		{Name: "review", Branches: []*regexp.Regexp{re(`^feat-`)}, Optional: true},
		{Name: "preview", Branches: []*regexp.Regexp{re(`^patch-`)}, Approvals: pipeline.ApprovalPolicy{Required: 1, From: []string{"ops"}}},
	}}
}

// refs are the refs of the test project's repository as the engine
// resolves them.
var refs = pipelinetest.Resolver{
	"feat-2-1": {Hash: pushed, Branch: "feat-2-1"},
	"1.3":      {Hash: tagged, Tag: "1.3"},
	"feat-3":   {Hash: opened, Branch: "feat-3"},
	"feat-2":   {Hash: updated, Branch: "feat-2"},
	"patch-1":  {Hash: patched, Branch: "patch-1"},
}

// linked links kit101 as kit, in team ops.
func linked() *config.Config {
	return &config.Config{
		Users: []pipeline.User{{Name: "kit", Teams: []string{"ops"}, Forge: map[string]string{"gitee": login}}},
		Teams: []pipeline.Team{{Name: "ops", Members: []string{"kit"}}},
	}
}

type fixture struct {
	t       testing.TB
	store   *storage.Store
	inbox   *receiving // the adapter's store
	engine  *pipeline.Engine
	adapter *Adapter
	target  *pipelinetest.Target
	ts      *httptest.Server
	clock   *clockwork.FakeClock // the engine's and the adapter's
	stamp   atomic.Int64         // the timestamp of the last delivery, in ms
	cancel  context.CancelFunc
	done    chan struct{}
}

// newFixture builds ferry's Gitee adapter over a real store and engine,
// calling the fake API fg when fg is not nil (without it, no Token), and
// runs the engine, the adapter and an outbox dispatcher until drain.
func newFixture(t testing.TB, users *config.Config, fg *fakegitee.Server, mods ...func(*Config)) *fixture {
	t.Helper()
	return newFixtureAt(t, t0, users, fg, mods...)
}

// newFixtureAt is newFixture with the clocks at now.
func newFixtureAt(t testing.TB, now time.Time, users *config.Config, fg *fakegitee.Server, mods ...func(*Config)) *fixture {
	t.Helper()
	f, h := build(t, now, users, fg, mods...)
	h.startEngine()
	h.startOutbox()
	return f
}

// newHeldFixture is newFixture whose dispatcher and engine wait for held:
// what the deliveries owe Gitee stays in the outbox, and the deploys they
// ask for stay queued, until the test starts them. drain needs both.
func newHeldFixture(t testing.TB, users *config.Config, fg *fakegitee.Server, mods ...func(*Config)) (*fixture, held) {
	t.Helper()
	return build(t, t0, users, fg, mods...)
}

// held starts what build holds back.
type held struct {
	ctx    context.Context // Run's
	wg     *sync.WaitGroup // of Run's goroutines; the adapter's keeps it above zero until drain
	engine *pipeline.Engine
	outbox *bot.Dispatcher
}

// startOutbox has the dispatcher deliver what is owed Gitee.
func (h held) startOutbox() { h.wg.Go(func() { _ = h.outbox.Run(h.ctx) }) }

// startEngine has the engine run the deploys queued and to come.
func (h held) startEngine() { h.wg.Go(func() { _ = h.engine.Run(h.ctx) }) }

// build makes a fixture at now whose adapter runs, and returns what it
// holds back: the engine and the dispatcher.
func build(t testing.TB, now time.Time, users *config.Config, fg *fakegitee.Server, mods ...func(*Config)) (*fixture, held) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, store: st, inbox: &receiving{Store: st}, target: pipelinetest.NewTarget("h1"), clock: clockwork.NewFakeClockAt(now), done: make(chan struct{})}
	f.stamp.Store(now.UnixMilli())
	f.engine, err = pipeline.New(pipeline.Config{
		Store: st, Projects: []pipeline.Project{testProject()}, Clock: f.clock, Tick: time.Hour,
		Subscribers: pipeline.Subscribers{NewSubscriber(pipelinetest.Projects{testProject()}, "")},
		Target:      func(pipeline.Project, pipeline.Environment) (pipeline.Target, error) { return f.target, nil },
		Resolver:    refs,
	})
	if err != nil {
		t.Fatal(err)
	}
	if users == nil {
		users = &config.Config{}
	}
	b, err := bot.New(bot.Config{Engine: f.engine})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Engine: f.engine, Users: users, Store: f.inbox, WebhookSecret: secret, Bot: b, Clock: f.clock}
	if fg != nil {
		cfg.Token, cfg.APIURL = apiToken, fg.APIURL()
	}
	for _, m := range mods {
		m(&cfg)
	}
	if f.adapter, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	outbox, err := bot.NewDispatcher(bot.DispatcherConfig{Store: st, Bot: b, Sinks: map[string]bot.Sink{platform: f.adapter}, Wake: st.Noticed(),
		Clock: f.clock}) // a notice that failed waits until a test moves the clock
	if err != nil {
		t.Fatal(err)
	}
	h := held{wg: &sync.WaitGroup{}, engine: f.engine, outbox: outbox}
	h.ctx, f.cancel = context.WithCancel(ctx)
	h.wg.Go(func() { _ = f.adapter.Run(h.ctx) })
	go func() { h.wg.Wait(); close(f.done) }()
	for !f.adapter.inbox.Accepting() {
		select { // Run has not started yet; it does at once
		case <-f.done:
			t.Fatal("Run returned")
		default:
			runtime.Gosched()
		}
	}
	f.ts = httptest.NewServer(f.adapter.Handler())
	t.Cleanup(f.ts.Close)
	t.Cleanup(f.drain)
	return f, h
}

// settling are the states a deploy leaves by itself.
var settling = map[pipeline.State]bool{pipeline.StateRequested: true, pipeline.StateQueued: true, pipeline.StateRunning: true, pipeline.StateRollingBack: true}

// drain waits until every acknowledged delivery is processed, every deploy
// has stopped moving and what they owe Gitee is delivered (or given up),
// then stops the engine, the adapter and the dispatcher. It may be called
// again.
func (f *fixture) drain() {
	select {
	case <-f.done:
		return
	default:
	}
	ctx := context.Background()
	deadline := time.After(10 * time.Second)
	for {
		backlog, err := f.store.InboxBacklog(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		moving := 0
		for _, d := range f.deploys() {
			if settling[d.State] {
				moving++
			}
		}
		owed, err := f.store.OutboxBacklogs(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		pending := 0
		for _, o := range owed {
			pending += o.Pending
		}
		if len(backlog) == 0 && moving == 0 && pending == 0 {
			break
		}
		select {
		case <-f.done:
			f.t.Fatalf("Run returned with work owed: deliveries %+v, notices %+v", backlog, owed)
		case <-deadline:
			f.t.Fatalf("still owed after 10 s: deliveries %+v, %d deploys moving, notices %+v", backlog, moving, owed)
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

// edit is a real payload with the values at paths (keys separated by
// dots) replaced, by JSON.
func edit(t testing.TB, name string, set map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload(t, name), &m); err != nil {
		t.Fatal(err)
	}
	for path, v := range set {
		at := m
		keys := splitPath(path)
		for _, k := range keys[:len(keys)-1] {
			next, ok := at[k].(map[string]any)
			if !ok {
				t.Fatalf("%s: no object at %s", name, k)
			}
			at = next
		}
		at[keys[len(keys)-1]] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := range len(p) {
		if p[i] == '.' {
			out, start = append(out, p[start:i]), i+1
		}
	}
	return append(out, p[start:])
}

// labels is the labels of a pull request as Gitee's payloads write them.
func labels(names ...string) []any {
	out := []any{}
	for i, n := range names {
		out = append(out, map[string]any{"id": 100 + i, "name": n, "color": "ededed"})
	}
	return out
}

// send posts body as event with the headers given (X-Gitee-Token,
// X-Gitee-Timestamp; "" leaves one out) and returns the status.
func (f *fixture) send(event, token, timestamp string, body []byte) int {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.ts.URL+"/hooks/gitee", bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "git-oschina-hook")
	req.Header.Set("X-Gitee-Event", event)
	if token != "" {
		req.Header.Set("X-Gitee-Token", token)
	}
	if timestamp != "" {
		req.Header.Set("X-Gitee-Timestamp", timestamp)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// deliver sends body signed as Gitee does, under a timestamp of its own a
// millisecond after the last one, and returns the timestamp.
func (f *fixture) deliver(event string, body []byte) string {
	f.t.Helper()
	ts := strconv.FormatInt(f.stamp.Add(1), 10)
	if got := f.send(event, sign([]byte(secret), ts), ts, body); got != http.StatusOK {
		f.t.Fatalf("%s: status %d", event, got)
	}
	return ts
}

func (f *fixture) deploys() []pipeline.Deploy {
	f.t.Helper()
	ds, err := f.engine.Deploys(context.Background(), pipeline.DeployFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}

// receiving is the store, counting the deliveries given to it.
type receiving struct {
	*storage.Store
	received atomic.Int64
}

func (r *receiving) Receive(ctx context.Context, d pipeline.Delivery, lease time.Duration) (pipeline.Receipt, error) {
	r.received.Add(1)
	return r.Store.Receive(ctx, d, lease)
}

// golden compares a text a person reads with testdata/comments/name.md,
// or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.CheckString(t, filepath.Join("testdata", "comments", name+".md"), got)
}
