package local

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
)

// host is the directory of one unit.
type host struct {
	name string
	dir  string // <root>/<name>
}

func (h host) releases() string           { return filepath.Join(h.dir, "releases") }
func (h host) release(dir string) string  { return filepath.Join(h.dir, "releases", dir) }
func (h host) metaFile(dir string) string { return filepath.Join(h.dir, "releases", dir+".json") }
func (h host) link() string               { return filepath.Join(h.dir, "current") }

// meta is what a host remembers of a release, beside its directory.
type meta struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Deploy   int64  `json:"deploy,omitempty"`
	Previous string `json:"previous"` // current when the release was installed
}

// place copies src into releases/<name> unless a complete copy is there.
// The copy is made in releases/<name>.tmp and renamed, so a directory named
// after a release is always complete.
func (h host) place(ctx context.Context, name, src string, x workspace.Exclude, log io.Writer) error {
	dir := h.release(name)
	if isDir(dir) {
		fmt.Fprintf(log, "releases/%s is already in place\n", name)
		return nil
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil { // left by a crash
		return err
	}
	if err := os.MkdirAll(h.releases(), 0o755); err != nil {
		return err
	}
	if err := workspace.Copy(ctx, src, tmp, x); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	fmt.Fprintf(log, "copied the build to %s\n", dir)
	return nil
}

// remember returns what the host knows of release r, in releases/<dir>,
// writing it down the first time, with the release current then as its
// previous one.
func (h host) remember(r pipeline.Release, dir string) (meta, error) {
	if m, err := h.meta(dir); err != nil || m.Commit != "" {
		return m, err
	}
	prev, err := h.current()
	if err != nil {
		return meta{}, err
	}
	m := meta{Version: r.Version, Commit: r.Commit, Deploy: r.DeployID, Previous: pipeline.ReleaseOfDir(prev)}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return meta{}, err
	}
	tmp := h.metaFile(dir) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return meta{}, err
	}
	return m, os.Rename(tmp, h.metaFile(dir))
}

// meta reads what the host remembers of the release in releases/<dir>;
// nothing for a release it has no record of.
func (h host) meta(dir string) (meta, error) {
	var m meta
	b, err := os.ReadFile(h.metaFile(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("releases/%s.json: %w", dir, err)
	}
	return m, nil
}

// current is the release directory current links to, "" when there is no
// link.
func (h host) current() (string, error) {
	target, err := os.Readlink(h.link())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("current: %w", err)
	}
	if filepath.Dir(filepath.Clean(target)) != "releases" {
		return "", fmt.Errorf("current points to %s, not into releases/", target)
	}
	return filepath.Base(target), nil
}

// switchTo makes releases/<dir> current in one step: a new link is made
// beside current and renamed over it. fresh marks the release as the
// newest for cleanup.
func (h host) switchTo(dir string, fresh bool) error {
	if info, err := os.Lstat(h.link()); err == nil && info.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("%s is not a symbolic link: move it away and ferry will manage it", h.link())
	}
	if fresh {
		now := time.Now()
		if err := os.Chtimes(h.release(dir), now, now); err != nil {
			return err
		}
	}
	tmp := h.link() + ".tmp-" + rand.Text()[:8]
	if err := os.Symlink(filepath.Join("releases", dir), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, h.link()); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// unlink leaves the host without a current release.
func (h host) unlink() error {
	if info, err := os.Lstat(h.link()); err == nil && info.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("%s is not a symbolic link: move it away and ferry will manage it", h.link())
	}
	if err := os.Remove(h.link()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// list returns the directories of the complete releases of the host,
// oldest first by their modification time.
func (h host) list() ([]string, error) {
	entries, err := os.ReadDir(h.releases())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type release struct {
		id  string
		mod time.Time
	}
	var rs []release
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted while we looked
		}
		rs = append(rs, release{e.Name(), info.ModTime()})
	}
	slices.SortFunc(rs, func(a, b release) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		if c := compareIDs(pipeline.ReleaseOfDir(a.id), pipeline.ReleaseOfDir(b.id)); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	dirs := make([]string, len(rs))
	for i, r := range rs {
		dirs[i] = r.id
	}
	return dirs, nil
}

// find returns the directory of release id, the newest if two deploys of
// that number (of two databases) left one each; "" if the host keeps none.
func (h host) find(id string) (string, error) {
	dirs, err := h.list()
	if err != nil {
		return "", err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if pipeline.ReleaseOfDir(dirs[i]) == id {
			return dirs[i], nil
		}
	}
	return "", nil
}

// cleanup deletes the oldest releases beyond keep, sparing the current one
// and release previous, and links a crash left behind.
func (h host) cleanup(keep int, previous string, log io.Writer) error {
	dirs, err := h.list()
	if err != nil {
		return err
	}
	cur, err := h.current()
	if err != nil {
		return err
	}
	var errs []error
	excess := len(dirs) - keep
	for _, dir := range dirs {
		if excess <= 0 {
			break
		}
		if dir == cur || pipeline.ReleaseOfDir(dir) == previous {
			continue
		}
		if err := os.RemoveAll(h.release(dir)); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(h.metaFile(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		fmt.Fprintf(log, "removed releases/%s\n", dir)
		excess--
	}
	stale, _ := filepath.Glob(h.link() + ".tmp-*")
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// compareIDs orders release IDs as numbers when both are, else as text.
func compareIDs(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// checkRelease accepts a release ID that can start the name of a directory
// of releases/: no dash, which ends the ID in the name.
func checkRelease(id string) error {
	if id == "" || strings.ContainsAny(id, `/\-`) || strings.HasPrefix(id, ".") ||
		strings.HasSuffix(id, ".tmp") || strings.HasSuffix(id, ".json") || strings.ContainsRune(id, 0) {
		return fmt.Errorf("%w: release %q cannot name a directory", pipeline.ErrInvalid, id)
	}
	return nil
}

func joinIDs(ids []string) string { return strings.Join(ids, ", ") }

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// notFound is an error a person reads as is that still matches
// pipeline.ErrNotFound.
type notFound string

func (e notFound) Error() string { return string(e) }
func (e notFound) Unwrap() error { return pipeline.ErrNotFound }
