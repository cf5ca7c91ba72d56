package gitee

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/gitee/fakegitee"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

// maxLabelDeployCalls bounds what one deploy of a labelled pull request
// costs in API calls, with a .ferry.yaml read: see
// TestLabelDeployAPICalls.
const maxLabelDeployCalls = 9

// TestLabelDeployAPICalls counts the calls to Gitee's API one deploy of a
// labelled pull request costs, from the label's delivery until the deploy
// succeeded and the outbox is drained, each state delivered on its own
// (none folded into a later one, as a slow outbox would): the labeller's
// permission, the .ferry.yaml at the head, the pull request's comments (to
// find a sticky comment) and the answer, the check run created for the
// queued deploy and updated as it runs and succeeds, and the sticky
// comment edited as it runs and succeeds (the answer shows it queued).
// What the unit's steps owe while it runs, delivered as they come, costs
// nothing: the check run and the sticky comment say so already.
func TestLabelDeployAPICalls(t *testing.T) {
	users, withRepo := repoConfigured("environments.*.branches")
	fg := fakegitee.New(t, apiToken)
	fg.Permissions[login] = "push"
	fg.SetFile(repoName, updated, ".ferry.yaml", "environments:\n  staging: {branches: ['^feat-2$']}\n")
	f, h := newHeldFixture(t, users, fg, withRepo, func(c *Config) { c.BaseURL = console })
	started := make(chan string)
	f.target.Set(func(t *pipelinetest.Target) { t.Started = started })
	release := f.hold()
	f.deliver(mergeRequest, labelUpdate(t, "open", "deploy/staging"))
	f.until("the label's answer, before the outbox runs", f.handled)
	h.startOutbox()
	f.until("the queued deploy's notices", func() bool { return f.owed() == 0 })
	h.startEngine()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the deploy did not start")
	}
	f.until("the running deploy's notices", func() bool { return f.owed() == 0 })
	release()
	f.drain()
	d := f.succeeded("staging", updated)
	if d.Requester != "kit" || d.Ref != "feat-2" {
		t.Errorf("deploy = %+v, want feat-2 by kit", d)
	}

	got := fg.Calls()
	t.Logf("one deploy of a labelled pull request cost %d API calls:\n\t%s", len(got), strings.Join(got, "\n\t"))
	if len(got) > maxLabelDeployCalls {
		t.Errorf("%d calls, want at most %d", len(got), maxLabelDeployCalls)
	}
	const repo = "/api/v5/repos/" + repoName
	want := map[string]int{
		permission:                            1,
		contents:                              1,
		"GET " + repo + "/pulls/7/comments":   1,
		"POST " + repo + "/pulls/7/comments":  1,
		checkRuns:                             1,
		"PATCH " + repo + "/check-runs/1":     2,
		"PATCH " + repo + "/pulls/comments/1": 2,
	}
	counts := map[string]int{}
	for _, c := range got {
		counts[c]++
	}
	for _, call := range sortedKeys(counts, want) {
		if counts[call] != want[call] {
			t.Errorf("%s: %d calls, want %d", call, counts[call], want[call])
		}
	}
	cs := fg.Comments()
	if len(cs) != 1 || cs[0].Number != 7 {
		t.Fatalf("comments = %+v, want one on #7", cs)
	}
	golden(t, "label-deploy-added", cs[0].Body) // the answer, become the deploy's card
	runs := fg.CheckRuns()
	if len(runs) != 1 {
		t.Fatalf("check runs = %+v, want one", runs)
	}
	r := runs[0]
	if r.SHA != updated || r.Name != "ferry/staging" || r.Conclusion != "success" || r.DetailsURL != console+"deploys/1" {
		t.Errorf("check run = %+v, want ferry/staging on %s, completed: success, linking to the deploy", r, updated)
	}
	if !slices.Equal(r.Statuses, []string{"queued", "in_progress", "completed"}) {
		t.Errorf("the check run's statuses = %v, want queued in_progress completed", r.Statuses)
	}
}

// sortedKeys are the keys of ms, once each, in order.
func sortedKeys(ms ...map[string]int) []string {
	var out []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// owed counts the notices pending in the outbox.
func (f *fixture) owed() int {
	f.t.Helper()
	owed, err := f.store.OutboxBacklogs(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, o := range owed {
		n += o.Pending
	}
	return n
}

// held starts what a held fixture holds back.
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

// newHeldFixture is newFixture whose dispatcher and engine wait for held:
// what the deliveries owe Gitee stays in the outbox, and the deploys they
// ask for stay queued, until the test starts them. drain needs both.
func newHeldFixture(t testing.TB, users *config.Config, fg *fakegitee.Server, mods ...func(*Config)) (*fixture, held) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, store: st, inbox: &receiving{SQLite: st}, target: pipelinetest.NewTarget("h1"), clock: clockwork.NewFakeClockAt(t0), done: make(chan struct{})}
	f.stamp.Store(t0.UnixMilli())
	f.engine, err = pipeline.New(pipeline.Config{
		Store: st, Projects: []pipeline.Project{testProject()}, Clock: f.clock, Tick: time.Hour,
		Subscribers: pipeline.Subscribers{NewSubscriber([]pipeline.Project{testProject()}, "")},
		Target:      func(pipeline.Project, pipeline.Environment) (pipeline.Target, error) { return f.target, nil },
		Resolver:    refs,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(bot.Config{Engine: f.engine})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Engine: f.engine, Users: users, Store: f.inbox, WebhookSecret: secret, Bot: b, Clock: f.clock, Token: apiToken, APIURL: fg.APIURL()}
	for _, m := range mods {
		m(&cfg)
	}
	if f.adapter, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	outbox, err := bot.NewDispatcher(bot.DispatcherConfig{Store: st, Bot: b, Sinks: map[string]bot.Sink{platform: f.adapter}, Wake: st.Noticed(), Clock: f.clock})
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
