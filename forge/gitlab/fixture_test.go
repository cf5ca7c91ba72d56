package gitlab

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
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/forge/gitlab/fakegitlab"
	goldenfile "github.com/ferrybot/ferry/internal/golden"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

const (
	secret   = "It's a Secret to Everybody"
	apiToken = "glpat-test-token"
	// signingToken is a webhook's signing token as GitLab shows it.
	signingToken = "whsec_c2lnbmluZyBrZXkgb2YgdGhlIHdlYmhvb2s="
)

// The test project: the project of note.merge_request.command.json, in a
// subgroup, where every payload is moved.
const (
	projectPath       = "lkysow-test/subgroup/sub-subgroup/atlantis-example"
	projectID   int64 = 7804027
)

// Commits of the real payloads: push.json pushes master to pushed,
// tag_push.json v1.0.0 at tagged; the merge request of the note payload
// is at patchHead, the one of mark-as-ready.json at mrHead.
const (
	pushed    = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
	tagged    = "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"
	patchHead = "901d9770ef1a6862e2a73ec1bacc73590abb9aff"
	mrHead    = "386f281f2c9b1a3b659fc7a244ca6781174e1836"
)

// The users of the payloads, with their GitLab IDs.
const (
	pusher      = "jsmith" // push.json, tag_push.json
	sender      = "sheather"
	senderID    = 2 // merge_request.update.mark-as-ready.json
	commenter   = "lkysow"
	commenterID = 1755902 // note.merge_request.command.json's author_id
	noteID      = 96056916
	noteMR      = 2
	readyMR     = 3 // the IID of mark-as-ready.json's merge request
)

// testProject deploys the test project, named by its path so that it is
// on whichever GitLab the adapter calls (the fake's, in tests): master to
// staging (auto), tags v* to prod (auto, ops only), release-* branches to
// qa (not auto), patch* branches to preview with one approval from ops,
// and, where a repository's .ferry.yaml adds the optional review, patch*
// there too. staging, prod and preview have URLs, preview's one per
// branch.
func testProject() pipeline.Project {
	re := regexp.MustCompile
	return pipeline.Project{Name: "hello", Repo: projectPath, Envs: []pipeline.Environment{
		{Name: "staging", Auto: true, Branches: []*regexp.Regexp{re(`^master$`)}, URL: "https://{{.Env}}.hello.example.com"},
		{Name: "qa", Branches: []*regexp.Regexp{re(`^release-`)}},
		{Name: "prod", Auto: true, Tags: []*regexp.Regexp{re(`^v`)}, Deployers: []string{"ops"}, URL: "https://hello.example.com"},
		{Name: "preview", Branches: []*regexp.Regexp{re(`^patch`)}, Approvals: pipeline.ApprovalPolicy{Required: 1, From: []string{"ops"}},
			URL: "https://{{.Ref}}.preview.example.com"},
		{Name: "review", Branches: []*regexp.Regexp{re(`^patch`)}, Optional: true},
	}}
}

// refs are the refs of the test project's repository as the fixture's
// engine resolves them; the merge requests' heads are on every branch, so
// that a test may move them to the branch it needs.
var refs = pipelinetest.Resolver{
	"master":  {Hash: pushed, Branch: "master"},
	"patch":   {Hash: patchHead, Branch: "patch"},
	"changes": {Hash: mrHead, Branch: "changes"},
	"v1.0.0":  {Hash: tagged, Tag: "v1.0.0"},
	mrHead:    {Hash: mrHead},
}

// linked knows the payloads' users: the pusher as octo in ops, the
// merge request's sender as simon, the commenter as luke.
func linked() *config.Config {
	return &config.Config{
		Users: []pipeline.User{
			{Name: "octo", Teams: []string{"ops"}, Forge: map[string]string{"gitlab": pusher}},
			{Name: "simon", Forge: map[string]string{"gitlab": sender}},
			{Name: "luke", Forge: map[string]string{"gitlab": commenter}},
		},
		Teams: []pipeline.Team{{Name: "ops", Members: []string{"octo"}}},
	}
}

type fixture struct {
	t       testing.TB
	store   *storage.Store
	engine  *pipeline.Engine
	target  *pipelinetest.Target
	adapter *Adapter
	ts      *httptest.Server
	clock   *clockwork.FakeClock // the engine's and the adapter's
	runCtx  context.Context
	cancel  context.CancelFunc
	outbox  *bot.Dispatcher
	done    chan struct{} // closed when the adapter's Run returns
	// dispatching and running are closed when the dispatcher's and the
	// engine's Run return; nil until they start.
	dispatching, running chan struct{}
}

// newFixture builds a fixture whose adapter calls the fake fg, when it is
// not nil, with a Bot; users nil knows nobody. The engine does not run
// deploys until startEngine.
func newFixture(t testing.TB, users *config.Config, fg *fakegitlab.Server, mods ...func(*Config)) *fixture {
	t.Helper()
	f := build(t, users, fg, mods...)
	f.startOutbox()
	return f
}

// newHeldFixture is newFixture with the outbox held until startOutbox:
// what the deliveries owe GitLab waits.
func newHeldFixture(t testing.TB, users *config.Config, fg *fakegitlab.Server, mods ...func(*Config)) *fixture {
	t.Helper()
	return build(t, users, fg, mods...)
}

func build(t testing.TB, users *config.Config, fg *fakegitlab.Server, mods ...func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	target := pipelinetest.NewTarget("h1")
	clock := clockwork.NewFakeClockAt(t0)
	apiURL := ""
	if fg != nil {
		apiURL = fg.BaseURL()
		fg.AddProject(projectPath, projectID)
	}
	eng, err := pipeline.New(pipeline.Config{
		Store: st, Projects: []pipeline.Project{testProject()}, Clock: clock, Tick: time.Hour,
		Subscribers: pipeline.Subscribers{NewSubscriber(pipelinetest.Projects{testProject()}, apiURL)},
		Target:      func(pipeline.Project, pipeline.Environment) (pipeline.Target, error) { return target, nil },
		Resolver:    refs,
	})
	if err != nil {
		t.Fatal(err)
	}
	if users == nil {
		users = &config.Config{}
	}
	b, err := bot.New(bot.Config{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Engine: eng, Users: users, Store: st, WebhookSecret: secret, Clock: clock}
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
	f := &fixture{t: t, store: st, engine: eng, target: target, adapter: a, clock: clock, outbox: outbox, done: make(chan struct{})}
	f.runCtx, f.cancel = context.WithCancel(ctx)
	go func() { _ = a.Run(f.runCtx); close(f.done) }()
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
	t.Cleanup(f.drain)
	return f
}

// startOutbox has the dispatcher deliver what is owed GitLab.
func (f *fixture) startOutbox() {
	f.dispatching = make(chan struct{})
	go func() { _ = f.outbox.Run(f.runCtx); close(f.dispatching) }()
}

// startEngine has the engine run the deploys queued and to come.
func (f *fixture) startEngine() {
	f.running = make(chan struct{})
	go func() { _ = f.engine.Run(f.runCtx); close(f.running) }()
}

// settle waits until every acknowledged delivery is processed and, when
// the outbox runs, what is owed GitLab is delivered (or given up), within
// 10 s.
func (f *fixture) settle() {
	f.t.Helper()
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
		if len(backlog) == 0 && (pending == 0 || f.dispatching == nil) {
			return
		}
		select {
		case <-f.done:
			f.t.Fatalf("Run returned with deliveries owed: %+v", backlog)
		case <-deadline:
			f.t.Fatalf("still owed after 10 s: deliveries %+v, notices %+v", backlog, owed)
		case <-time.After(time.Millisecond):
		}
	}
}

// drain settles, then stops Run (and the engine).
func (f *fixture) drain() {
	f.settle()
	f.cancel()
	<-f.done
	for _, c := range []chan struct{}{f.dispatching, f.running} {
		if c != nil {
			<-c
		}
	}
}

// waitState waits, within 10 s, until deploy id is in state s.
func (f *fixture) waitState(id int64, s pipeline.State) pipeline.Deploy {
	f.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		ds, err := f.engine.Deploys(context.Background(), pipeline.DeployFilter{})
		if err != nil {
			f.t.Fatal(err)
		}
		for _, d := range ds {
			if d.ID == id && d.State == s {
				return d
			}
		}
		select {
		case <-deadline:
			f.t.Fatalf("deploy %d is not %s after 10 s: %+v", id, s, ds)
		case <-time.After(time.Millisecond):
		}
	}
}

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decoded is a payload as a map.
func decoded(t testing.TB, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload(t, name), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// edited is a real payload moved to the test project (its project,
// repository and a merge request's source and target), then changed by
// each edit.
func edited(t testing.TB, name string, edits ...func(m map[string]any)) []byte {
	t.Helper()
	m := decoded(t, name)
	home := decoded(t, "note.merge_request.command.json")
	project := home["project"].(map[string]any)
	m["project"], m["repository"] = project, home["repository"]
	if _, ok := m["project_id"]; ok {
		m["project_id"] = projectID
	}
	for _, key := range []string{"object_attributes", "merge_request"} {
		if mr, ok := m[key].(map[string]any); ok && mr["source_branch"] != nil {
			mr["source"], mr["target"] = project, project
			mr["source_project_id"], mr["target_project_id"] = projectID, projectID
		}
	}
	for _, e := range edits {
		e(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// attrs is a payload's object_attributes.
func attrs(m map[string]any) map[string]any { return m["object_attributes"].(map[string]any) }

// label is a label as a Merge Request Hook writes it.
func label(title string) map[string]any {
	return map[string]any{"id": len(title), "title": title, "color": "#ffffff", "project_id": projectID, "type": "ProjectLabel"}
}

func labels(titles ...string) []any {
	out := []any{}
	for _, l := range titles {
		out = append(out, label(l))
	}
	return out
}

// labeled is mark-as-ready.json with its head on branch head and the
// labels changed from before to after, as GitLab sends an update that
// adds or removes labels.
func labeled(t testing.TB, head string, before, after []string) []byte {
	return edited(t, "merge_request.update.mark-as-ready.json", func(m map[string]any) {
		a := attrs(m)
		a["source_branch"] = head
		a["labels"], m["labels"] = labels(after...), labels(after...)
		m["changes"] = map[string]any{"labels": map[string]any{"previous": labels(before...), "current": labels(after...)}}
	})
}

// headers are the headers of a delivery: a Merge Request Hook, with the
// secret token and an Idempotency-Key, unless set otherwise.
type headers map[string]string

// post sends body with headers h over the defaults, and returns the
// status; a header set to "" is left out.
func (f *fixture) post(body []byte, h headers) int {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.ts.URL+"/hooks/gitlab", bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	all := headers{"Content-Type": "application/json", "X-Gitlab-Event": "Merge Request Hook", tokenHeader: secret,
		"X-Gitlab-Instance": "https://gitlab.com", "X-Gitlab-Webhook-UUID": "3d8e1b2c-0d4f-4a5e-8f60-7a1b2c3d4e5f"}
	for k, v := range h {
		all[k] = v
	}
	for k, v := range all {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// deliver sends an event under Idempotency-Key key with the secret token.
func (f *fixture) deliver(event, key string, body []byte) int {
	f.t.Helper()
	return f.post(body, headers{"X-Gitlab-Event": event, idempotencyKey: key})
}

func (f *fixture) deploys() []pipeline.Deploy {
	f.t.Helper()
	ds, err := f.engine.Deploys(context.Background(), pipeline.DeployFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}

// signed are the Standard Webhooks headers of body signed at unix time ts.
func signed(t testing.TB, id string, ts int64, body []byte) headers {
	key, err := signingKey(signingToken)
	if err != nil {
		t.Fatal(err)
	}
	s := strconv.FormatInt(ts, 10)
	return headers{webhookID: id, webhookTimestamp: s, webhookSignature: sign(key, id, s, body)}
}

// golden compares a note ferry wrote with testdata/comments/name.md, or
// rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.CheckString(t, filepath.Join("testdata", "comments", name+".md"), got)
}

// withFake is a fake GitLab with the payloads' users known by their IDs.
func withFake(t testing.TB) *fakegitlab.Server {
	fg := fakegitlab.New(t, apiToken)
	fg.AddUser(sender, senderID)
	fg.AddUser(commenter, commenterID)
	fg.AddUser(pusher, 4)
	return fg
}

// nopEngine, nopUsers and nopStore stand in where New only checks its
// arguments.
type (
	nopEngine struct{ forge.Engine }
	nopUsers  struct{ forge.Users }
	nopStore  struct{ Store }
)
