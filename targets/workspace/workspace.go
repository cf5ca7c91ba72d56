// Package workspace builds releases on the ferry host, once per release,
// for every target that ships files: targets/local copies the build into
// release directories, and targets/ssh packs it for its hosts.
//
// A workspace directory holds, per repository (named after its base name):
//
//	<dir>/<repo>/mirror-<hash>.git                       a bare mirror of the repository
//	<dir>/<repo>/<commit>/                               the files of a commit, never modified
//	<dir>/<repo>/builds/<project>/<env>/<release>/       a copy of them, built
//	<dir>/<repo>/builds/<project>/<env>/<release>.done   written last: the build is complete
//
// Every step can be repeated after a crash: a checkout is extracted beside
// its place and renamed into it, and a build without its .done file is
// started over. Locks on files beside the mirror and the build keep
// concurrent deploys, and concurrent ferry processes, from doing the same
// work twice. Commands run with sh -c, so the package runs on Unix hosts.
//
// The Resolver turns refs into commits, reading branches and tags from the
// repository and commit hashes from the same mirrors.
package workspace

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferrybot/ferry/pipeline"
)

// Config says where a workspace lives.
type Config struct {
	// Dir holds the mirrors, checkouts and builds; required. Give a
	// Resolver the same directory to share the mirrors.
	Dir string
}

// Workspace checks commits out and builds releases from them.
type Workspace struct {
	dir string
}

// New returns a workspace in cfg.Dir, creating the directory.
func New(cfg Config) (*Workspace, error) {
	if cfg.Dir == "" {
		return nil, errors.New("workspace: Dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return &Workspace{dir: dir}, nil
}

// Dir is the directory the workspace lives in.
func (w *Workspace) Dir() string { return w.dir }

// Checkout puts the files of commit (a hash, whole or abbreviated) of repo
// in <Dir>/<repo>/<commit> and returns that directory. A checkout that is
// already there is reused. The tree has no .git directory, and submodules
// are not checked out. The directory is shared by every build of the
// commit: read it, never write to it.
func (w *Workspace) Checkout(ctx context.Context, repo, commit string, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	src, err := source(repo)
	if err != nil {
		return "", err
	}
	if !hexHash.MatchString(commit) {
		return "", fmt.Errorf("checkout: %w: %q is not a commit hash", pipeline.ErrInvalid, commit)
	}
	commit = strings.ToLower(commit)
	base := filepath.Join(w.dir, repoName(src))
	if isFull(commit) && exists(filepath.Join(base, commit)) {
		return filepath.Join(base, commit), nil
	}
	mirror := mirrorDir(w.dir, src)
	unlock, err := lock(ctx, mirror)
	if err != nil {
		return "", fmt.Errorf("checkout: %w", err)
	}
	defer unlock()
	full, err := fetchCommit(ctx, mirror, src, commit, false, log)
	if err != nil {
		return "", fmt.Errorf("checkout: %w", err)
	}
	dir := filepath.Join(base, full)
	if exists(dir) {
		return dir, nil
	}
	fmt.Fprintf(log, "checking out %s\n", full)
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("checkout: %w", err)
	}
	if err := archive(ctx, mirror, full, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("checkout %s: %w", full, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("checkout %s: %w", full, err)
	}
	return dir, nil
}

// fetchCommit makes sure the mirror of src has commit and returns its full
// hash, fetching when the mirror lacks it or when refresh asks for current
// branches and tags. A whole hash no branch or tag reaches (the head of a
// pull request from a fork) is asked for by itself, which most servers
// allow. The caller holds the mirror's lock.
func fetchCommit(ctx context.Context, mirror, src, commit string, refresh bool, log io.Writer) (string, error) {
	if !refresh {
		full, err := commitIn(ctx, mirror, commit)
		if err != nil || full != "" {
			return full, err
		}
	}
	if err := fetch(ctx, mirror, src, log); err != nil {
		return "", unreachable(src, err)
	}
	full, err := commitIn(ctx, mirror, commit)
	if err != nil || full != "" {
		return full, err
	}
	if isFull(commit) {
		// Best effort: a server that will not serve a commit it does not
		// advertise leaves it missing, and the error below says so.
		_, _ = git(ctx, mirror, "fetch", "--quiet", "--no-write-fetch-head", "--", src, commit)
		if full, err = commitIn(ctx, mirror, commit); err != nil || full != "" {
			return full, err
		}
	}
	return "", notFound(fmt.Sprintf("commit %s not found in %s", commit, pipeline.ShowRepo(src)))
}

// archive writes the tree of commit into dir, which must not exist.
func archive(ctx context.Context, mirror, commit, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir) // no entry can write outside dir
	if err != nil {
		return err
	}
	defer root.Close()
	cmd := gitCommand(ctx, mirror, "archive", "--format=tar", commit)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	xerr := extract(root, tar.NewReader(out))
	if xerr != nil {
		io.Copy(io.Discard, out) // let git finish writing
	}
	if err := cmd.Wait(); err != nil {
		return &gitError{args: []string{"archive"}, dir: mirror, stderr: stderr.String(), err: err}
	}
	return xerr
}

func extract(root *os.Root, tr *tar.Reader) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(h.Name, "/")
		if name == "" || name == "." {
			continue
		}
		perm := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			err = root.MkdirAll(name, perm|0o700)
		case tar.TypeSymlink:
			err = root.Symlink(h.Linkname, name)
		case tar.TypeReg:
			err = writeFile(root, name, perm, tr)
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", name, err)
		}
	}
}

func writeFile(root *os.Root, name string, perm fs.FileMode, r io.Reader) error {
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Build builds release r once: it checks out r.Commit of r.Repo, copies the
// files to the release's build directory and runs commands there with env,
// logging each step. It returns the build directory. A completed build of
// the same commit is reused, so Build can be called again after a crash, or
// by every unit that needs the build; concurrent calls wait for the first.
func (w *Workspace) Build(ctx context.Context, r pipeline.Release, commands, env []string, log pipeline.StepLog) (string, error) {
	for _, n := range [][2]string{{"project", r.Project}, {"environment", r.Env}, {"release", r.ID}} {
		if err := checkName(n[1]); err != nil {
			return "", fmt.Errorf("build: %s: %w", n[0], err)
		}
	}
	src, err := source(r.Repo)
	if err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	dir := filepath.Join(w.dir, repoName(src), "builds", r.Project, r.Env, r.ID)
	done := dir + ".done"
	unlock, err := lock(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	defer unlock()
	if b, err := os.ReadFile(done); err == nil && strings.TrimSpace(string(b)) == r.Commit {
		return dir, nil
	}
	log.Step("checkout")
	tree, err := w.Checkout(ctx, r.Repo, r.Commit, log)
	if err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	if err := os.Remove(done); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("build: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	if err := Copy(ctx, tree, dir, nil); err != nil {
		return "", fmt.Errorf("build: copy checkout: %w", err)
	}
	log.Step("build")
	if err := Run(ctx, dir, commands, env, log); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	if err := os.WriteFile(done, []byte(r.Commit+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	return dir, nil
}

// checkName accepts a name that can be one directory: not empty, no
// slashes, not . or .., not hidden.
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || strings.ContainsRune(name, 0) {
		return fmt.Errorf("%w: %q cannot name a directory", pipeline.ErrInvalid, name)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Setup is what a target driver needs besides its own configuration.
type Setup struct {
	Project string // the project deployed; required
	Env     string // the environment deployed to; required
	// BaseDir is what relative paths of the driver's configuration (a
	// local root, an ssh key or known_hosts) are relative to, usually the
	// directory of ferry's configuration; "" means the working directory.
	BaseDir string
	// Workspace builds the releases; required. Drivers may share one.
	Workspace *Workspace
}
