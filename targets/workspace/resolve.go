package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

var _ pipeline.Resolver = (*Resolver)(nil)

// Resolver turns what a person typed — a branch, a tag, refs/heads/x,
// refs/tags/x, or a whole or abbreviated commit hash — into a commit.
// Branches and tags are asked of the repository itself (git ls-remote), so
// they are always current; commit hashes are looked up in a bare mirror
// kept under the resolver's directory, the same mirror a Workspace with the
// same Dir checks out from.
type Resolver struct {
	dir string
}

// NewResolver returns a resolver that keeps its mirrors under dir.
func NewResolver(dir string) (*Resolver, error) {
	if dir == "" {
		return nil, errors.New("workspace: resolver needs a directory for its mirrors")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return &Resolver{dir: dir}, nil
}

// Resolve finds the commit ref names in repo, a git URL or a local path.
// A name that is both a tag and a branch is the tag, as in git. A ref that
// is not there is an error wrapping pipeline.ErrNotFound.
func (r *Resolver) Resolve(ctx context.Context, repo, ref string) (pipeline.Commit, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return pipeline.Commit{}, fmt.Errorf("%w: no ref given: name a branch, a tag or a commit", pipeline.ErrInvalid)
	}
	src, err := source(repo)
	if err != nil {
		return pipeline.Commit{}, err
	}
	c, found, err := r.remoteRef(ctx, src, ref)
	if err != nil {
		return pipeline.Commit{}, err
	}
	if !found && hexHash.MatchString(ref) {
		c, found, err = r.commit(ctx, src, ref)
		if err != nil {
			return pipeline.Commit{}, err
		}
	}
	if !found {
		return pipeline.Commit{}, notFound(fmt.Sprintf("ref %q not found in %s: name a branch, a tag or a commit", ref, pipeline.ShowRepo(repo)))
	}
	c.Time = r.commitTime(ctx, src, c.Hash)
	return c, nil
}

// ResolveAt is the commit of ref an event saw: commit (a whole hash; for
// a tag, the tag object or the commit it names), fetched into the mirror of
// repo and checked to belong to ref, whatever ref points at now: a branch
// must reach it, and a tag must point at it, or commit must be the tag's
// own annotated tag object, which names the tag and the commit it was
// pushed at. A commit that cannot be fetched is an error wrapping
// pipeline.ErrNotFound; one that does not belong to ref, pipeline.ErrConflict.
func (r *Resolver) ResolveAt(ctx context.Context, repo, ref, commit string) (pipeline.Commit, error) {
	commit = strings.ToLower(strings.TrimSpace(commit))
	if !isFull(commit) {
		return pipeline.Commit{}, fmt.Errorf("%w: %q is not a whole commit hash", pipeline.ErrInvalid, commit)
	}
	src, err := source(repo)
	if err != nil {
		return pipeline.Commit{}, err
	}
	head, found, err := r.remoteRef(ctx, src, strings.TrimSpace(ref))
	if err != nil {
		return pipeline.Commit{}, err
	}
	if !found {
		return pipeline.Commit{}, notFound(fmt.Sprintf("ref %q not found in %s: it was deleted since", ref, pipeline.ShowRepo(repo)))
	}
	full, err := r.fetchAt(ctx, src, head, commit)
	if err != nil {
		return pipeline.Commit{}, err
	}
	return pipeline.Commit{Hash: full, Tag: head.Tag, Branch: head.Branch, Time: r.commitTime(ctx, src, full)}, nil
}

// fetchAt fetches commit into the mirror of src and returns the full hash
// of the commit it is or names, once belongs says it belongs to the ref
// whose head is head.
func (r *Resolver) fetchAt(ctx context.Context, src string, head pipeline.Commit, commit string) (string, error) {
	mirror := mirrorDir(r.dir, src)
	unlock, err := lock(ctx, mirror)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", commit, err)
	}
	defer unlock()
	full, err := fetchCommit(ctx, mirror, src, commit, false, nil)
	if err != nil {
		return "", err
	}
	return full, belongs(ctx, mirror, src, head, commit, full)
}

// belongs checks that commit full (given as commit: itself or a tag
// object) belongs to the ref whose head is now head: reachable from the
// branch, or what the tag points at, now or as its tag object says. The
// caller holds the mirror's lock.
func belongs(ctx context.Context, mirror, src string, head pipeline.Commit, commit, full string) error {
	if head.Hash == full {
		return nil
	}
	short := full[:7]
	if head.Tag != "" {
		if named, _ := git(ctx, mirror, "cat-file", "tag", commit); strings.Contains("\n"+named, "\ntag "+head.Tag+"\n") {
			return nil // the tag was moved since; its object pushed at full says so
		}
		return fmt.Errorf("%w: tag %s points at %s now, not at %s: it was moved since", pipeline.ErrConflict, head.Tag, head.Hash[:min(7, len(head.Hash))], short)
	}
	if _, err := fetchCommit(ctx, mirror, src, head.Hash, false, nil); err != nil {
		return err
	}
	_, err := git(ctx, mirror, "merge-base", "--is-ancestor", full, head.Hash)
	var ge *gitError
	if errors.As(err, &ge) && exitCode(ge.err) == 1 {
		return fmt.Errorf("%w: commit %s is not on branch %s: it was force-pushed away since", pipeline.ErrConflict, short, head.Branch)
	}
	return err
}

// exitCode is the exit status of a command that ran and failed; -1 for
// other errors.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// commitTime reads the committer time of a commit from the mirror of src,
// fetching it first if the mirror lacks it, for the lead time of the
// deploy. The build fetches the same mirror, so the fetch is not wasted.
// The time is a courtesy: zero when it cannot be read.
func (r *Resolver) commitTime(ctx context.Context, src, hash string) time.Time {
	mirror := mirrorDir(r.dir, src)
	unlock, err := lock(ctx, mirror)
	if err != nil {
		return time.Time{}
	}
	defer unlock()
	if _, err := fetchCommit(ctx, mirror, src, hash, false, nil); err != nil {
		return time.Time{}
	}
	out, err := git(ctx, mirror, "show", "-s", "--format=%ct", hash, "--")
	if err != nil {
		return time.Time{}
	}
	secs, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(secs, 0).UTC()
}

// remoteRef looks ref up among the branches and tags of src.
func (r *Resolver) remoteRef(ctx context.Context, src, ref string) (pipeline.Commit, bool, error) {
	var tag, branch string
	switch {
	case strings.HasPrefix(ref, "refs/tags/"):
		tag = strings.TrimPrefix(ref, "refs/tags/")
	case strings.HasPrefix(ref, "refs/heads/"):
		branch = strings.TrimPrefix(ref, "refs/heads/")
	default:
		tag, branch = ref, ref
	}
	var patterns []string
	if tag != "" {
		patterns = append(patterns, "refs/tags/"+tag, "refs/tags/"+tag+"^{}")
	}
	if branch != "" {
		patterns = append(patterns, "refs/heads/"+branch)
	}
	out, err := git(ctx, "", append([]string{"ls-remote", "--", src}, patterns...)...)
	if err != nil {
		return pipeline.Commit{}, false, unreachable(src, err)
	}
	refs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if hash, name, ok := strings.Cut(line, "\t"); ok {
			refs[name] = hash
		}
	}
	if tag != "" {
		// An annotated tag is listed twice; the peeled line names its commit.
		if hash, ok := refs["refs/tags/"+tag+"^{}"]; ok {
			return pipeline.Commit{Hash: hash, Tag: tag}, true, nil
		}
		if hash, ok := refs["refs/tags/"+tag]; ok {
			return pipeline.Commit{Hash: hash, Tag: tag}, true, nil
		}
	}
	if hash, ok := refs["refs/heads/"+branch]; ok && branch != "" {
		return pipeline.Commit{Hash: hash, Branch: branch}, true, nil
	}
	return pipeline.Commit{}, false, nil
}

// commit looks a commit hash up in the mirror of src, fetching first, and
// names the tag or branch pointing at it, if one does (a tag first).
func (r *Resolver) commit(ctx context.Context, src, hash string) (pipeline.Commit, bool, error) {
	mirror := mirrorDir(r.dir, src)
	unlock, err := lock(ctx, mirror)
	if err != nil {
		return pipeline.Commit{}, false, fmt.Errorf("resolve %q: %w", hash, err)
	}
	defer unlock()
	full, err := fetchCommit(ctx, mirror, src, hash, true, nil)
	if errors.Is(err, pipeline.ErrNotFound) {
		return pipeline.Commit{}, false, nil
	}
	if err != nil {
		return pipeline.Commit{}, false, err
	}
	c := pipeline.Commit{Hash: full}
	out, err := git(ctx, mirror, "for-each-ref", "--points-at", full, "--format=%(refname)", "refs/tags", "refs/heads")
	if err != nil {
		return c, true, nil // the names are a courtesy; the commit is certain
	}
	var tags, branches []string
	for _, name := range strings.Fields(out) {
		if t, ok := strings.CutPrefix(name, "refs/tags/"); ok {
			tags = append(tags, t)
		} else if b, ok := strings.CutPrefix(name, "refs/heads/"); ok {
			branches = append(branches, b)
		}
	}
	sort.Strings(tags)
	sort.Strings(branches)
	switch {
	case len(tags) > 0:
		c.Tag = tags[0]
	case len(branches) > 0:
		c.Branch = branches[0]
	}
	return c, true, nil
}

func unreachable(src string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("cannot reach repository %s: %w", pipeline.ShowRepo(src), err)
}
