package workspace

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// notFound is an error a person reads as is that still matches
// pipeline.ErrNotFound.
type notFound string

func (e notFound) Error() string { return string(e) }
func (e notFound) Unwrap() error { return pipeline.ErrNotFound }

// source is a repository as git is given it: URLs and scp-like addresses as
// written, local paths made absolute so they mean the same from any
// directory. What ferry says about it shows pipeline.ShowRepo(src), never
// src: a URL may carry a token, and a path is the ferry host's.
func source(repo string) (string, error) {
	if repo == "" {
		return "", fmt.Errorf("%w: no repository given", pipeline.ErrInvalid)
	}
	if !pipeline.RepoIsLocal(repo) || strings.Contains(repo, "://") {
		return repo, nil
	}
	return filepath.Abs(repo)
}

// repoName is the directory a repository's files live under in a workspace:
// its base name without ".git", reduced to safe characters.
func repoName(repo string) string {
	s := strings.TrimRight(repo, "/")
	if i := strings.LastIndexAny(s, "/:"); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSuffix(s, ".git")
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
	s = strings.TrimLeft(s, ".")
	if s == "" {
		return "repo"
	}
	return s
}

// mirrorDir is where the bare mirror of a repository lives under dir. The
// hash of the address keeps two repositories with one base name apart.
func mirrorDir(dir, src string) string {
	sum := sha256.Sum256([]byte(src))
	return filepath.Join(dir, repoName(src), "mirror-"+hex.EncodeToString(sum[:4])+".git")
}

// gitError is a failed git command, with what git said about it.
type gitError struct {
	args   []string
	dir    string // where git ran; "" for the current directory
	stderr string
	err    error
}

// Error is the first line of what git said, with the repository git was
// given shown as pipeline.ShowRepo shows it (git echoes the address, token
// and all) and the directory it ran in by its last element only.
func (e *gitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i] // git's first line says what went wrong; the rest is advice
	}
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, "fatal: "), "error: ")
	if msg == "" {
		msg = e.err.Error()
	}
	msg = pipeline.ScrubRepo(msg, repoArg(e.args))
	if e.dir != "" {
		msg = strings.ReplaceAll(msg, e.dir, filepath.Base(e.dir))
	}
	return fmt.Sprintf("git %s: %s", e.args[0], msg)
}

// repoArg is the repository a git command that reaches one (fetch,
// ls-remote) is given: the argument after "--"; "" for other commands.
func repoArg(args []string) string {
	if len(args) == 0 || args[0] != "fetch" && args[0] != "ls-remote" {
		return ""
	}
	for i, a := range args {
		if a == "--" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func (e *gitError) Unwrap() error { return e.err }

// git runs git in dir ("" for the current directory) and returns its output.
// It never prompts for credentials.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := gitCommand(ctx, dir, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", &gitError{args: args, dir: dir, stderr: stderr.String(), err: err}
	}
	return stdout.String(), nil
}

func gitCommand(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	return cmd
}

// fetchRefs are what a mirror keeps: every branch and tag.
var fetchRefs = []string{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}

// fetch brings the mirror of src under dir up to date, creating it first.
// The caller holds the mirror's lock.
func fetch(ctx context.Context, mirror, src string, log io.Writer) error {
	if _, err := os.Stat(filepath.Join(mirror, "HEAD")); err != nil {
		if err := os.MkdirAll(filepath.Dir(mirror), 0o755); err != nil {
			return err
		}
		if _, err := git(ctx, "", "init", "--quiet", "--bare", mirror); err != nil {
			return err
		}
	}
	if log != nil {
		fmt.Fprintf(log, "fetching %s\n", pipeline.ShowRepo(src))
	}
	args := append([]string{"fetch", "--quiet", "--prune", "--no-write-fetch-head", "--", src}, fetchRefs...)
	_, err := git(ctx, mirror, args...)
	return err
}

// commitIn returns the full hash of a commit the mirror has, "" if it has
// none by that name. An abbreviation that names more than one object is an
// error.
func commitIn(ctx context.Context, mirror, hash string) (string, error) {
	if _, err := os.Stat(filepath.Join(mirror, "HEAD")); err != nil {
		return "", nil
	}
	out, err := git(ctx, mirror, "rev-parse", "--verify", "--quiet", "--end-of-options", hash+"^{commit}")
	var ge *gitError
	if errors.As(err, &ge) {
		if strings.Contains(ge.stderr, "ambiguous") {
			return "", fmt.Errorf("%w: commit %q is ambiguous: give more of its hash", pipeline.ErrInvalid, hash)
		}
		return "", nil
	}
	return strings.TrimSpace(out), err
}

var hexHash = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)

// isFull reports whether hash is a whole SHA-1 or SHA-256 object name.
func isFull(hash string) bool {
	return hexHash.MatchString(hash) && (len(hash) == 40 || len(hash) == 64)
}

// lock takes an exclusive lock on path+".lock", shared by every process on
// the host, waiting for it as long as ctx allows. It returns the release.
func lock(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing the file releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
