// Package local is the local target: Walle's release model on the ferry
// host's own disk, for the quickstart and for teams whose deploy is a
// script. Each unit is a directory <root>/<host> holding
//
//	releases/<id>-<sha>/            one directory per release: the deploy that built it, the commit
//	releases/<id>-<sha>.json        what the release is, and what ran before it
//	current -> releases/<id>-<sha>  the live release
//
// The commit in the name keeps deploys of one number apart: those of a
// new database and those an older one left. Directories named
// releases/<id>, as ferry named them before, are still releases.
//
// A release is built once in a workspace.Workspace, then each host gets a
// copy. Every step can be repeated after a crash: the copy is made in
// releases/<id>-<sha>.tmp and renamed into place, the switch renames a new symlink
// over current, and the release that ran before is written down before the
// switch, so a repeated install reports the same previous release.
package local

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
)

var (
	_ pipeline.Target    = (*Driver)(nil)
	_ pipeline.Resumable = (*Driver)(nil)
)

// Driver installs releases into the local directories of one environment.
type Driver struct {
	cfg         Config
	project     string
	environment string
	root        string // absolute
	ws          *workspace.Workspace
	client      *http.Client
}

// New checks cfg and returns a driver for the environment s names.
func New(cfg Config, s workspace.Setup) (*Driver, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if s.Project == "" || s.Env == "" || s.Workspace == nil {
		return nil, errors.New("local: Project, Env and Workspace are required")
	}
	root := cfg.Root
	if !filepath.IsAbs(root) {
		root = filepath.Join(s.BaseDir, root)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local: root: %w", err)
	}
	if cfg.Keep == 0 {
		cfg.Keep = 5
	}
	if cfg.Health.Timeout == 0 {
		cfg.Health.Timeout = 10 * time.Second
	}
	return &Driver{
		cfg:         cfg,
		project:     s.Project,
		environment: s.Env,
		root:        root,
		ws:          s.Workspace,
		client:      &http.Client{},
	}, nil
}

// Resumable reports that every step can be repeated after a crash.
func (d *Driver) Resumable() bool { return true }

// Units lists the hosts, in configuration order.
func (d *Driver) Units(ctx context.Context) ([]string, error) {
	return slices.Clone(d.cfg.Hosts), nil
}

// Build checks the release's commit out and runs the build commands, once;
// a completed build is reused.
func (d *Driver) Build(ctx context.Context, r pipeline.Release, log pipeline.StepLog) error {
	if _, err := d.build(ctx, r, log); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// build returns the directory to release: Path within the build.
func (d *Driver) build(ctx context.Context, r pipeline.Release, log pipeline.StepLog) (string, error) {
	if r.Commit == "" {
		return "", fmt.Errorf("build: %w: release %s has no commit", pipeline.ErrInvalid, r.ID)
	}
	dir, err := d.ws.Build(ctx, r, d.cfg.Build, d.buildEnv(r), log)
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, d.cfg.Path)
	if info, err := os.Stat(src); err != nil || !info.IsDir() {
		return "", fmt.Errorf("build: path %q is not a directory of the build", d.cfg.Path)
	}
	return src, nil
}

// Install copies the build of r into releases/<id>-<sha> of unit, runs
// pre_release there, makes it current, runs post_release and deletes the
// releases beyond keep. It returns the release that was current before
// ("" for none), also when a step after the copy fails; a repeated install
// of the same release returns what was current before the first.
func (d *Driver) Install(ctx context.Context, unit string, r pipeline.Release, log pipeline.StepLog) (previous string, err error) {
	h, err := d.host(unit)
	if err != nil {
		return "", err
	}
	if err := checkRelease(r.ID); err != nil {
		return "", fmt.Errorf("local %s: %w", unit, err)
	}
	src, err := d.build(ctx, r, log)
	if err != nil {
		return "", fmt.Errorf("local %s: %w", unit, err)
	}
	dir := r.Dir()
	log.Step("copy")
	if err := h.place(ctx, dir, src, d.cfg.Exclude, log); err != nil {
		return "", fmt.Errorf("local %s: copy: %w", unit, err)
	}
	m, err := h.remember(r, dir)
	if err != nil {
		return "", fmt.Errorf("local %s: copy: %w", unit, err)
	}
	previous = m.Previous
	env := d.hookEnv(h, dir, m)
	if err := d.hook(ctx, "pre_release", h.release(dir), d.cfg.PreRelease, env, log); err != nil {
		return previous, fmt.Errorf("local %s: %w", unit, err)
	}
	log.Step("switch")
	if err := h.switchTo(dir, true); err != nil {
		return previous, fmt.Errorf("local %s: switch: %w", unit, err)
	}
	fmt.Fprintf(log, "current -> releases/%s (was %s)\n", dir, orNone(previous))
	if err := d.hook(ctx, "post_release", h.release(dir), d.cfg.PostRelease, env, log); err != nil {
		return previous, fmt.Errorf("local %s: %w", unit, err)
	}
	log.Step("cleanup")
	if err := h.cleanup(d.cfg.Keep, previous, log); err != nil {
		// The release is live; a leftover directory is no reason to fail it.
		fmt.Fprintf(log, "cleanup: %v\n", err)
	}
	return previous, nil
}

// Activate makes a kept release of unit current again and runs
// post_release in it, which is where services are restarted. Release ""
// removes current, and runs nothing.
func (d *Driver) Activate(ctx context.Context, unit, release string, log pipeline.StepLog) error {
	h, err := d.host(unit)
	if err != nil {
		return err
	}
	if release == "" {
		log.Step("switch")
		if err := h.unlink(); err != nil {
			return fmt.Errorf("local %s: switch: %w", unit, err)
		}
		fmt.Fprintln(log, "no release is current")
		return nil
	}
	dir := ""
	if checkRelease(release) == nil {
		if dir, err = h.find(release); err != nil {
			return fmt.Errorf("local %s: %w", unit, err)
		}
	}
	if dir == "" {
		kept, err := h.list()
		if err != nil {
			return fmt.Errorf("local %s: %w", unit, err)
		}
		return notFound(fmt.Sprintf("local %s: release %s is not kept (kept: %s)", unit, release, orNone(joinIDs(pipeline.ReleasesOfDirs(kept)))))
	}
	m, err := h.meta(dir)
	if err != nil {
		return fmt.Errorf("local %s: %w", unit, err)
	}
	was, err := h.current()
	if err != nil {
		return fmt.Errorf("local %s: %w", unit, err)
	}
	m.Previous = pipeline.ReleaseOfDir(was)
	log.Step("switch")
	if err := h.switchTo(dir, false); err != nil {
		return fmt.Errorf("local %s: switch: %w", unit, err)
	}
	fmt.Fprintf(log, "current -> releases/%s (was %s)\n", dir, orNone(was))
	if err := d.hook(ctx, "post_release", h.release(dir), d.cfg.PostRelease, d.hookEnv(h, dir, m), log); err != nil {
		return fmt.Errorf("local %s: %w", unit, err)
	}
	return nil
}

// Releases lists the releases unit keeps, oldest first.
func (d *Driver) Releases(ctx context.Context, unit string) ([]string, error) {
	h, err := d.host(unit)
	if err != nil {
		return nil, err
	}
	dirs, err := h.list()
	if err != nil {
		return nil, fmt.Errorf("local %s: %w", unit, err)
	}
	return pipeline.ReleasesOfDirs(dirs), nil
}

// Current is the release current on unit, "" for none.
func (d *Driver) Current(ctx context.Context, unit string) (string, error) {
	h, err := d.host(unit)
	if err != nil {
		return "", err
	}
	dir, err := h.current()
	if err != nil {
		return "", fmt.Errorf("local %s: %w", unit, err)
	}
	return pipeline.ReleaseOfDir(dir), nil
}

// hook runs one hook's commands as a step; a hook with no commands is no
// step at all.
func (d *Driver) hook(ctx context.Context, name, dir string, commands, env []string, log pipeline.StepLog) error {
	if len(commands) == 0 {
		return nil
	}
	log.Step(name)
	if err := workspace.Run(ctx, dir, commands, env, log); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// buildEnv is the environment of the build and of hooks on the ferry host.
func (d *Driver) buildEnv(r pipeline.Release) []string { return d.env().Build(r) }

// hookEnv is the environment of hooks and health commands run for the
// release in releases/<dir> on host h.
func (d *Driver) hookEnv(h host, dir string, m meta) []string {
	return d.env().Hook(workspace.Unit{
		Host: h.name, HostDir: h.dir, Version: m.Version, Commit: m.Commit,
		Release: pipeline.ReleaseOfDir(dir), ReleaseDir: h.release(dir), Previous: m.Previous,
	})
}

func (d *Driver) env() workspace.Env {
	return workspace.Env{Vars: d.cfg.Vars, Project: d.project, Env: d.environment}
}

// host returns the layout of a configured unit.
func (d *Driver) host(unit string) (host, error) {
	if !slices.Contains(d.cfg.Hosts, unit) {
		return host{}, notFound(fmt.Sprintf("local: %s is not a host of %s %s (hosts: %s)", unit, d.project, d.environment, joinIDs(d.cfg.Hosts)))
	}
	return host{name: unit, dir: filepath.Join(d.root, unit)}, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
