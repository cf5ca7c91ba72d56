package workspace_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/targets/workspace"
)

func TestRun(t *testing.T) {
	t.Setenv("FERRY_SLACK_TOKEN", "xoxb-secret")
	dir := t.TempDir()
	var log strings.Builder
	err := workspace.Run(context.Background(), dir, []string{
		"echo out; echo err >&2",
		`echo "name=$NAME token=[$FERRY_SLACK_TOKEN]" > env.txt`,
	}, []string{"NAME=demo"}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if want := "$ echo out; echo err >&2\nout\nerr\n$ "; !strings.HasPrefix(log.String(), want) {
		t.Errorf("log = %q, want it to start with %q", log.String(), want)
	}
	assertFile(t, filepath.Join(dir, "env.txt"), "name=demo token=[]\n")

	err = workspace.Run(context.Background(), dir, []string{"make --version >/dev/null 2>&1; echo 'make: *** No rule to make target'; exit 2", "echo never"}, nil, &log)
	var exit *workspace.ExitError
	if !errors.As(err, &exit) || exit.Code != 2 {
		t.Fatalf("Run = %v, want an exit error with code 2", err)
	}
	if want := `exited 2: make: *** No rule to make target`; !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %q does not end with %q", err, want)
	}
	if strings.Contains(log.String(), "never") {
		t.Error("Run went on after a failed command")
	}
}

// TestRunCancel checks that ending the context kills what the command
// started, not only the shell.
func TestRunCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- workspace.Run(ctx, dir, []string{"sleep 60 & echo $! > child.pid; wait"}, nil, &strings.Builder{})
	}()
	pidFile := filepath.Join(dir, "child.pid")
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			t.Fatal("the command never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for deadline := time.Now().Add(5 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("the background sleep (pid %d) survived the cancel", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid is a running process (a zombie is not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestCopyExclude(t *testing.T) {
	src := t.TempDir()
	for _, name := range []string{"app.js", "debug.log", "logs/today.log", "docs/guide.md", "src/docs/inner.md", "node_modules/x/y.js", "config/local.yml", "config/prod.yml"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	x := workspace.Exclude{"*.log", "node_modules/", "/docs", "config/local.yml"}
	if err := x.Check(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := workspace.Copy(context.Background(), src, dst, x); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"app.js": true, "debug.log": false, "logs": true, "logs/today.log": false,
		"docs": false, "src/docs/inner.md": true, "node_modules": false,
		"config/local.yml": false, "config/prod.yml": true,
	} {
		if got := exists(filepath.Join(dst, name)); got != want {
			t.Errorf("%s copied: %v, want %v", name, got, want)
		}
	}
	if err := (workspace.Exclude{"[z-"}).Check(); err == nil {
		t.Error("Check accepted a malformed pattern")
	}
}
