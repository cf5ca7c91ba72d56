package local_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/local"
	"github.com/ferrybot/ferry/targets/workspace"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// stepLog records what the driver logs.
type stepLog struct {
	mu    sync.Mutex
	text  strings.Builder
	steps []string
}

func (l *stepLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.Write(p)
}

func (l *stepLog) Step(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steps = append(l.steps, name)
}

func (l *stepLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

// fixture is a demo repository and a driver deploying it to hosts under a
// temporary root.
type fixture struct {
	repo *gittest.Repo
	d    *local.Driver
	root string
}

func newFixture(t *testing.T, params map[string]any) *fixture {
	t.Helper()
	base := t.TempDir()
	if _, ok := params["hosts"]; !ok {
		params["hosts"] = []any{"web1", "web2"}
	}
	params["root"] = "hosts" // relative to the base directory
	cfg, err := local.ParseConfig(params)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.New(workspace.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := local.New(cfg, workspace.Setup{Project: "demo", Env: "prod", BaseDir: base, Workspace: ws})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{repo: gittest.NewRepo(t), d: d, root: filepath.Join(base, "hosts")}
}

// release commits files and returns release id of that commit.
func (f *fixture) release(t *testing.T, id string, files map[string]string) pipeline.Release {
	t.Helper()
	hash := f.repo.Commit(t, files, "release "+id)
	return pipeline.Release{ID: id, Project: "demo", Env: "prod", Repo: f.repo.Path(), Ref: "main", Commit: hash, Version: "main@" + hash[:7]}
}

// dir is the directory of r under releases/: its ID and short commit.
func dir(r pipeline.Release) string { return r.ID + "-" + r.Commit[:7] }

// deploy builds r and installs it on every host, as the engine does.
func (f *fixture) deploy(t *testing.T, r pipeline.Release) {
	t.Helper()
	ctx := context.Background()
	log := &stepLog{}
	if err := f.d.Build(ctx, r, log); err != nil {
		t.Fatalf("build %s: %v\n%s", r.ID, err, log)
	}
	units, _ := f.d.Units(ctx)
	for _, u := range units {
		if _, err := f.d.Install(ctx, u, r, log); err != nil {
			t.Fatalf("install %s on %s: %v\n%s", r.ID, u, err, log)
		}
	}
}

func (f *fixture) current(t *testing.T, unit string) string {
	t.Helper()
	id, err := f.d.Current(context.Background(), unit)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) releases(t *testing.T, unit string) []string {
	t.Helper()
	ids, err := f.d.Releases(context.Background(), unit)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestInstall(t *testing.T) {
	f := newFixture(t, map[string]any{
		"build":   []any{"echo built > BUILD"},
		"exclude": []any{"*.log", "/docs"},
	})
	ctx := context.Background()
	r1 := f.release(t, "1", map[string]string{"index.html": "one", "debug.log": "x", "docs/guide.md": "g", "bin/start.sh": "echo start"})
	if err := f.d.Build(ctx, r1, &stepLog{}); err != nil {
		t.Fatal(err)
	}
	for _, unit := range []string{"web1", "web2"} {
		log := &stepLog{}
		prev, err := f.d.Install(ctx, unit, r1, log)
		if err != nil || prev != "" {
			t.Fatalf("install on %s = %q, %v; want no previous release\n%s", unit, prev, err, log)
		}
		if want := []string{"copy", "switch", "cleanup"}; !slices.Equal(log.steps, want) {
			t.Errorf("steps = %v, want %v", log.steps, want)
		}
		hostDir := filepath.Join(f.root, unit)
		if link, err := os.Readlink(filepath.Join(hostDir, "current")); err != nil || link != "releases/"+dir(r1) {
			t.Errorf("%s/current -> %q, %v; want releases/%s", unit, link, err, dir(r1))
		}
		assertFile(t, filepath.Join(hostDir, "current/index.html"), "one")
		assertFile(t, filepath.Join(hostDir, "current/BUILD"), "built\n")
		for _, gone := range []string{"debug.log", "docs"} {
			if exists(filepath.Join(hostDir, "current", gone)) {
				t.Errorf("%s was copied despite exclude", gone)
			}
		}
		if info, err := os.Stat(filepath.Join(hostDir, "current/bin/start.sh")); err != nil || info.Mode().Perm()&0o100 == 0 {
			t.Errorf("bin/start.sh is not executable: %v", err)
		}
	}

	r2 := f.release(t, "2", map[string]string{"index.html": "two"})
	for _, unit := range []string{"web1", "web2"} {
		prev, err := f.d.Install(ctx, unit, r2, &stepLog{}) // builds on demand
		if err != nil || prev != "1" {
			t.Fatalf("install 2 on %s = %q, %v; want previous release 1", unit, prev, err)
		}
		if got := f.current(t, unit); got != "2" {
			t.Errorf("%s runs %q, want 2", unit, got)
		}
		assertFile(t, filepath.Join(f.root, unit, "current/index.html"), "two")
		if got := f.releases(t, unit); !slices.Equal(got, []string{"1", "2"}) {
			t.Errorf("%s keeps %v, want [1 2]", unit, got)
		}
	}

	if _, err := f.d.Install(ctx, "db1", r2, &stepLog{}); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("install on an unknown host = %v, want ErrNotFound", err)
	}
	if units, _ := f.d.Units(ctx); !slices.Equal(units, []string{"web1", "web2"}) {
		t.Errorf("units = %v", units)
	}
	if !f.d.Resumable() {
		t.Error("the local target is not resumable")
	}
}

// TestInstallParallel installs on every host at once without a build
// step first, as a resumed deploy may: the release is built once.
func TestInstallParallel(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	f := newFixture(t, map[string]any{
		"hosts": []any{"web1", "web2", "web3", "web4"},
		"build": `echo build >> "$COUNT"`,
		"vars":  map[string]any{"COUNT": count},
	})
	r := f.release(t, "1", map[string]string{"index.html": "one"})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i, unit := range []string{"web1", "web2", "web3", "web4"} {
		wg.Go(func() {
			_, errs[i] = f.d.Install(context.Background(), unit, r, &stepLog{})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	assertFile(t, count, "build\n")
	for _, unit := range []string{"web1", "web2", "web3", "web4"} {
		assertFile(t, filepath.Join(f.root, unit, "current/index.html"), "one")
	}
}

func TestInstallPath(t *testing.T) {
	f := newFixture(t, map[string]any{"hosts": []any{"web1"}, "path": "public"})
	f.deploy(t, f.release(t, "1", map[string]string{"public/index.html": "hi", "src/main.go": "package main"}))
	assertFile(t, filepath.Join(f.root, "web1/current/index.html"), "hi")
	if exists(filepath.Join(f.root, "web1/current/src")) {
		t.Error("files outside path were released")
	}
}

func TestHooks(t *testing.T) {
	out := t.TempDir()
	dump := `{ echo "pwd=$(pwd -P)"; echo "current=$(readlink "$FERRY_HOST_DIR/current" || echo none)"; env | grep -E '^(FERRY_|GREETING=)' | sort; } > "$OUT/%s-$FERRY_HOST-$FERRY_RELEASE"`
	f := newFixture(t, map[string]any{
		"pre_release":  strings.Replace(dump, "%s", "pre", 1),
		"post_release": []any{strings.Replace(dump, "%s", "post", 1)},
		"vars":         map[string]any{"OUT": out, "GREETING": "hi"},
	})
	r1 := f.release(t, "1", map[string]string{"index.html": "one"})
	f.deploy(t, r1)
	r2 := f.release(t, "2", map[string]string{"index.html": "two"})
	f.deploy(t, r2)

	root, _ := filepath.EvalSymlinks(f.root)
	for _, unit := range []string{"web1", "web2"} {
		hostDir := filepath.Join(root, unit)
		vars := "FERRY_COMMIT=" + r2.Commit + "\n" +
			"FERRY_ENV=prod\n" +
			"FERRY_HOST=" + unit + "\n" +
			"FERRY_HOST_DIR=" + filepath.Join(f.root, unit) + "\n" +
			"FERRY_PREVIOUS_RELEASE=1\n" +
			"FERRY_PROJECT=demo\n" +
			"FERRY_RELEASE=2\n" +
			"FERRY_RELEASE_DIR=" + filepath.Join(f.root, unit, "releases", dir(r2)) + "\n" +
			"FERRY_VERSION=" + r2.Version + "\n" +
			"GREETING=hi\n"
		pwd := "pwd=" + filepath.Join(hostDir, "releases", dir(r2)) + "\n"
		assertFile(t, filepath.Join(out, "pre-"+unit+"-2"), pwd+"current=releases/"+dir(r1)+"\n"+vars)
		assertFile(t, filepath.Join(out, "post-"+unit+"-2"), pwd+"current=releases/"+dir(r2)+"\n"+vars)
	}
	if _, err := os.Stat(filepath.Join(out, "pre-web1-1")); err != nil {
		t.Errorf("pre_release did not run for release 1: %v", err)
	}
}

func TestHookFails(t *testing.T) {
	f := newFixture(t, map[string]any{"pre_release": `test "$FERRY_RELEASE" = 1 || { echo cannot migrate >&2; exit 1; }`})
	f.deploy(t, f.release(t, "1", map[string]string{"index.html": "one"}))
	r2 := f.release(t, "2", map[string]string{"index.html": "two"})
	prev, err := f.d.Install(context.Background(), "web1", r2, &stepLog{})
	want := `local web1: pre_release: "test \"$FERRY_RELEASE\" = 1 || { echo cannot migrate >&2; exit 1; }" exited 1: cannot migrate`
	if err == nil || err.Error() != want {
		t.Errorf("install = %v\nwant %s", err, want)
	}
	if prev != "1" {
		t.Errorf("previous = %q, want 1", prev)
	}
	if got := f.current(t, "web1"); got != "1" {
		t.Errorf("web1 runs %q after a failed pre_release, want 1", got)
	}
}

func TestKeep(t *testing.T) {
	out := t.TempDir()
	f := newFixture(t, map[string]any{
		"keep":         3,
		"post_release": `echo "$FERRY_RELEASE after $FERRY_PREVIOUS_RELEASE" >> "$OUT/$FERRY_HOST"`,
		"vars":         map[string]any{"OUT": out},
	})
	var r8 pipeline.Release
	for _, id := range []string{"8", "9", "10", "11"} { // 10 sorts before 8 as text
		r := f.release(t, id, map[string]string{"index.html": id})
		f.deploy(t, r)
		if id == "8" {
			r8 = r
		}
	}
	ctx := context.Background()
	for _, unit := range []string{"web1", "web2"} {
		if got := f.releases(t, unit); !slices.Equal(got, []string{"9", "10", "11"}) {
			t.Errorf("%s keeps %v, want [9 10 11]", unit, got)
		}
		if exists(filepath.Join(f.root, unit, "releases", dir(r8)+".json")) {
			t.Errorf("%s kept the record of a deleted release", unit)
		}
	}

	err := f.d.Activate(ctx, "web1", "7", &stepLog{})
	if want := "local web1: release 7 is not kept (kept: 9, 10, 11)"; err == nil || err.Error() != want {
		t.Errorf("activate 7 = %v, want %s", err, want)
	}
	if !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("activate 7 = %v, want ErrNotFound", err)
	}

	log := &stepLog{}
	if err := f.d.Activate(ctx, "web1", "9", log); err != nil {
		t.Fatal(err)
	}
	if got := f.current(t, "web1"); got != "9" {
		t.Errorf("web1 runs %q after activating 9", got)
	}
	assertFile(t, filepath.Join(f.root, "web1/current/index.html"), "9")
	assertFile(t, filepath.Join(out, "web1"), "8 after \n9 after 8\n10 after 9\n11 after 10\n9 after 11\n")

	// Release 9 is the oldest, but it is what web1 ran before 12: it stays.
	r12 := f.release(t, "12", map[string]string{"index.html": "12"})
	if prev, err := f.d.Install(ctx, "web1", r12, &stepLog{}); err != nil || prev != "9" {
		t.Fatalf("install 12 = %q, %v; want previous 9", prev, err)
	}
	if got := f.releases(t, "web1"); !slices.Equal(got, []string{"9", "11", "12"}) {
		t.Errorf("web1 keeps %v, want [9 11 12]", got)
	}

	if err := f.d.Activate(ctx, "web2", "", &stepLog{}); err != nil {
		t.Fatal(err)
	}
	if got := f.current(t, "web2"); got != "" {
		t.Errorf("web2 runs %q after activating no release", got)
	}
	if err := f.d.Activate(ctx, "web2", "", &stepLog{}); err != nil {
		t.Errorf("activating no release twice: %v", err)
	}
}

// TestNewDatabaseKeepsOldReleasesApart: ferry started over with a new
// database numbers its deploys from 1 again; its deploy 1 must not land in
// the directory deploy 1 of the older database left, whose files are not
// its own.
func TestNewDatabaseKeepsOldReleasesApart(t *testing.T) {
	f := newFixture(t, map[string]any{"hosts": []any{"web1"}})
	old1 := f.release(t, "1", map[string]string{"index.html": "old one"})
	f.deploy(t, old1)
	f.deploy(t, f.release(t, "2", map[string]string{"index.html": "old two"}))
	legacy := filepath.Join(f.root, "web1/releases/7") // named as ferry did before
	if err := os.MkdirAll(legacy, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacy, "index.html"), []byte("seven"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	new1 := f.release(t, "1", map[string]string{"index.html": "new one"})
	prev, err := f.d.Install(ctx, "web1", new1, &stepLog{})
	if err != nil || prev != "2" {
		t.Fatalf("install of the new deploy 1 = %q, %v; want previous 2", prev, err)
	}
	assertFile(t, filepath.Join(f.root, "web1/current/index.html"), "new one")
	assertFile(t, filepath.Join(f.root, "web1/releases", dir(old1), "index.html"), "old one")
	if got := f.current(t, "web1"); got != "1" {
		t.Errorf("web1 runs %q, want 1", got)
	}

	// A rollback to 1 takes the newer deploy 1; one to 7 the old-style directory.
	for _, step := range []struct{ release, want string }{{"2", "old two"}, {"1", "new one"}, {"7", "seven"}} {
		if err := f.d.Activate(ctx, "web1", step.release, &stepLog{}); err != nil {
			t.Fatalf("activate %s: %v", step.release, err)
		}
		assertFile(t, filepath.Join(f.root, "web1/current/index.html"), step.want)
		if got := f.current(t, "web1"); got != step.release {
			t.Errorf("web1 runs %q after activating %s", got, step.release)
		}
	}
}

func TestBuildFails(t *testing.T) {
	f := newFixture(t, map[string]any{"build": "./build.sh"})
	f.deploy(t, f.release(t, "1", map[string]string{"build.sh": "echo compiled"}))
	r2 := f.release(t, "2", map[string]string{"build.sh": "echo 'main.go:3: syntax error' >&2; exit 3"})
	ctx := context.Background()
	log := &stepLog{}
	err := f.d.Build(ctx, r2, log)
	if want := `local: build: "./build.sh" exited 3: main.go:3: syntax error`; err == nil || err.Error() != want {
		t.Errorf("build = %v, want %s", err, want)
	}
	if !strings.Contains(log.String(), "syntax error") {
		t.Errorf("the log misses the build output:\n%s", log)
	}
	if _, err := f.d.Install(ctx, "web1", r2, &stepLog{}); err == nil {
		t.Error("install of a release that does not build succeeded")
	}
	for _, unit := range []string{"web1", "web2"} {
		if got := f.current(t, unit); got != "1" {
			t.Errorf("%s runs %q after a failed build, want 1", unit, got)
		}
		if exists(filepath.Join(f.root, unit, "releases", dir(r2))) {
			t.Errorf("%s has a directory for the failed release", unit)
		}
	}
}

func TestHealthCommand(t *testing.T) {
	f := newFixture(t, map[string]any{"health": map[string]any{"command": `test -f healthy && test "$FERRY_HOST" = web1`}})
	ctx := context.Background()
	if err := f.d.Check(ctx, "web1", &stepLog{}); err == nil || !strings.Contains(err.Error(), "no release is current") {
		t.Errorf("check without a release = %v", err)
	}
	f.deploy(t, f.release(t, "1", map[string]string{"index.html": "one"}))
	err := f.d.Check(ctx, "web1", &stepLog{})
	if want := `local web1: health: "test -f healthy && test \"$FERRY_HOST\" = web1" exited 1`; err == nil || err.Error() != want {
		t.Errorf("check = %v, want %s", err, want)
	}
	f.deploy(t, f.release(t, "2", map[string]string{"healthy": ""}))
	if err := f.d.Check(ctx, "web1", &stepLog{}); err != nil {
		t.Errorf("check of a healthy host: %v", err)
	}

	slow := newFixture(t, map[string]any{"hosts": []any{"web1"}, "health": map[string]any{"command": "sleep 30", "timeout": "100ms"}})
	slow.deploy(t, slow.release(t, "1", nil))
	if err := slow.d.Check(ctx, "web1", &stepLog{}); err == nil || err.Error() != "local web1: health: no answer within 100ms" {
		t.Errorf("slow check = %v", err)
	}

	none := newFixture(t, map[string]any{"hosts": []any{"web1"}})
	if err := none.d.Check(ctx, "web1", &stepLog{}); err != nil {
		t.Errorf("check without a health check = %v", err)
	}
}

func TestHealthURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/web1" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want 127.0.0.1", srv.URL)
	}
	f := newFixture(t, map[string]any{"health": map[string]any{"url": srv.URL + "/health/{{host}}", "timeout": "2s"}})
	ctx := context.Background()
	log := &stepLog{}
	if err := f.d.Check(ctx, "web1", log); err != nil {
		t.Errorf("check web1: %v", err)
	}
	if !strings.Contains(log.String(), "GET "+srv.URL+"/health/web1: 200 OK") {
		t.Errorf("log = %q", log)
	}
	err := f.d.Check(ctx, "web2", &stepLog{})
	if want := "local web2: health: GET " + srv.URL + "/health/web2: 503 Service Unavailable"; err == nil || err.Error() != want {
		t.Errorf("check web2 = %v, want %s", err, want)
	}
}

func TestInstallAfterCrash(t *testing.T) {
	f := newFixture(t, map[string]any{"hosts": []any{"web1"}})
	f.deploy(t, f.release(t, "1", map[string]string{"index.html": "one"}))
	r2 := f.release(t, "2", map[string]string{"index.html": "two"})
	hostDir, rel2 := filepath.Join(f.root, "web1"), "releases/"+dir(r2)
	// ferry died in the middle of copying release 2, and of a switch.
	if err := os.MkdirAll(filepath.Join(hostDir, rel2+".tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, rel2+".tmp/half"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rel2, filepath.Join(hostDir, "current.tmp-dead")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got := f.releases(t, "web1"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("a half copy counts as a release: %v", got)
	}
	prev, err := f.d.Install(ctx, "web1", r2, &stepLog{})
	if err != nil || prev != "1" {
		t.Fatalf("install = %q, %v; want previous 1", prev, err)
	}
	for _, gone := range []string{rel2 + ".tmp", rel2 + "/half", "current.tmp-dead"} {
		if exists(filepath.Join(hostDir, gone)) {
			t.Errorf("%s is left", gone)
		}
	}
	assertFile(t, filepath.Join(hostDir, "current/index.html"), "two")

	// ferry died after the switch; the engine installs again.
	log := &stepLog{}
	prev, err = f.d.Install(ctx, "web1", r2, log)
	if err != nil || prev != "1" {
		t.Fatalf("repeated install = %q, %v; want previous 1", prev, err)
	}
	if !strings.Contains(log.String(), rel2+" is already in place") {
		t.Errorf("the complete release was not reused:\n%s", log)
	}
	if got := f.current(t, "web1"); got != "2" {
		t.Errorf("web1 runs %q, want 2", got)
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := local.ParseConfig(map[string]any{
		"hosts":        []any{"web1", "web2"},
		"root":         "/srv/demo",
		"build":        []any{"make"},
		"path":         "dist",
		"exclude":      []any{"*.log"},
		"pre_release":  "./migrate.sh",
		"post_release": []any{"./restart.sh"},
		"health":       map[string]any{"url": "http://{{host}}.internal/health", "timeout": "3s"},
		"keep":         10,
		"vars":         map[string]any{"PORT": 8080, "DEBUG": false},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Root != "/srv/demo" || cfg.Keep != 10 || cfg.Path != "dist" || cfg.Health.Timeout.Seconds() != 3 ||
		!slices.Equal(cfg.PreRelease, []string{"./migrate.sh"}) || cfg.Vars["PORT"] != "8080" || cfg.Vars["DEBUG"] != "false" {
		t.Errorf("config = %+v", cfg)
	}

	for _, tt := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"hosts": []any{"a"}, "root": "r", "hots": 1},
			"local: invalid: unknown key hots; allowed: build, exclude, health, hosts, keep, path, post_release, pre_release, root, vars"},
		{map[string]any{"hosts": []any{"a"}, "root": "r", "health": map[string]any{"cmd": "true"}},
			"local: invalid: unknown key health.cmd; allowed: health.command, health.timeout, health.url"},
		{map[string]any{"root": "r"}, "local: invalid: hosts: name at least one host"},
		{map[string]any{"hosts": []any{"a"}}, "local: invalid: root: say where the hosts' directories live"},
		{map[string]any{"hosts": "a", "root": "r", "keep": "5"}, "local: invalid: keep: want a whole number, got a string"},
		{map[string]any{"hosts": []any{"a", 2}, "root": "r"}, "local: invalid: hosts[1]: want a string, got a number"},
		{map[string]any{"hosts": []any{"../etc"}, "root": "r"}, `local: invalid: hosts: "../etc" cannot name a directory: use letters, digits, '.', '-' and '_'`},
		{map[string]any{"hosts": []any{"a"}, "root": "r", "path": "../x"}, `local: invalid: path: "../x" must be a subdirectory of the checkout`},
		{map[string]any{"hosts": []any{"a"}, "root": "r", "health": map[string]any{"url": "x", "command": "y"}}, "local: invalid: health: give a command or a url, not both"},
		{map[string]any{"hosts": []any{"a"}, "root": "r", "health": map[string]any{"url": "ftp://x"}}, `local: invalid: health.url: "ftp://x" is not an http(s) URL`},
		{map[string]any{"hosts": []any{"a"}, "root": "r", "vars": map[string]any{"FERRY_ENV": "x"}}, "local: invalid: vars: FERRY_ENV: FERRY_* variables are set by ferry"},
	} {
		_, err := local.ParseConfig(tt.params)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseConfig(%v) = %v\nwant %s", tt.params, err, tt.want)
		}
		if !errors.Is(err, pipeline.ErrInvalid) {
			t.Errorf("ParseConfig(%v) = %v, want ErrInvalid", tt.params, err)
		}
	}

	if _, err := local.New(cfg, workspace.Setup{Project: "demo", Env: "prod"}); err == nil {
		t.Error("New without a workspace succeeded")
	}
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
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
