package pipeline_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

var (
	alice = pipeline.Actor{Name: "alice", Teams: []string{"dev"}}
	bob   = pipeline.Actor{Name: "bob", Teams: []string{"ops"}}
	carol = pipeline.Actor{Name: "carol", Admin: true}
	eve   = pipeline.Actor{Name: "eve", Teams: []string{"guests"}}
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func demoProject() pipeline.Project {
	return pipeline.Project{
		Name: "demo", Repo: "/srv/demo.git",
		Envs: []pipeline.Environment{
			{
				Name: "staging", DefaultRef: "main", Auto: true,
				Branches:  []*regexp.Regexp{regexp.MustCompile(`^main$`), regexp.MustCompile(`^feature-`)},
				Deployers: []string{"dev", "ops"},
			},
			{
				Name:      "prod",
				Tags:      []*regexp.Regexp{regexp.MustCompile(`^v\d+\.\d+\.\d+$`)},
				Deployers: []string{"dev", "ops"},
				Approvals: pipeline.ApprovalPolicy{Required: 1, From: []string{"ops", "dev"}, Expire: time.Hour},
				Strategy: pipeline.Strategy{
					Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 50}, {Percent: 100}},
					Bake:    5 * time.Minute, Continue: pipeline.ContinueAuto, AutoRollback: true,
				},
				LockTTL: 2 * time.Hour,
			},
		},
	}
}

var refs = pipelinetest.Resolver{
	"main":      {Hash: "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Branch: "main"},
	"v1.0.0":    {Hash: "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Tag: "v1.0.0"},
	"v1.1.0":    {Hash: "3333333ccccccccccccccccccccccccccccccccc", Tag: "v1.1.0"},
	"v1.2.0":    {Hash: "4444444ddddddddddddddddddddddddddddddddd", Tag: "v1.2.0"},
	"feature-x": {Hash: "5555555eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", Branch: "feature-x"},
}

type harness struct {
	t       *testing.T
	path    string
	store   *storage.Store
	clock   *clockwork.FakeClock
	targets map[string]*pipelinetest.Target
	batch   map[string]*pipelinetest.BatchTarget // used instead of targets where set
	project pipeline.Project
	freezes []pipeline.Freeze
	engine  *pipeline.Engine
	stopRun context.CancelFunc
	runDone chan error
}

// changes owes a notice for every change of a deploy, so that the store's
// Noticed signal says that a deploy changed.
type changes struct{}

// Announce owes a notice of platform "said" for every announcement, its
// text as the payload.
func (changes) Announce(a pipeline.Announcement) []pipeline.Notice {
	return []pipeline.Notice{{Platform: "said", Dest: "project " + a.Project, Kind: "announce", Payload: []byte(a.Text)}}
}

func (changes) Notices(d pipeline.Deploy) []pipeline.Notice {
	return []pipeline.Notice{{Platform: "test", Dest: fmt.Sprint("deploy ", d.ID), Kind: "change", Latest: true, DeployID: d.ID, State: d.State}}
}

func newHarness(t *testing.T, edit ...func(*pipeline.Project)) *harness {
	t.Helper()
	h := &harness{
		t: t, path: filepath.Join(t.TempDir(), "ferry.db"),
		clock:   clockwork.NewFakeClockAt(t0),
		targets: map[string]*pipelinetest.Target{"staging": pipelinetest.NewTarget("s1", "s2"), "prod": pipelinetest.NewTarget("p1", "p2", "p3", "p4")},
		project: demoProject(),
	}
	for _, f := range edit {
		f(&h.project)
	}
	h.batch = map[string]*pipelinetest.BatchTarget{}
	h.start()
	t.Cleanup(h.stop)
	return h
}

// start opens the store and runs a new engine on it, as a fresh ferry would.
func (h *harness) start() {
	h.t.Helper()
	st, err := storage.Open(context.Background(), h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	h.store = st
	e, err := pipeline.New(pipeline.Config{
		Store:    st,
		Projects: []pipeline.Project{h.project},
		Target: func(_ pipeline.Project, env pipeline.Environment) (pipeline.Target, error) {
			if bt, ok := h.batch[env.Name]; ok {
				return bt, nil
			}
			return h.targets[env.Name], nil
		},
		Resolver:    refs,
		Subscribers: pipeline.Subscribers{changes{}},
		Freezes:     h.freezes,
		Clock:       h.clock,
		Tick:        time.Hour, // sweeps come from Kick
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.engine = e
	ctx, cancel := context.WithCancel(context.Background())
	h.stopRun, h.runDone = cancel, make(chan error, 1)
	go func() { h.runDone <- e.Run(ctx) }()
}

// stop ends the engine's Run, as a kill of ferry would between two steps,
// and closes the store.
func (h *harness) stop() {
	if h.stopRun == nil {
		return
	}
	h.stopRun()
	if err := <-h.runDone; err != nil {
		h.t.Errorf("run: %v", err)
	}
	h.stopRun = nil
	h.store.Close()
}

func (h *harness) restart() {
	h.stop()
	h.start()
}

// wait blocks until deploy id is in state want; it fails the test after 10
// seconds of real time without progress towards it.
func (h *harness) wait(id int64, want pipeline.State) pipeline.Deploy {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		d, err := h.store.Deploy(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if d.State == want {
			return d
		}
		select {
		case <-h.store.Noticed():
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("deploy %d is %s (%s), want %s", id, d.State, d.Reason, want)
		}
	}
}

// advance moves the fake clock once n bakes wait on it.
func (h *harness) advance(n int, d time.Duration) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.clock.BlockUntilContext(ctx, n); err != nil {
		h.t.Fatalf("waiting for %d bake timers: %v", n, err)
	}
	h.clock.Advance(d)
}

func (h *harness) request(a pipeline.Actor, env, ref string) pipeline.Deploy {
	h.t.Helper()
	d, err := h.engine.Request(context.Background(), a, pipeline.Request{Project: "demo", Env: env, Ref: ref})
	if err != nil {
		h.t.Fatalf("request %s to %s: %v", ref, env, err)
	}
	return d
}

func (h *harness) approve(a pipeline.Actor, id int64) pipeline.Deploy {
	h.t.Helper()
	d, err := h.engine.Approve(context.Background(), a, id)
	if err != nil {
		h.t.Fatalf("approve %d: %v", id, err)
	}
	return d
}

func (h *harness) units(id int64) map[string]pipeline.Unit {
	h.t.Helper()
	us, err := h.store.Units(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]pipeline.Unit{}
	for _, u := range us {
		m[u.Name] = u
	}
	return m
}

// deployProd requests ref to prod, has bob approve it and bakes it through
// every batch to success.
func (h *harness) deployProd(ref string) pipeline.Deploy {
	h.t.Helper()
	d := h.request(alice, "prod", ref)
	h.approve(bob, d.ID)
	h.advance(1, 5*time.Minute)
	h.advance(1, 5*time.Minute)
	return h.wait(d.ID, pipeline.StateSucceeded)
}
