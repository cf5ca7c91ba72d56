package ssh

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/ssh/sshtest"
	"github.com/ferrybot/ferry/targets/workspace"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

type discard struct{ strings.Builder }

func (*discard) Step(string) {}

func newDriver(t *testing.T, fleet *sshtest.Fleet, params map[string]any) *Driver {
	t.Helper()
	var hosts []any
	for _, h := range fleet.Hosts {
		hosts = append(hosts, map[string]any{"name": h.Name, "address": "127.0.0.1", "port": h.Port})
	}
	params["hosts"], params["user"], params["key"], params["known_hosts"], params["root"] = hosts, fleet.User, fleet.Key, fleet.KnownHosts, fleet.Dir+"/{{host}}"
	cfg, err := ParseConfig(params)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.New(workspace.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, workspace.Setup{Project: "demo", Env: "prod", Workspace: ws})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestOneConnectionPerHost counts dials: every step of every install,
// check and rollback on a host shares one connection.
func TestOneConnectionPerHost(t *testing.T) {
	fleet := sshtest.Start(t, 3)
	d := newDriver(t, fleet, map[string]any{
		"pre_release":  []any{"true", "true"},
		"post_release": "true",
		"health":       map[string]any{"command": "test -f index.html"},
		"keep":         1,
	})
	repo := gittest.NewRepo(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range []string{"1", "2", "3"} {
		hash := repo.Commit(t, map[string]string{"index.html": id}, id)
		r := pipeline.Release{ID: id, Project: "demo", Env: "prod", Repo: repo.Path(), Commit: hash, Version: id}
		if err := d.Build(ctx, r, &discard{}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, h := range fleet.Hosts {
			wg.Go(func() {
				if _, err := d.Install(ctx, h.Name, r, &discard{}); err != nil {
					t.Error(err)
				}
				if err := d.Check(ctx, h.Name, &discard{}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if err := d.Activate(ctx, "web1", "2", &discard{}); err != nil {
		t.Fatal(err)
	}
	if n := d.pool.dials.Load(); n != 3 {
		t.Errorf("%d connections to 3 hosts", n)
	}
	d.Close()
	if _, err := d.Current(ctx, "web1"); err != nil {
		t.Errorf("a closed driver does not connect again: %v", err)
	}
	if n := d.pool.dials.Load(); n != 4 {
		t.Errorf("%d connections after Close and one more call, want 4", n)
	}
}

// TestBackgroundOutput does not wait long for a process a hook left
// running that holds the hook's output.
func TestBackgroundOutput(t *testing.T) {
	fleet := sshtest.Start(t, 1)
	d := newDriver(t, fleet, map[string]any{})
	d.waitDelay = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, _ := d.host("web1")
	log := &discard{}
	pids := fleet.Dir + "/web1/bg.pids"
	t.Cleanup(func() { // what the hooks left is no child of sshd any more
		b, _ := os.ReadFile(pids)
		for _, pid := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(pid); err == nil {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
	})
	err := d.command(ctx, h, "/", "echo started; sleep 300 & echo $! >> "+pids+"; exit 0", nil, log)
	if err != nil {
		t.Fatalf("command = %v\n%s", err, log)
	}
	if !strings.Contains(log.String(), "started\n") || !strings.Contains(log.String(), "left something running that holds its output; not waiting for it") {
		t.Errorf("log:\n%s", log)
	}
	err = d.command(ctx, h, "/", "sleep 300 & echo $! >> "+pids+"; exit 4", nil, log)
	if err == nil || !strings.HasSuffix(err.Error(), `exited 4`) {
		t.Errorf("failing command with a process behind = %v", err)
	}
}
