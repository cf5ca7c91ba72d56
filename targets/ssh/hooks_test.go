package ssh_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHooks(t *testing.T) {
	out := t.TempDir()
	dump := `{ echo "pwd=$(pwd -P)"; echo "current=$(readlink "$FERRY_HOST_DIR/current" || echo none)"; env | grep -E '^(FERRY_|GREETING=)' | sort; } > "$OUT/%s-$FERRY_HOST-$FERRY_RELEASE"`
	greeting := "it's \"quoted\" $HOME `x` \\n"
	f := newFixture(t, 2, map[string]any{
		"pre_deploy":   `{ pwd -P; env | grep -E '^(FERRY_|GREETING=)' | sort; } > "$OUT/pre_deploy-$FERRY_RELEASE"`,
		"build":        "echo built > BUILD",
		"post_deploy":  []any{`cat BUILD > "$OUT/post_deploy-$FERRY_RELEASE"`},
		"pre_release":  strings.Replace(dump, "%s", "pre", 1),
		"post_release": []any{strings.Replace(dump, "%s", "post", 1)},
		"vars":         map[string]any{"OUT": out, "GREETING": greeting},
	})
	r1 := f.release(t, "1", map[string]string{"index.html": "one"})
	f.deploy(t, r1)
	r2 := f.release(t, "2", map[string]string{"index.html": "two"})
	f.deploy(t, r2)

	// pre_deploy and post_deploy run on the ferry host, in the build.
	build := "FERRY_COMMIT=" + r2.Commit + "\n" +
		"FERRY_ENV=prod\n" +
		"FERRY_PROJECT=demo\n" +
		"FERRY_RELEASE=2\n" +
		"FERRY_VERSION=" + r2.Version + "\n" +
		"GREETING=" + greeting + "\n"
	b, err := os.ReadFile(filepath.Join(out, "pre_deploy-2"))
	if err != nil {
		t.Fatal(err)
	}
	pwd, vars, _ := strings.Cut(string(b), "\n")
	if vars != build {
		t.Errorf("pre_deploy saw\n%s\nwant\n%s", vars, build)
	}
	if !strings.HasSuffix(pwd, filepath.Join("builds", "demo", "prod", "2")) {
		t.Errorf("pre_deploy ran in %s, not in the build", pwd)
	}
	assertFile(t, filepath.Join(out, "post_deploy-2"), "built\n")

	// pre_release and post_release run on each host, in the release.
	for _, h := range f.fleet.Hosts {
		root, _ := filepath.EvalSymlinks(h.Root)
		vars := "FERRY_COMMIT=" + r2.Commit + "\n" +
			"FERRY_ENV=prod\n" +
			"FERRY_HOST=" + h.Name + "\n" +
			"FERRY_HOST_DIR=" + h.Root + "\n" +
			"FERRY_PREVIOUS_RELEASE=1\n" +
			"FERRY_PROJECT=demo\n" +
			"FERRY_RELEASE=2\n" +
			"FERRY_RELEASE_DIR=" + filepath.Join(h.Root, "releases", dir(r2)) + "\n" +
			"FERRY_VERSION=" + r2.Version + "\n" +
			"GREETING=" + greeting + "\n"
		pwd := "pwd=" + filepath.Join(root, "releases", dir(r2)) + "\n"
		assertFile(t, filepath.Join(out, "pre-"+h.Name+"-2"), pwd+"current=releases/"+dir(r1)+"\n"+vars)
		assertFile(t, filepath.Join(out, "post-"+h.Name+"-2"), pwd+"current=releases/"+dir(r2)+"\n"+vars)
	}
	if _, err := os.Stat(filepath.Join(out, "pre-web1-1")); err != nil {
		t.Errorf("pre_release did not run for release 1: %v", err)
	}
}

func TestHookFails(t *testing.T) {
	f := newFixture(t, 1, map[string]any{"pre_release": []any{"echo migrating", `test "$FERRY_RELEASE" = 1 || { echo cannot migrate >&2; exit 3; }`}})
	r1 := f.release(t, "1", map[string]string{"index.html": "one"})
	f.deploy(t, r1)
	r2 := f.release(t, "2", map[string]string{"index.html": "two"})
	log := &stepLog{}
	prev, err := f.d.Install(testContext(t), "web1", r2, log)
	want := `ssh web1: pre_release: "test \"$FERRY_RELEASE\" = 1 || { echo cannot migrate >&2; exit 3; }" exited 3: cannot migrate`
	if err == nil || err.Error() != want {
		t.Errorf("install = %v\nwant %s", err, want)
	}
	if prev != "1" {
		t.Errorf("previous = %q, want 1", prev)
	}
	if !strings.Contains(log.String(), "$ echo migrating\nmigrating\n") {
		t.Errorf("the hook's output is not in the log:\n%s", log)
	}
	if got := link(t, f.fleet.Host("web1")); got != "releases/"+dir(r1) {
		t.Errorf("web1 runs %q after a failed pre_release, want release 1", got)
	}
}

func TestBuildFails(t *testing.T) {
	f := newFixture(t, 1, map[string]any{"build": "./build.sh"})
	r1 := f.release(t, "1", map[string]string{"build.sh": "echo compiled"})
	f.deploy(t, r1)
	r2 := f.release(t, "2", map[string]string{"build.sh": "echo 'main.go:3: syntax error' >&2; exit 3"})
	ctx := testContext(t)
	log := &stepLog{}
	err := f.d.Build(ctx, r2, log)
	if want := `ssh: build: "./build.sh" exited 3: main.go:3: syntax error`; err == nil || err.Error() != want {
		t.Errorf("build = %v, want %s", err, want)
	}
	if _, err := f.d.Install(ctx, "web1", r2, &stepLog{}); err == nil {
		t.Error("install of a release that does not build succeeded")
	}
	h := f.fleet.Host("web1")
	if got := link(t, h); got != "releases/"+dir(r1) {
		t.Errorf("web1 runs %q after a failed build", got)
	}
	if exists(filepath.Join(h.Root, "releases", dir(r2))) {
		t.Error("web1 has a directory for the failed release")
	}
}

// TestInterruptedInstall stops an install in pre_release, as a restart of
// ferry does, and repeats it with a new driver.
func TestInterruptedInstall(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	params := func() map[string]any {
		return map[string]any{
			"pre_release": `test "$FERRY_RELEASE" = 1 || { touch "$GATE.started"; while [ ! -f "$GATE" ]; do sleep 0.01; done; }`,
			"vars":        map[string]any{"GATE": gate},
		}
	}
	f := newFixture(t, 1, params())
	r1 := f.release(t, "1", map[string]string{"index.html": "one"})
	f.deploy(t, r1)
	r2 := f.release(t, "2", map[string]string{"index.html": "two"})
	h := f.fleet.Host("web1")

	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() {
		_, err := f.d.Install(ctx, "web1", r2, &stepLog{})
		done <- err
	}()
	waitFile(t, gate+".started")
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("interrupted install = %v", err)
	}
	if got := link(t, h); got != "releases/"+dir(r1) {
		t.Errorf("current moved before pre_release finished: %q", got)
	}

	os.WriteFile(gate, nil, 0o644)
	d := f.driver(t, params())
	log := &stepLog{}
	prev, err := d.Install(testContext(t), "web1", r2, log)
	if err != nil || prev != "1" {
		t.Fatalf("resumed install = %q, %v; want previous 1\n%s", prev, err, log)
	}
	if !strings.Contains(log.String(), "is already in place") {
		t.Errorf("the release was uploaded twice:\n%s", log)
	}
	if got := link(t, h); got != "releases/"+dir(r2) {
		t.Errorf("web1 runs %q, want release 2", got)
	}
}
