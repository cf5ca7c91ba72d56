package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/bot/slack/fakeslack"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// Slack IDs of the test users. carol is in ferry.yaml without one; dave may
// deploy but not approve prod.
const (
	uAlice = "UALICE"
	uBob   = "UBOB"
	uDave  = "UDAVE"
	uCarol = "UCAROL"
	team   = "T1DC2JH3J"
)

func testUsers() *config.Config {
	return &config.Config{
		Users: []pipeline.User{
			{Name: "alice", Teams: []string{"dev"}, Chat: map[string]string{"slack": uAlice}},
			{Name: "bob", Teams: []string{"ops"}, Chat: map[string]string{"slack": uBob}},
			{Name: "carol", Teams: []string{"ops"}},
			{Name: "dave", Teams: []string{"dev"}, Chat: map[string]string{"slack": uDave}},
		},
		Teams: []pipeline.Team{{Name: "ops", Members: []string{"bob", "carol"}}, {Name: "dev", Members: []string{"alice", "dave"}}},
	}
}

// demoProject deploys main to staging (two hosts) and tags to prod: four
// hosts in a canary [1, 50%, 100%], one approval from ops within an hour.
func demoProject() pipeline.Project {
	return pipeline.Project{Name: "demo", Repo: "/srv/demo.git", Channel: "#deploys", Envs: []pipeline.Environment{
		{Name: "staging", DefaultRef: "main", Branches: []*regexp.Regexp{regexp.MustCompile(`^main$`)}, Strategy: pipeline.Strategy{Parallel: 1}},
		{Name: "prod", Tags: []*regexp.Regexp{regexp.MustCompile(`^v`)},
			Approvals: pipeline.ApprovalPolicy{Required: 1, From: []string{"ops"}, Expire: time.Hour},
			Strategy:  pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 50}, {Percent: 100}}, Parallel: 1}},
	}}
}

type fixture struct {
	t        testing.TB
	slack    *fakeslack.Server
	store    *storage.Store
	engine   *pipeline.Engine
	engClock *clockwork.FakeClock
	bot      *bot.Bot
	adapter  *Adapter
	accounts *bot.Accounts
	ts       *httptest.Server
	users    *config.Config
	targets  map[string]*pipelinetest.Target
	clock    pipeline.Clock // the adapter's
	trigger  atomic.Int64
	cancel   context.CancelFunc
	done     chan struct{}
	// stopOutbox stops the dispatcher that delivers the adapter's notices.
	stopOutbox func()
}

type setup struct {
	clock    pipeline.Clock // the adapter's; nil: the system clock
	appToken bool           // Socket Mode
	noSecret bool           // no signing secret: HTTP off
	every    time.Duration  // UpdateEvery; 0: none
}

func newFixture(t testing.TB, s ...setup) *fixture {
	t.Helper()
	var cfg setup
	if len(s) > 0 {
		cfg = s[0]
	}
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: st, slack: fakeslack.New(t), users: testUsers(), engClock: clockwork.NewFakeClockAt(t0), done: make(chan struct{})}
	f.targets = map[string]*pipelinetest.Target{
		"staging": pipelinetest.NewTarget("s1", "s2"),
		"prod":    pipelinetest.NewTarget("p1", "p2", "p3", "p4"),
	}
	f.engine, err = pipeline.New(pipeline.Config{
		Store: st, Projects: []pipeline.Project{demoProject()},
		Target: func(_ pipeline.Project, env pipeline.Environment) (pipeline.Target, error) {
			return f.targets[env.Name], nil
		},
		Resolver: pipelinetest.Resolver{
			"main":   {Hash: "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Branch: "main"},
			"v1.0.0": {Hash: "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Tag: "v1.0.0"},
		},
		Subscribers: pipeline.Subscribers{Subscriber{}}, Clock: f.engClock, Tick: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.bot, err = bot.New(bot.Config{Engine: f.engine, BaseURL: "https://ferry.example.com"}); err != nil {
		t.Fatal(err)
	}
	every := cfg.every
	if every == 0 {
		every = -1
	}
	if f.accounts, err = bot.NewAccounts(bot.AccountsConfig{Users: f.users, Store: st, BaseURL: "https://ferry.example.com",
		Key: []byte(strings.Repeat("L", 32)), Clock: cfg.clock}); err != nil {
		t.Fatal(err)
	}
	acfg := Config{
		Bot: f.bot, Projects: f.engine, Users: f.users, Store: st, Accounts: f.accounts,
		BotToken: f.slack.BotToken, SigningSecret: signingSecret, DefaultChannel: "#general",
		UpdateEvery: every, APIURL: f.slack.APIURL(), Clock: cfg.clock,
	}
	if cfg.appToken {
		acfg.AppToken = f.slack.AppToken
	}
	if cfg.noSecret {
		acfg.SigningSecret = ""
	}
	if f.adapter, err = New(acfg); err != nil {
		t.Fatal(err)
	}
	f.clock = f.adapter.clock
	f.ts = httptest.NewServer(f.adapter.Handler())

	runCtx, cancel := context.WithCancel(ctx)
	f.cancel = cancel
	var wg sync.WaitGroup
	wg.Go(func() { _ = f.engine.Run(runCtx) })
	wg.Go(func() { _ = f.adapter.Run(runCtx) })
	f.stopOutbox = f.dispatch(f.adapter)
	go func() { wg.Wait(); close(f.done) }()
	t.Cleanup(func() {
		f.ts.Close()
		cancel()
		f.stopOutbox()
		<-f.done
		st.Close()
	})
	for !f.adapter.inbox.Accepting() {
		time.Sleep(time.Millisecond)
	}
	return f
}

// dispatch delivers the outbox through a, on the adapter's clock, until
// the returned function is called.
func (f *fixture) dispatch(a *Adapter) (stop func()) {
	f.t.Helper()
	d, err := bot.NewDispatcher(bot.DispatcherConfig{Store: f.store, Bot: f.bot, Sinks: map[string]bot.Sink{platform: a},
		Wake: f.store.Noticed(), Clock: a.clock})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "payloads", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends body to one of the adapter's routes, signed now.
func (f *fixture) post(route string, body []byte, header ...string) *http.Response {
	f.t.Helper()
	ts := strconv.FormatInt(f.clock.Now().Unix(), 10)
	req, err := http.NewRequest(http.MethodPost, f.ts.URL+"/chat/slack/"+route, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sign([]byte(signingSecret), ts, body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// commandBody is the real slash command payload with another user, text
// and response URL, and a trigger ID of its own.
func (f *fixture) commandBody(user, text, responseID string) []byte {
	v, err := url.ParseQuery(string(payload(f.t, "slash_command.txt")))
	if err != nil {
		f.t.Fatal(err)
	}
	v.Set("user_id", user)
	v.Set("command", "/ferry")
	v.Set("text", text)
	v.Set("response_url", f.slack.ResponseURL(responseID))
	v.Set("trigger_id", fmt.Sprintf("trigger-%d", f.trigger.Add(1)))
	return []byte(v.Encode())
}

// command runs a slash command and returns what ferry answered to its
// response URL.
func (f *fixture) command(user, text string) fakeslack.Call {
	f.t.Helper()
	id := fmt.Sprintf("cmd-%d", f.trigger.Load()+1)
	if res := f.post("commands", f.commandBody(user, text, id)); res.StatusCode != http.StatusOK {
		f.t.Fatalf("%s: status %d", text, res.StatusCode)
	}
	return f.response(id)
}

// response waits for the answer posted to a response URL.
func (f *fixture) response(id string) fakeslack.Call {
	f.t.Helper()
	var got fakeslack.Call
	f.slack.Until(f.t, "an answer to "+id, func() bool {
		for _, c := range f.slack.Calls("response_url") {
			if c.TS == id {
				got = c
				return true
			}
		}
		return false
	})
	return got
}

// actionBody is the real block_actions payload with ferry's button.
func (f *fixture) actionBody(user, actionID, value, responseID string) []byte {
	var p map[string]any
	if err := json.Unmarshal(payload(f.t, "block_actions.button.message.json"), &p); err != nil {
		f.t.Fatal(err)
	}
	p["user"].(map[string]any)["id"] = user
	p["response_url"] = f.slack.ResponseURL(responseID)
	p["trigger_id"] = fmt.Sprintf("trigger-%d", f.trigger.Add(1))
	act := p["actions"].([]any)[0].(map[string]any)
	act["action_id"], act["value"] = actionID, value
	b, _ := json.Marshal(p)
	return []byte(url.Values{"payload": {string(b)}}.Encode())
}

// click presses a card's button and returns the answer.
func (f *fixture) click(user string, act bot.ActionID, command string) fakeslack.Call {
	f.t.Helper()
	id := fmt.Sprintf("click-%d", f.trigger.Load()+1)
	if res := f.post("interactions", f.actionBody(user, actionPrefix+string(act), command, id)); res.StatusCode != http.StatusOK {
		f.t.Fatalf("click %s: status %d", command, res.StatusCode)
	}
	return f.response(id)
}

// waitDeploy waits until deploy id is in state want.
func (f *fixture) waitDeploy(id int64, want pipeline.State) pipeline.Deploy {
	f.t.Helper()
	var d pipeline.Deploy
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if d, err = f.store.Deploy(context.Background(), id); err == nil && d.State == want {
			return d
		}
	}
	f.t.Fatalf("deploy %d is %s (%s, %v); want %s", id, d.State, d.Reason, err, want)
	return d
}

// card waits until the card of a deploy shows state, and returns it.
func (f *fixture) card(id int64, state pipeline.State) fakeslack.Message {
	f.t.Helper()
	var got fakeslack.Message
	prefix := fmt.Sprintf("#%d ", id)
	f.slack.Until(f.t, fmt.Sprintf("the card of #%d %s", id, state), func() bool {
		for _, m := range f.slack.Messages() {
			if strings.HasPrefix(m.Text, prefix) && strings.HasSuffix(m.Text, ": "+words(string(state))) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// buttons lists the action IDs of a message's buttons.
func buttons(t testing.TB, blocks json.RawMessage) []string {
	t.Helper()
	var bs []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(blocks, &bs); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range bs {
		if b.Type == "actions" {
			for _, e := range b.Elements {
				ids = append(ids, e.ActionID)
			}
		}
	}
	return ids
}
