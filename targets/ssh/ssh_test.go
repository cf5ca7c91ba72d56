package ssh_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/ssh"
	"github.com/ferrybot/ferry/targets/ssh/sshtest"
	"github.com/ferrybot/ferry/targets/workspace"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// stepLog records what the driver logs.
type stepLog struct {
	mu     sync.Mutex
	text   strings.Builder
	steps  []string
	onStep func(string)
}

func (l *stepLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.Write(p)
}

func (l *stepLog) Step(name string) {
	l.mu.Lock()
	l.steps = append(l.steps, name)
	f := l.onStep
	l.mu.Unlock()
	if f != nil {
		f(name)
	}
}

func (l *stepLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

func (l *stepLog) Steps() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.steps)
}

// timeout bounds every test's calls to the driver.
const timeout = 60 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// fixture is a fleet of sshd hosts, a demo repository and a driver
// deploying it to them.
type fixture struct {
	fleet *sshtest.Fleet
	repo  *gittest.Repo
	ws    *workspace.Workspace
	d     *ssh.Driver
}

// hostsParam lists the fleet's hosts as the configuration does.
func hostsParam(f *sshtest.Fleet) []any {
	var hosts []any
	for _, h := range f.Hosts {
		hosts = append(hosts, map[string]any{"name": h.Name, "address": "127.0.0.1", "port": h.Port})
	}
	return hosts
}

// fleetParams fills in what reaches the fleet: hosts, user, key (relative
// to the fleet's directory, the base directory), known_hosts and root.
func fleetParams(fleet *sshtest.Fleet, params map[string]any) map[string]any {
	if _, ok := params["hosts"]; !ok {
		params["hosts"] = hostsParam(fleet)
	}
	params["user"] = fleet.User
	if _, ok := params["key"]; !ok {
		params["key"] = ".client/id_ed25519"
	}
	if _, ok := params["known_hosts"]; !ok {
		params["known_hosts"] = fleet.KnownHosts
	}
	params["root"] = fleet.Dir + "/{{host}}"
	return params
}

func newFixture(t *testing.T, n int, params map[string]any) *fixture {
	t.Helper()
	fleet := sshtest.Start(t, n)
	ws, err := workspace.New(workspace.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{fleet: fleet, repo: gittest.NewRepo(t), ws: ws}
	f.d = f.driver(t, params)
	return f
}

// driver makes another driver on the fixture's fleet and workspace, as a
// restarted ferry would.
func (f *fixture) driver(t *testing.T, params map[string]any) *ssh.Driver {
	t.Helper()
	cfg, err := ssh.ParseConfig(fleetParams(f.fleet, params))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ssh.New(cfg, workspace.Setup{Project: "demo", Env: "prod", BaseDir: f.fleet.Dir, Workspace: f.ws})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// release commits files and returns release id of that commit.
func (f *fixture) release(t *testing.T, id string, files map[string]string) pipeline.Release {
	t.Helper()
	hash := f.repo.Commit(t, files, "release "+id)
	deploy, _ := strconv.ParseInt(id, 10, 64)
	return pipeline.Release{ID: id, DeployID: deploy, Project: "demo", Env: "prod", Repo: f.repo.Path(), Ref: "main", Commit: hash, Version: "main@" + hash[:7]}
}

// deploy builds r and installs it on every host, as the engine does.
func (f *fixture) deploy(t *testing.T, r pipeline.Release) {
	t.Helper()
	ctx := testContext(t)
	log := &stepLog{}
	if err := f.d.Build(ctx, r, log); err != nil {
		t.Fatalf("build %s: %v\n%s", r.ID, err, log)
	}
	units, _ := f.d.Units(ctx)
	var wg sync.WaitGroup
	errs := make([]error, len(units))
	for i, u := range units {
		wg.Go(func() { _, errs[i] = f.d.Install(ctx, u, r, log) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("install %s: %v\n%s", r.ID, err, log)
	}
}

func (f *fixture) current(t *testing.T, unit string) string {
	t.Helper()
	id, err := f.d.Current(testContext(t), unit)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) releases(t *testing.T, unit string) []string {
	t.Helper()
	ids, err := f.d.Releases(testContext(t), unit)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// dir is the directory of release r on a host.
func dir(r pipeline.Release) string { return r.ID + "-" + r.Commit[:7] }

// link reads a host's current link from its disk.
func link(t *testing.T, h *sshtest.Host) string {
	t.Helper()
	l, err := os.Readlink(filepath.Join(h.Root, "current"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read %s: %v", path, err)
		return
	}
	if string(b) != want {
		t.Errorf("%s = %q, want %q", path, b, want)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// waitFile waits until path exists, failing the test after the timeout.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !exists(path) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGone waits until the process whose pid a command wrote to the file
// name in the host's root has ended.
func waitGone(t *testing.T, h *sshtest.Host, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Root, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	proc := "/proc/" + strings.TrimSpace(string(b))
	deadline := time.Now().Add(timeout)
	for {
		stat, err := os.ReadFile(proc + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") { // gone, or a zombie
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the process of %s still runs on the host", name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
