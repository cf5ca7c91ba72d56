package ssh_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
	"github.com/ferrybot/ferry/targets/ssh"
	"github.com/ferrybot/ferry/targets/ssh/sshtest"
	"github.com/ferrybot/ferry/targets/workspace"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

var alice = pipeline.Actor{Name: "alice"}

// rig runs ferry's engine, with a SQLite store and a fake clock, deploying
// a real repository to a fleet of sshd hosts, as ferry serve does.
type rig struct {
	t        *testing.T
	fleet    *sshtest.Fleet
	repo     *gittest.Repo
	ws       *workspace.Workspace
	resolver *workspace.Resolver
	db       string
	clock    *clockwork.FakeClock
	strategy pipeline.Strategy
	params   map[string]any

	store   *storage.Store
	engine  *pipeline.Engine
	mu      sync.Mutex
	driver  *ssh.Driver
	changed chan struct{}
	stopRun context.CancelFunc
	runDone chan error
}

// changes is a subscriber that owes nothing and says that a deploy
// changed.
type changes chan struct{}

func (c changes) Notices(pipeline.Deploy) []pipeline.Notice {
	select {
	case c <- struct{}{}:
	default:
	}
	return nil
}

func newRig(t *testing.T, hosts int, strategy pipeline.Strategy, params map[string]any) *rig {
	t.Helper()
	dir := t.TempDir()
	ws, err := workspace.New(workspace.Config{Dir: filepath.Join(dir, "workspace")})
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := workspace.NewResolver(filepath.Join(dir, "workspace"))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{
		t: t, fleet: sshtest.Start(t, hosts), repo: gittest.NewRepo(t), ws: ws, resolver: resolver,
		db: filepath.Join(dir, "ferry.db"), clock: clockwork.NewFakeClockAt(time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)),
		strategy: strategy, params: params, changed: make(chan struct{}, 1),
	}
	r.start()
	t.Cleanup(r.stop)
	return r
}

// target builds the environment's driver once per engine, as cmd/ferry does.
func (r *rig) target(p pipeline.Project, env pipeline.Environment) (pipeline.Target, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.driver != nil {
		return r.driver, nil
	}
	cfg, err := ssh.ParseConfig(env.Target.Params)
	if err != nil {
		return nil, err
	}
	r.driver, err = ssh.New(cfg, workspace.Setup{Project: p.Name, Env: env.Name, BaseDir: r.fleet.Dir, Workspace: r.ws})
	return r.driver, err
}

// start opens the store and runs a new engine on it, as a fresh ferry would.
func (r *rig) start() {
	r.t.Helper()
	st, err := storage.Open(context.Background(), r.db)
	if err != nil {
		r.t.Fatal(err)
	}
	r.store = st
	project := pipeline.Project{Name: "demo", Repo: r.repo.Path(), Envs: []pipeline.Environment{{
		Name:     "prod",
		Target:   pipeline.TargetSpec{Type: "ssh", Params: fleetParams(r.fleet, r.params)},
		Strategy: r.strategy,
	}}}
	e, err := pipeline.New(pipeline.Config{
		Store: st, Projects: []pipeline.Project{project}, Target: r.target, Resolver: r.resolver,
		Subscribers: pipeline.Subscribers{changes(r.changed)}, Clock: r.clock, Tick: time.Hour,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	r.engine = e
	ctx, cancel := context.WithCancel(context.Background())
	r.stopRun, r.runDone = cancel, make(chan error, 1)
	go func() { r.runDone <- e.Run(ctx) }()
}

// stop ends the engine's Run, as a kill of ferry would, and closes the
// store and the driver's connections.
func (r *rig) stop() {
	if r.stopRun == nil {
		return
	}
	r.stopRun()
	if err := <-r.runDone; err != nil {
		r.t.Errorf("run: %v", err)
	}
	r.stopRun = nil
	r.store.Close()
	r.mu.Lock()
	if r.driver != nil {
		r.driver.Close()
		r.driver = nil
	}
	r.mu.Unlock()
}

// deploy commits files, tags the commit and asks for a deploy of the tag.
func (r *rig) deploy(tag string, files map[string]string) pipeline.Deploy {
	r.t.Helper()
	r.repo.Commit(r.t, files, tag)
	r.repo.Tag(r.t, tag)
	d, err := r.engine.Request(context.Background(), alice, pipeline.Request{Project: "demo", Env: "prod", Ref: tag})
	if err != nil {
		r.t.Fatalf("deploy %s: %v", tag, err)
	}
	return d
}

// wait blocks until deploy id is in state want; it fails the test after
// the timeout.
func (r *rig) wait(id int64, want pipeline.State) pipeline.Deploy {
	r.t.Helper()
	deadline := time.After(timeout)
	for {
		d, err := r.store.Deploy(context.Background(), id)
		if err != nil {
			r.t.Fatal(err)
		}
		if d.State == want {
			return d
		}
		select {
		case <-r.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			r.t.Fatalf("deploy %d is %s (%s), want %s", id, d.State, d.Reason, want)
		}
	}
}

// bake moves the fake clock past a bake once the engine waits on it.
func (r *rig) bake() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := r.clock.BlockUntilContext(ctx, 1); err != nil {
		r.t.Fatalf("waiting for the bake: %v", err)
	}
	r.clock.Advance(r.strategy.Bake)
}

func (r *rig) units(id int64) map[string]pipeline.Unit {
	r.t.Helper()
	us, err := r.store.Units(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	m := map[string]pipeline.Unit{}
	for _, u := range us {
		m[u.Name] = u
	}
	return m
}

// runs says which release each host's current points to: its ID.
func (r *rig) runs() map[string]string {
	r.t.Helper()
	m := map[string]string{}
	for _, h := range r.fleet.Hosts {
		l := link(r.t, h)
		id, _, _ := strings.Cut(strings.TrimPrefix(l, "releases/"), "-")
		m[h.Name] = id
	}
	return m
}

func (r *rig) assertRuns(want map[string]string) {
	r.t.Helper()
	got := r.runs()
	for name, id := range want {
		if got[name] != id {
			r.t.Errorf("%s runs release %q, want %q (all: %v)", name, got[name], id, got)
		}
	}
}

func everyHost(r *rig, release string) map[string]string {
	m := map[string]string{}
	for _, h := range r.fleet.Hosts {
		m[h.Name] = release
	}
	return m
}

var canary = pipeline.Strategy{
	Batches:  []pipeline.BatchSize{{Count: 1}, {Percent: 50}, {Percent: 100}},
	Bake:     time.Minute,
	Continue: pipeline.ContinueAuto,
}

// TestEngineRollout deploys across batches [1, 50%, 100%] on four hosts,
// baking and checking health between them, twice.
func TestEngineRollout(t *testing.T) {
	r := newRig(t, 4, canary, map[string]any{"health": map[string]any{"command": "test -f index.html"}})
	var previous string
	for _, tag := range []string{"v1", "v2"} {
		d := r.deploy(tag, map[string]string{"index.html": tag})
		r.bake()
		r.bake()
		d = r.wait(d.ID, pipeline.StateSucceeded)
		if d.Reason != "4 of 4 units updated" || d.PreviousRelease != previous {
			t.Errorf("deploy %s: %q, previous release %q", tag, d.Reason, d.PreviousRelease)
		}
		units := r.units(d.ID)
		for name, batch := range map[string]int{"web1": 0, "web2": 1, "web3": 2, "web4": 2} {
			u := units[name]
			if u.Batch != batch || u.State != pipeline.UnitDone || u.Previous != previous {
				t.Errorf("%s: batch %d, %s, previous %q; want batch %d, done, previous %q (%s)", name, u.Batch, u.State, u.Previous, batch, previous, u.Error)
			}
		}
		r.assertRuns(everyHost(r, d.Release))
		for _, h := range r.fleet.Hosts {
			assertFile(t, filepath.Join(h.Root, "current/index.html"), tag)
		}
		previous = d.Release
	}
}

// TestEngineCanaryRollsBack fails the canary's health check: the deploy
// rolls back, and every host runs its previous release.
func TestEngineCanaryRollsBack(t *testing.T) {
	s := canary
	s.AutoRollback = true
	r := newRig(t, 4, s, map[string]any{"health": map[string]any{"command": "test -f healthy"}})
	v1 := r.deploy("v1", map[string]string{"index.html": "v1", "healthy": ""})
	r.bake()
	r.bake()
	v1 = r.wait(v1.ID, pipeline.StateSucceeded)

	r.repo.Git(t, "rm", "--quiet", "healthy")
	v2 := r.deploy("v2", map[string]string{"index.html": "v2"})
	v2 = r.wait(v2.ID, pipeline.StateRolledBack)
	units := r.units(v2.ID)
	if u := units["web1"]; u.State != pipeline.UnitRolledBack || u.Previous != v1.Release || !strings.Contains(u.Error, `ssh web1: health: "test -f healthy" exited 1`) {
		t.Errorf("canary: %+v", u)
	}
	for _, name := range []string{"web2", "web3", "web4"} {
		if u := units[name]; u.State != pipeline.UnitPending {
			t.Errorf("%s: %s, want untouched", name, u.State)
		}
	}
	r.assertRuns(everyHost(r, v1.Release))
	if !exists(filepath.Join(r.fleet.Host("web1").Root, "releases", v2.Release+"-"+v2.Commit[:7])) {
		t.Error("the canary does not keep the failed release")
	}
}

// TestEngineHostDown deploys to four hosts, one of them down: it fails with
// the reason, the others are updated, within max_failed_units.
func TestEngineHostDown(t *testing.T) {
	s := canary
	s.MaxFailedUnits = 1
	r := newRig(t, 4, s, map[string]any{})
	web3 := r.fleet.Host("web3")
	web3.Kill()
	d := r.deploy("v1", map[string]string{"index.html": "v1"})
	r.bake()
	r.bake()
	d = r.wait(d.ID, pipeline.StateSucceeded)
	if d.Reason != "3 of 4 units updated, 1 failed within max_failed_units" {
		t.Errorf("reason: %q", d.Reason)
	}
	u := r.units(d.ID)["web3"]
	if u.State != pipeline.UnitFailed || !strings.HasPrefix(u.Error, "ssh web3 ("+web3.Addr+"): ") || !strings.HasSuffix(u.Error, "connection refused") {
		t.Errorf("web3: %s %q", u.State, u.Error)
	}
	r.assertRuns(map[string]string{"web1": d.Release, "web2": d.Release, "web3": "", "web4": d.Release})
}

// TestEngineResumes restarts ferry while the canary is in pre_release: the
// new engine resumes the deploy, which succeeds; current moved only once
// the release was complete.
func TestEngineResumes(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	r := newRig(t, 3, pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 100}}, Continue: pipeline.ContinueAuto}, map[string]any{
		"pre_release": `test "$FERRY_VERSION" = v1 || { touch "$GATE.$FERRY_HOST"; while [ ! -f "$GATE" ]; do sleep 0.01; done; }`,
		"vars":        map[string]any{"GATE": gate},
	})
	v1 := r.wait(r.deploy("v1", map[string]string{"index.html": "v1"}).ID, pipeline.StateSucceeded)
	v2 := r.deploy("v2", map[string]string{"index.html": "v2"})
	waitFile(t, gate+".web1")
	r.stop() // ferry dies while the canary waits in pre_release
	r.assertRuns(everyHost(r, v1.Release))
	os.WriteFile(gate, nil, 0o644)
	r.start()
	v2 = r.wait(v2.ID, pipeline.StateSucceeded)
	r.assertRuns(everyHost(r, v2.Release))
	if u := r.units(v2.ID)["web1"]; u.Previous != v1.Release {
		t.Errorf("the canary's previous release is %q, want %s", u.Previous, v1.Release)
	}
}

// TestEngineRollback rolls back to an older kept release, and to one the
// hosts no longer keep, which stops at the brake.
func TestEngineRollback(t *testing.T) {
	r := newRig(t, 2, pipeline.Strategy{Continue: pipeline.ContinueAuto}, map[string]any{"keep": 2})
	var ds []pipeline.Deploy
	for _, tag := range []string{"v1", "v2", "v3"} {
		ds = append(ds, r.wait(r.deploy(tag, map[string]string{"index.html": tag}).ID, pipeline.StateSucceeded))
	}
	ctx := context.Background()
	rb, err := r.engine.Rollback(ctx, alice, "demo", "prod", ds[1].Release, false)
	if err != nil {
		t.Fatal(err)
	}
	r.wait(rb.ID, pipeline.StateSucceeded)
	r.assertRuns(everyHost(r, ds[1].Release))
	assertFile(t, filepath.Join(r.fleet.Host("web2").Root, "current/index.html"), "v2")

	rb, err = r.engine.Rollback(ctx, alice, "demo", "prod", ds[0].Release, false)
	if err != nil {
		t.Fatal(err)
	}
	rb = r.wait(rb.ID, pipeline.StatePaused) // the brake: max_failed_units is 0
	want := "ssh web1: release " + ds[0].Release + " is not kept (kept: " + ds[1].Release + ", " + ds[2].Release + ")"
	if u := r.units(rb.ID)["web1"]; u.State != pipeline.UnitFailed || u.Error != want {
		t.Errorf("rollback to a release no longer kept: %s %q\nwant %q", u.State, u.Error, want)
	}
	r.assertRuns(everyHost(r, ds[1].Release))
}
