// Package gittest makes real git repositories for tests: demo projects to
// resolve, check out and deploy. Git runs with a fixed identity and without
// the user's or the system's configuration, so tests need no setup.
package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Repo is a git repository in a test's temporary directory, on branch main.
type Repo struct {
	dir string
}

// NewRepo creates an empty repository on branch main.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	r := &Repo{dir: t.TempDir()}
	r.Git(t, "init", "--quiet", "--initial-branch=main")
	return r
}

// Path is the repository's directory, which git accepts as its address.
func (r *Repo) Path() string { return r.dir }

// Commit writes files (slash-separated path → content, directories made as
// needed) and commits everything in the tree with msg. It returns the
// commit's full hash. A path ending in ".sh" is made executable.
func (r *Repo) Commit(t testing.TB, files map[string]string, msg string) string {
	t.Helper()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		perm := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			perm = 0o755
		}
		if err := os.WriteFile(p, []byte(files[name]), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
	}
	r.Git(t, "add", "--all")
	r.Git(t, "commit", "--quiet", "--allow-empty", "--message", msg)
	return r.Head(t)
}

// Tag puts an annotated tag name on the current commit.
func (r *Repo) Tag(t testing.TB, name string) {
	t.Helper()
	r.Git(t, "tag", "--annotate", "--message", name, name)
}

// Branch creates branch name at the current commit and switches to it.
func (r *Repo) Branch(t testing.TB, name string) {
	t.Helper()
	r.Git(t, "checkout", "--quiet", "-b", name)
}

// Head is the full hash of the current commit.
func (r *Repo) Head(t testing.TB) string {
	t.Helper()
	return r.Git(t, "rev-parse", "HEAD")
}

// Git runs git in the repository and returns its trimmed output; a failure
// fails the test.
func (r *Repo) Git(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{
		"-c", "user.name=Ferry Test", "-c", "user.email=test@ferry.invalid",
		"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
		"-c", "init.defaultBranch=main",
	}, args...)...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=Ferry Test", "GIT_AUTHOR_EMAIL=test@ferry.invalid",
		"GIT_COMMITTER_NAME=Ferry Test", "GIT_COMMITTER_EMAIL=test@ferry.invalid",
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}
