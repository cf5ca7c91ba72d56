package workspace_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// stepLog records what a target logs.
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

func TestResolve(t *testing.T) {
	repo := gittest.NewRepo(t)
	first := repo.Commit(t, map[string]string{"README": "one"}, "first")
	repo.Tag(t, "v1.0.0")
	second := repo.Commit(t, map[string]string{"README": "two"}, "second")
	repo.Branch(t, "feature/login")
	third := repo.Commit(t, map[string]string{"README": "three"}, "third")
	repo.Git(t, "checkout", "--quiet", "main")

	r, err := workspace.NewResolver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		ref  string
		want pipeline.Commit
	}{
		{"main", pipeline.Commit{Hash: second, Branch: "main"}},
		{"refs/heads/main", pipeline.Commit{Hash: second, Branch: "main"}},
		{"feature/login", pipeline.Commit{Hash: third, Branch: "feature/login"}},
		{"v1.0.0", pipeline.Commit{Hash: first, Tag: "v1.0.0"}},
		{"refs/tags/v1.0.0", pipeline.Commit{Hash: first, Tag: "v1.0.0"}},
		{first, pipeline.Commit{Hash: first, Tag: "v1.0.0"}},
		{second[:7], pipeline.Commit{Hash: second, Branch: "main"}},
		{strings.ToUpper(third[:10]), pipeline.Commit{Hash: third, Branch: "feature/login"}},
	}
	// Every commit comes with its committer time, for lead times.
	committed := func(hash string) time.Time {
		secs, err := strconv.ParseInt(repo.Git(t, "show", "-s", "--format=%ct", hash), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return time.Unix(secs, 0).UTC()
	}
	for _, tt := range tests {
		got, err := r.Resolve(ctx, repo.Path(), tt.ref)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tt.ref, err)
			continue
		}
		if tt.want.Time = committed(tt.want.Hash); got != tt.want {
			t.Errorf("Resolve(%q) = %+v, want %+v", tt.ref, got, tt.want)
		}
	}

	// A commit no branch or tag points at resolves without a name.
	middle := repo.Commit(t, map[string]string{"README": "four"}, "fourth")
	repo.Commit(t, map[string]string{"README": "five"}, "fifth")
	got, err := r.Resolve(ctx, repo.Path(), middle[:8])
	if err != nil || got != (pipeline.Commit{Hash: middle, Time: committed(middle)}) {
		t.Errorf("Resolve(%q) = %+v, %v; want the bare commit", middle[:8], got, err)
	}

	// The head of a pull request from a fork is reachable from no branch
	// or tag; its whole hash still resolves.
	repo.Branch(t, "fork")
	pr := repo.Commit(t, map[string]string{"README": "pr"}, "pull request")
	repo.Git(t, "update-ref", "refs/pull/1/head", pr)
	repo.Git(t, "checkout", "--quiet", "main")
	repo.Git(t, "branch", "--quiet", "-D", "fork")
	got, err = r.Resolve(ctx, repo.Path(), pr)
	if err != nil || got != (pipeline.Commit{Hash: pr, Time: committed(pr)}) {
		t.Errorf("Resolve(pull request head) = %+v, %v; want the bare commit", got, err)
	}
}

// TestResolveAtAfterTheRefMoved: an event saw a ref at a commit; by the
// time ferry resolves it the branch has new commits and the tag was moved.
// ResolveAt still gives the commit the event saw, once it belongs to the
// ref, and refuses one that does not, or that cannot be fetched.
func TestResolveAtAfterTheRefMoved(t *testing.T) {
	repo := gittest.NewRepo(t)
	pushed := repo.Commit(t, map[string]string{"README": "pushed"}, "pushed")
	repo.Tag(t, "v1.0.0")
	tagObject := repo.Git(t, "rev-parse", "refs/tags/v1.0.0") // what a tag push's after names
	repo.Branch(t, "feature")
	elsewhere := repo.Commit(t, map[string]string{"README": "elsewhere"}, "on another branch")
	repo.Git(t, "checkout", "--quiet", "main")
	// After the events: main moves on, and the tag is moved to its new head.
	moved := repo.Commit(t, map[string]string{"README": "moved"}, "after the push")
	repo.Git(t, "tag", "--force", "--annotate", "--message", "moved", "v1.0.0")
	r, err := workspace.NewResolver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		ref, commit string
		want        pipeline.Commit
	}{
		{"main", pushed, pipeline.Commit{Hash: pushed, Branch: "main"}},
		{"refs/heads/main", moved, pipeline.Commit{Hash: moved, Branch: "main"}},
		{"v1.0.0", tagObject, pipeline.Commit{Hash: pushed, Tag: "v1.0.0"}},
		{"refs/tags/v1.0.0", repo.Git(t, "rev-parse", "refs/tags/v1.0.0"), pipeline.Commit{Hash: moved, Tag: "v1.0.0"}},
		{"v1.0.0", moved, pipeline.Commit{Hash: moved, Tag: "v1.0.0"}},
	} {
		got, err := r.ResolveAt(ctx, repo.Path(), c.ref, c.commit)
		if err != nil || got.Hash != c.want.Hash || got.Branch != c.want.Branch || got.Tag != c.want.Tag || got.Time.IsZero() {
			t.Errorf("ResolveAt(%s, %s) = %+v, %v; want %+v", c.ref, c.commit[:7], got, err, c.want)
		}
	}
	for _, c := range []struct {
		ref, commit string
		want        error
		why         string
	}{
		{"main", elsewhere, pipeline.ErrConflict, "commit " + elsewhere[:7] + " is not on branch main"},
		{"v1.0.0", pushed, pipeline.ErrConflict, "tag v1.0.0 points at " + moved[:7] + " now, not at " + pushed[:7]},
		{"main", strings.Repeat("ab", 20), pipeline.ErrNotFound, "commit " + strings.Repeat("ab", 20) + " not found in " + filepath.Base(repo.Path())},
		{"gone", pushed, pipeline.ErrNotFound, `ref "gone" not found`},
		{"main", pushed[:7], pipeline.ErrInvalid, "is not a whole commit hash"},
	} {
		_, err := r.ResolveAt(ctx, repo.Path(), c.ref, c.commit)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("ResolveAt(%s, %s) = %v; want %v saying %q", c.ref, c.commit[:7], err, c.want, c.why)
		}
	}
}

func TestResolveMissing(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "one"}, "first")
	r, err := workspace.NewResolver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ref := range []string{"nope", "refs/tags/main", "deadbeef"} {
		_, err := r.Resolve(ctx, repo.Path(), ref)
		if !errors.Is(err, pipeline.ErrNotFound) {
			t.Errorf("Resolve(%q) = %v, want ErrNotFound", ref, err)
		}
	}
	_, err = r.Resolve(ctx, repo.Path(), "nope")
	want := `ref "nope" not found in ` + filepath.Base(repo.Path()) + `: name a branch, a tag or a commit`
	if err == nil || err.Error() != want {
		t.Errorf("Resolve(nope) = %v, want %s", err, want)
	}

	gone := filepath.Join(t.TempDir(), "gone")
	_, err = r.Resolve(ctx, gone, "main")
	if err == nil || errors.Is(err, pipeline.ErrNotFound) || !strings.Contains(err.Error(), "cannot reach repository gone") {
		t.Errorf("Resolve on a missing repository = %v, want it to name the repository", err)
	}
	_, err = r.Resolve(ctx, "https://ferry:s3cret@127.0.0.1:1/demo.git", "main")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Resolve on an unreachable URL = %v, want an error without the password", err)
	}
}

// TestRepositoryShownWithoutSecretsOrPaths: a token or password in a
// repository URL, and the directories of the ferry host, are in no error
// and no deploy log line, including what git itself says (it echoes the
// address it was given).
func TestRepositoryShownWithoutSecretsOrPaths(t *testing.T) {
	r, err := workspace.NewResolver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.New(workspace.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "srv", "demo.git")
	for _, c := range []struct {
		repo, secret, shown string
	}{
		{"https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@127.0.0.1:1/acme/demo.git", "ghp_16C7e42F", "https://127.0.0.1:1/acme/demo.git"},
		{"https://ferry:s3cret@127.0.0.1:1/acme/demo.git", "s3cret", "https://127.0.0.1:1/acme/demo.git"},
		{"ssh://deploy:hunter2@127.0.0.1:1/acme/demo.git", "hunter2", "ssh://127.0.0.1:1/acme/demo.git"},
		{missing, filepath.Dir(missing), "demo.git"},
	} {
		_, err := r.Resolve(ctx, c.repo, "main")
		if err == nil || strings.Contains(err.Error(), c.secret) || !strings.Contains(err.Error(), c.shown) {
			t.Errorf("Resolve(%s) = %v; want it to name %s without %s", c.repo, err, c.shown, c.secret)
		}
		log := &stepLog{}
		_, err = ws.Checkout(ctx, c.repo, strings.Repeat("ab", 20), log)
		if err == nil || strings.Contains(err.Error()+log.String(), c.secret) || !strings.Contains(log.String(), "fetching "+c.shown+"\n") {
			t.Errorf("Checkout(%s) = %v, log %q; want them to name %s without %s", c.repo, err, log, c.shown, c.secret)
		}
	}

	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "one"}, "first")
	_, err = r.Resolve(ctx, repo.Path(), "nope")
	if err == nil || strings.Contains(err.Error(), filepath.Dir(repo.Path())) {
		t.Errorf("Resolve(nope) = %v; want no directory of the host in it", err)
	}
}

func TestCheckout(t *testing.T) {
	repo := gittest.NewRepo(t)
	if err := os.Symlink("README", filepath.Join(repo.Path(), "LINK")); err != nil {
		t.Fatal(err)
	}
	hash := repo.Commit(t, map[string]string{"README": "hello", "bin/run.sh": "echo run", "src/a/b.txt": "b"}, "first")
	ws, err := workspace.New(workspace.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var log strings.Builder
	dir, err := ws.Checkout(ctx, repo.Path(), hash[:8], &log)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(ws.Dir(), filepath.Base(repo.Path()), hash); dir != want {
		t.Errorf("checkout in %s, want %s", dir, want)
	}
	assertFile(t, filepath.Join(dir, "README"), "hello")
	assertFile(t, filepath.Join(dir, "src/a/b.txt"), "b")
	if info, err := os.Stat(filepath.Join(dir, "bin/run.sh")); err != nil || info.Mode().Perm()&0o100 == 0 {
		t.Errorf("bin/run.sh lost its executable bit: %v %v", info.Mode(), err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "LINK")); err != nil || target != "README" {
		t.Errorf("LINK = %q, %v; want a link to README", target, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		t.Error("the checkout has a .git directory")
	}

	// A complete checkout is reused as it is.
	if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := ws.Checkout(ctx, repo.Path(), hash, &log)
	if err != nil || again != dir || !exists(filepath.Join(dir, "marker")) {
		t.Errorf("second checkout = %s, %v; want the first one reused", again, err)
	}

	// A checkout that died halfway is started over.
	next := repo.Commit(t, map[string]string{"README": "next"}, "second")
	half := filepath.Join(ws.Dir(), filepath.Base(repo.Path()), next+".tmp")
	if err := os.MkdirAll(half, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(half, "junk"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir, err = ws.Checkout(ctx, repo.Path(), next, &log)
	if err != nil {
		t.Fatal(err)
	}
	assertFile(t, filepath.Join(dir, "README"), "next")
	if exists(filepath.Join(dir, "junk")) || exists(half) {
		t.Error("the half checkout was not cleared")
	}

	_, err = ws.Checkout(ctx, repo.Path(), strings.Repeat("ab", 20), &log)
	if !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("checkout of a missing commit = %v, want ErrNotFound", err)
	}
}

func TestBuild(t *testing.T) {
	repo := gittest.NewRepo(t)
	hash := repo.Commit(t, map[string]string{"build.sh": "echo built >out.txt; echo run >>\"$COUNT\"\n"}, "first")
	ws, err := workspace.New(workspace.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	count := filepath.Join(t.TempDir(), "count")
	rel := pipeline.Release{ID: "7", Project: "demo", Env: "prod", Repo: repo.Path(), Commit: hash}
	ctx := context.Background()
	for range 2 {
		log := &stepLog{}
		dir, err := ws.Build(ctx, rel, []string{"./build.sh"}, []string{"COUNT=" + count}, log)
		if err != nil {
			t.Fatalf("build: %v\n%s", err, log)
		}
		assertFile(t, filepath.Join(dir, "out.txt"), "built\n")
	}
	assertFile(t, count, "run\n") // built once

	// A build that died halfway, without its .done file, runs again.
	dir, _ := ws.Build(ctx, rel, nil, nil, &stepLog{})
	if err := os.Remove(dir + ".done"); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Build(ctx, rel, []string{"./build.sh"}, []string{"COUNT=" + count}, &stepLog{}); err != nil {
		t.Fatal(err)
	}
	assertFile(t, count, "run\nrun\n")

	log := &stepLog{}
	rel.ID = "8"
	_, err = ws.Build(ctx, rel, []string{"true", "echo nothing to do >&2; exit 2"}, nil, log)
	want := `build: "echo nothing to do >&2; exit 2" exited 2: nothing to do`
	if err == nil || err.Error() != want {
		t.Errorf("failing build = %v, want %s", err, want)
	}
	if !strings.Contains(log.String(), "$ echo nothing to do") {
		t.Errorf("log does not show the command:\n%s", log)
	}
	if _, err := ws.Build(ctx, pipeline.Release{ID: "../x", Project: "demo", Env: "prod", Repo: repo.Path(), Commit: hash}, nil, nil, log); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("build of release ../x = %v, want ErrInvalid", err)
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
