package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	"github.com/ferrybot/ferry/bot/dingtalk/fakedingtalk"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

const (
	clientID     = "dingabcdefghijk"
	clientSecret = "bBg5lrt03VixkX85CNqYIcecC0SIGASE"
	template     = "4a5b6c7d-ferry-deploy.schema"
	demoGroup    = "cidDEMOgroup0000=="
	corp         = "ding9f50b15b6741"
)

// DingTalk userIds of the test users. carol is in ferry.yaml without one;
// dave may deploy but not approve prod.
const (
	uAlice = "0420297"
	uBob   = "0990002"
	uCarol = "0990003"
	uDave  = "0990004"
)

func testUsers() *config.Config {
	return &config.Config{
		Users: []pipeline.User{
			{Name: "alice", Teams: []string{"dev"}, Chat: map[string]string{"dingtalk": uAlice}},
			{Name: "bob", Teams: []string{"ops"}, Chat: map[string]string{"dingtalk": uBob}},
			{Name: "carol", Teams: []string{"ops"}},
			{Name: "dave", Teams: []string{"dev"}, Chat: map[string]string{"dingtalk": uDave}},
		},
		Teams: []pipeline.Team{{Name: "ops", Members: []string{"bob", "carol"}}, {Name: "dev", Members: []string{"alice", "dave"}}},
	}
}

// demoProject deploys main to staging (two hosts) and tags to prod: four
// hosts in a canary [1, 50%, 100%], one approval from ops within an hour.
func demoProject() pipeline.Project {
	return pipeline.Project{Name: "demo", Repo: "/srv/demo.git", Envs: []pipeline.Environment{
		{Name: "staging", DefaultRef: "main", Branches: []*regexp.Regexp{regexp.MustCompile(`^main$`)}, Strategy: pipeline.Strategy{Parallel: 1}},
		{Name: "prod", Tags: []*regexp.Regexp{regexp.MustCompile(`^v`)},
			Approvals: pipeline.ApprovalPolicy{Required: 1, From: []string{"ops"}, Expire: time.Hour},
			Strategy:  pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 50}, {Percent: 100}}, Parallel: 1}},
	}}
}

type fixture struct {
	t        testing.TB
	fake     *fakedingtalk.Server
	store    *storage.Store
	engine   *pipeline.Engine
	bot      *bot.Bot
	adapter  *Adapter
	accounts *bot.Accounts
	users    *config.Live // the users, and demo, whose cards go to demoGroup
	targets  map[string]*pipelinetest.Target
	clock    *clockwork.FakeClock // the adapter's, the fake's and the dispatcher's
	ts       *httptest.Server     // the adapter's HTTP route
	msgs     atomic.Int64
	robotURL string // the "ops" robot's webhook, when setup.robot
	// stopOutbox stops the dispatcher that delivers the adapter's notices.
	stopOutbox func()
}

type setup struct {
	mode        string // ModeStream (default) or ModeHTTP
	noTemplate  bool   // cards as ActionCard messages
	robot       bool   // a custom robot "ops" that takes every deploy's cards
	robotSecret string // its 加签 secret
	wrap        func(bot.Sink) bot.Sink
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
	clock := clockwork.NewFakeClockAt(time.Now().Truncate(time.Second))
	live := testUsers()
	live.Projects = []pipeline.Project{demoProject()}
	live.DingTalk.Groups = map[string]string{"demo": demoGroup}
	f := &fixture{t: t, store: st, users: config.NewLive(live), clock: clock}
	f.fake = fakedingtalk.New(t, fakedingtalk.Config{ClientID: clientID, ClientSecret: clientSecret, Now: clock.Now})
	f.targets = map[string]*pipelinetest.Target{
		"staging": pipelinetest.NewTarget("s1", "s2"),
		"prod":    pipelinetest.NewTarget("p1", "p2", "p3", "p4"),
	}
	var robots []Robot
	if cfg.robot {
		f.robotURL = f.fake.AddRobot("robot-ops-token", cfg.robotSecret)
		robots = append(robots, Robot{Name: "ops", Webhook: f.robotURL, Secret: cfg.robotSecret, Cards: func(pipeline.Deploy) bool { return true }})
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
		Subscribers: pipeline.Subscribers{Subscriber{App: true, Robots: robots}}, Tick: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.bot, err = bot.New(bot.Config{Engine: f.engine, BaseURL: "https://ferry.example.com"}); err != nil {
		t.Fatal(err)
	}
	if f.accounts, err = bot.NewAccounts(bot.AccountsConfig{Users: f.users, Store: st, BaseURL: "https://ferry.example.com",
		Key: []byte(strings.Repeat("L", 32)), Clock: clock}); err != nil {
		t.Fatal(err)
	}
	acfg := Config{
		Bot: f.bot, Users: f.users, Store: st, Accounts: f.accounts, ClientID: clientID, ClientSecret: clientSecret,
		Mode: cfg.mode, CardTemplateID: template, Projects: f.users, Robots: robots, APIURL: f.fake.URL(), Clock: clock, UpdateEvery: -1,
	}
	if cfg.noTemplate {
		acfg.CardTemplateID = ""
	}
	if f.adapter, err = New(acfg); err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewServer(f.adapter.Handler())

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = f.engine.Run(runCtx) })
	wg.Go(func() { _ = f.adapter.Run(runCtx) })
	f.stopOutbox = f.dispatch(cfg.wrap)
	t.Cleanup(func() {
		f.ts.Close()
		cancel()
		f.stopOutbox()
		wg.Wait()
		st.Close()
	})
	for !f.adapter.inbox.Accepting() {
		time.Sleep(time.Millisecond)
	}
	if f.adapter.mode == ModeStream {
		wctx, stop := context.WithTimeout(ctx, 10*time.Second)
		defer stop()
		if err := f.fake.WaitConnections(wctx, 1); err != nil {
			t.Fatalf("the stream did not connect: %v", err)
		}
	}
	return f
}

// dispatch delivers the outbox through the adapter's sinks, on its clock,
// until the returned function is called.
func (f *fixture) dispatch(wrap func(bot.Sink) bot.Sink) (stop func()) {
	f.t.Helper()
	sinks := f.adapter.Sinks()
	if wrap != nil {
		for p, s := range sinks {
			sinks[p] = wrap(s)
		}
	}
	d, err := bot.NewDispatcher(bot.DispatcherConfig{Store: f.store, Bot: f.bot, Sinks: sinks, Wake: f.store.Noticed(), Clock: f.clock})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

func fixtureFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "payloads", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// message is the real robot callback with another sender, text and
// msgId: in the demo group, or in the sender's 1:1 chat.
func (f *fixture) message(user, text string, group bool) []byte {
	var m map[string]any
	if err := json.Unmarshal(fixtureFile(f.t, "robot_callback.text.json"), &m); err != nil {
		f.t.Fatal(err)
	}
	conv, kind := "cidPRIVATE"+user, "1"
	if group {
		conv, kind = demoGroup, "2"
		m["isInAtList"] = true
	}
	expires := f.clock.Now().Add(90 * time.Minute)
	m["msgId"] = fmt.Sprintf("msg%d%s==", f.msgs.Add(1), user)
	m["senderStaffId"], m["conversationId"], m["conversationType"] = user, conv, kind
	m["senderCorpId"] = corp
	m["text"] = map[string]any{"content": " " + text}
	m["sessionWebhook"], m["sessionWebhookExpiredTime"] = f.fake.SessionWebhook(conv, expires), expires.UnixMilli()
	m["createAt"] = f.clock.Now().UnixMilli()
	b, _ := json.Marshal(m)
	return b
}

// say sends a message over the Stream connection and returns what ferry
// answered to its session webhook.
func (f *fixture) say(user, text string) fakedingtalk.SessionMessage {
	f.t.Helper()
	return f.send(f.message(user, text, true))
}

// send delivers a robot message (over Stream, or HTTP in HTTP mode) and
// waits for the answer.
func (f *fixture) send(body []byte) fakedingtalk.SessionMessage {
	f.t.Helper()
	before := len(f.fake.SessionMessages())
	if f.adapter.mode == ModeHTTP {
		if res := f.post(body); res.StatusCode != http.StatusOK {
			f.t.Fatalf("POST /chat/dingtalk: %d", res.StatusCode)
		}
	} else if ack, err := f.fake.SendBotMessage(f.ctx(), body); err != nil || ack.Code != 200 {
		f.t.Fatalf("stream callback: %+v, %v", ack, err)
	}
	f.until("an answer", func() bool { return len(f.fake.SessionMessages()) > before })
	ms := f.fake.SessionMessages()
	return ms[len(ms)-1]
}

// post sends a callback to /chat/dingtalk signed now.
func (f *fixture) post(body []byte, header ...string) *http.Response {
	f.t.Helper()
	return f.postAs(f.t, body, header...)
}

// postAs is post in the test t.
func (f *fixture) postAs(t testing.TB, body []byte, header ...string) *http.Response {
	t.Helper()
	ts := strconv.FormatInt(f.clock.Now().UnixMilli(), 10)
	req, err := http.NewRequest(http.MethodPost, f.ts.URL+"/chat/dingtalk", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("timestamp", ts)
	req.Header.Set("sign", fakedingtalk.Sign(clientSecret, f.clock.Now().UnixMilli()))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// press presses a button on the card of a deploy, as user, over Stream.
func (f *fixture) press(user string, deploy int64, action bot.ActionID) fakedingtalk.Ack {
	f.t.Helper()
	card := f.cardOf(deploy)
	content, _ := json.Marshal(map[string]any{"cardPrivateData": map[string]any{"actionIds": []string{string(action)}, "params": map[string]any{"action": string(action)}}})
	body, _ := json.Marshal(map[string]any{"outTrackId": card.OutTrackID, "userId": user, "corpId": corp, "type": "actionCallback", "spaceType": "IM", "userIdType": 1, "content": string(content)})
	ack, err := f.fake.SendCardCallback(f.ctx(), body)
	if err != nil || ack.Code != 200 {
		f.t.Fatalf("card callback: %+v, %v", ack, err)
	}
	return ack
}

// cardOf is the card of a deploy as the fake has it.
func (f *fixture) cardOf(deploy int64) fakedingtalk.Card {
	f.t.Helper()
	for _, c := range f.fake.Cards() {
		if c.Data["deploy_id"] == strconv.FormatInt(deploy, 10) {
			return c
		}
	}
	f.t.Fatalf("no card of deploy %d", deploy)
	return fakedingtalk.Card{}
}

// card waits until the card of a deploy shows state, and returns it.
func (f *fixture) card(deploy int64, state pipeline.State) fakedingtalk.Card {
	f.t.Helper()
	var got fakedingtalk.Card
	f.until(fmt.Sprintf("the card of #%d %s", deploy, state), func() bool {
		for _, c := range f.fake.Cards() {
			if c.Data["deploy_id"] == strconv.FormatInt(deploy, 10) && c.Data["state"] == string(state) {
				got = c
				return true
			}
		}
		return false
	})
	return got
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

// until waits, at most 10 s, for the fake to have what cond wants.
func (f *fixture) until(what string, cond func() bool) {
	f.t.Helper()
	if err := f.fake.Wait(f.ctx(), cond); err != nil {
		f.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func (f *fixture) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	f.t.Cleanup(cancel)
	return ctx
}
