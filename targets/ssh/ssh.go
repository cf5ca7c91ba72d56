// Package ssh is the ssh target: Walle's release model on a fleet of Linux
// hosts reached over SSH (golang.org/x/crypto/ssh). A release is built once
// on the ferry host in a workspace.Workspace and packed into one tarball
// (a plain tar, or gzipped with compress: true), which every host of a
// batch receives in parallel. Under each host's deploy root:
//
//	releases/<id>-<sha>/       one directory per release: the deploy that built it, the commit
//	releases/<id>-<sha>.json   what the release is, and which release ran before it
//	current -> releases/<id>-<sha>
//
// An install takes a few SSH sessions over one connection per host, kept
// for every step of the deploy and probed with keep-alives: upload (the
// tarball streams into releases/<dir>.tmp, renamed when complete),
// pre_release (a session per command), switch (a new link renamed over
// current, which also lists the releases), post_release, and cleanup when
// there is something to delete. Every remote step is bounded by
// step_timeout; a command that is stopped is killed on the host with
// everything it started.
//
// Commands run with sh on the hosts, after the login shell of the user,
// so a slow ~/.bashrc (Debian's bash reads it for SSH commands) costs
// every session. A command that starts a server in the background should
// send the server's output elsewhere; otherwise ferry waits 5 seconds for
// it, as on the ferry host.
//
// Every step can be repeated after a crash: a directory named after a
// release is always complete, the record of the release (with the release
// that was current before) is written before the switch and kept after, and
// the switch is one rename. current moves only once a release is complete
// on that host, so a host that fails, or dies, in the middle of an install
// still runs what it ran.
//
// Host keys are checked against a known_hosts file: an unknown or changed
// key fails the host and is never trusted silently. Trust records the key
// of a new host after a person confirmed its fingerprint.
package ssh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
)

var (
	_ pipeline.Target    = (*Driver)(nil)
	_ pipeline.Resumable = (*Driver)(nil)
)

// Driver installs releases on the hosts of one environment. Close it to
// end its connections.
type Driver struct {
	cfg         Config
	project     string
	environment string
	hosts       []host
	knownHosts  string      // absolute
	signer      xssh.Signer // of cfg.Key; nil without one
	ws          *workspace.Workspace
	pool        *pool
	client      *http.Client
	packMu      sync.Mutex
	// waitDelay is how long a command's output is waited for once it
	// exited, and how long a session told to end may take to close.
	waitDelay time.Duration

	mu   sync.Mutex
	seen map[string]live // unit → what it runs, as this driver last saw
}

// live is the release a host runs.
type live struct {
	dir string // "" for none
	m   meta
}

// meta is what a host keeps of a release, beside its directory.
type meta struct {
	Release  string `json:"release"`
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Deploy   int64  `json:"deploy,omitempty"`
	Previous string `json:"previous"` // the release current when it was installed
}

// New checks cfg, reads the key file and returns a driver for the
// environment s names. It connects to nothing yet.
func New(cfg Config, s workspace.Setup) (*Driver, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if s.Project == "" || s.Env == "" || s.Workspace == nil {
		return nil, errors.New("ssh: Project, Env and Workspace are required")
	}
	cfg.Keep = cmp.Or(cfg.Keep, 5)
	cfg.Port = cmp.Or(cfg.Port, 22)
	cfg.ConnectTimeout = cmp.Or(cfg.ConnectTimeout, 10*time.Second)
	cfg.StepTimeout = cmp.Or(cfg.StepTimeout, 10*time.Minute)
	cfg.KeepAlive = cmp.Or(cfg.KeepAlive, 15*time.Second)
	cfg.Health.Timeout = cmp.Or(cfg.Health.Timeout, 10*time.Second)
	if cfg.User == "" {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("ssh: user: name the user to log in as: %w", err)
		}
		cfg.User = u.Username
	}
	d := &Driver{
		cfg:         cfg,
		project:     s.Project,
		environment: s.Env,
		knownHosts:  abs(s.BaseDir, cfg.KnownHosts),
		ws:          s.Workspace,
		client:      &http.Client{},
		seen:        map[string]live{},
		waitDelay:   5 * time.Second,
	}
	for _, h := range cfg.Hosts {
		root := cmp.Or(h.Root, cfg.Root)
		d.hosts = append(d.hosts, host{
			name:    h.name(),
			address: h.address(),
			addr:    net.JoinHostPort(h.address(), strconv.Itoa(cmp.Or(h.Port, cfg.Port))),
			user:    cmp.Or(h.User, cfg.User),
			root:    path.Clean(strings.ReplaceAll(root, "{{host}}", h.name())),
		})
	}
	if cfg.Key != "" {
		signer, err := loadKey(abs(s.BaseDir, cfg.Key))
		if err != nil {
			return nil, err
		}
		d.signer = signer
	}
	d.pool = &pool{dial: d.dial, keepAlive: cfg.KeepAlive}
	return d, nil
}

// Close ends the connections to the hosts. The driver may be used again;
// it then connects anew.
func (d *Driver) Close() error { return d.pool.close() }

// Resumable reports that every step can be repeated after a crash.
func (d *Driver) Resumable() bool { return true }

// Units lists the hosts' names, in configuration order.
func (d *Driver) Units(ctx context.Context) ([]string, error) {
	names := make([]string, len(d.hosts))
	for i, h := range d.hosts {
		names[i] = h.name
	}
	return names, nil
}

// Build checks the release's commit out, runs pre_deploy, the build
// commands and post_deploy, and packs the result, once; a completed build
// and its tarball are reused.
func (d *Driver) Build(ctx context.Context, r pipeline.Release, log pipeline.StepLog) error {
	if _, err := d.tarball(ctx, r, log); err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	return nil
}

// Install puts the release on one host and makes it current there: it
// uploads the tarball into releases/<id>-<sha>, runs pre_release there,
// switches current, runs post_release and deletes the releases beyond
// keep. It returns the release that was current before ("" for none), also
// when a step after the upload fails; a repeated install of the same
// release returns what was current before the first.
func (d *Driver) Install(ctx context.Context, unit string, r pipeline.Release, log pipeline.StepLog) (previous string, err error) {
	h, err := d.host(unit)
	if err != nil {
		return "", err
	}
	file, err := d.tarball(ctx, r, log)
	if err != nil {
		return "", fmt.Errorf("ssh %s: %w", unit, err)
	}
	dir := r.Dir()
	log.Step("connect")
	if err := d.connect(ctx, h, log); err != nil {
		return "", err
	}
	log.Step("upload")
	m, was, err := d.upload(ctx, h, r, dir, file, log)
	if err != nil {
		return "", h.fail("upload", err)
	}
	previous = m.Previous
	env := d.hookEnv(h, dir, m)
	if err := d.hook(ctx, h, "pre_release", h.release(dir), d.cfg.PreRelease, env, log); err != nil {
		return previous, err
	}
	log.Step("switch")
	st, err := d.switchTo(ctx, h, dir, true, log)
	if err != nil {
		return previous, h.fail("switch", err)
	}
	d.remember(unit, live{dir: dir, m: m})
	fmt.Fprintf(log, "current -> releases/%s (was %s)\n", dir, orNone(was))
	if err := d.hook(ctx, h, "post_release", h.release(dir), d.cfg.PostRelease, env, log); err != nil {
		return previous, err
	}
	log.Step("cleanup")
	d.cleanup(ctx, h, st, dir, previous, log)
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
		if _, err := d.run(ctx, h, expand(unlinkScript, "ROOT", h.root), log); err != nil {
			return h.fail("switch", err)
		}
		d.remember(unit, live{})
		fmt.Fprintln(log, "no release is current")
		return nil
	}
	st, err := d.state(ctx, h, log)
	if err != nil {
		return h.fail("switch", err)
	}
	was, err := st.current(h)
	if err != nil {
		return h.fail("switch", err)
	}
	dir := find(st.complete(), release)
	if dir == "" {
		return notFound(fmt.Sprintf("ssh %s: release %s is not kept (kept: %s)", unit, release, orNone(strings.Join(oldestFirst(pipeline.ReleasesOfDirs(st.complete())), ", "))))
	}
	log.Step("switch")
	after, err := d.switchTo(ctx, h, dir, false, log)
	if err != nil {
		return h.fail("switch", err)
	}
	m := after.meta
	if !after.hasMeta {
		m = meta{Release: release}
	}
	m.Previous = pipeline.ReleaseOfDir(was)
	d.remember(unit, live{dir: dir, m: m})
	fmt.Fprintf(log, "current -> releases/%s (was %s)\n", dir, orNone(was))
	return d.hook(ctx, h, "post_release", h.release(dir), d.cfg.PostRelease, d.hookEnv(h, dir, m), log)
}

// Releases lists the releases unit keeps, oldest first.
func (d *Driver) Releases(ctx context.Context, unit string) ([]string, error) {
	h, err := d.host(unit)
	if err != nil {
		return nil, err
	}
	st, err := d.state(ctx, h, io.Discard)
	if err != nil {
		return nil, h.fail("releases", err)
	}
	return oldestFirst(pipeline.ReleasesOfDirs(st.complete())), nil
}

// Current is the release current on unit, "" for none.
func (d *Driver) Current(ctx context.Context, unit string) (string, error) {
	h, err := d.host(unit)
	if err != nil {
		return "", err
	}
	st, err := d.state(ctx, h, io.Discard)
	if err == nil {
		var dir string
		if dir, err = st.current(h); err == nil {
			return pipeline.ReleaseOfDir(dir), nil
		}
	}
	return "", h.fail("current", err)
}

// connect makes sure there is a connection to h.
func (d *Driver) connect(ctx context.Context, h host, log io.Writer) error {
	_, reused, err := d.pool.get(ctx, h)
	if err != nil {
		return h.fail("connect", err)
	}
	how := "connected to"
	if reused {
		how = "using the connection to"
	}
	fmt.Fprintf(log, "%s %s@%s\n", how, h.user, h.addr)
	return nil
}

// state asks h what is current and which releases it has.
func (d *Driver) state(ctx context.Context, h host, log io.Writer) (state, error) {
	out, err := d.run(ctx, h, expand(stateScript, "ROOT", h.root), log)
	if err != nil {
		return state{}, err
	}
	return parseState(out)
}

// switchTo makes releases/<dir> current on h; fresh marks it the newest
// release, for cleanup. It returns what h says after the switch.
func (d *Driver) switchTo(ctx context.Context, h host, dir string, fresh bool, log io.Writer) (state, error) {
	touch := ":"
	if fresh {
		touch = "touch -- releases/" + quote(dir)
	}
	script := strings.ReplaceAll(switchScript, "@TOUCH@", touch)
	out, err := d.run(ctx, h, expand(script, "ROOT", h.root, "DIR", dir, "RAND", strconv.FormatInt(time.Now().UnixNano(), 36)), log)
	if err != nil {
		return state{}, err
	}
	return parseState(out)
}

// cleanup deletes the oldest releases beyond keep, sparing the current one
// and previous, and directories a crashed upload left. It only reports its
// failures: the release is live.
func (d *Driver) cleanup(ctx context.Context, h host, st state, cur, previous string, log io.Writer) {
	dirs := st.complete()
	var remove, words []string
	excess := len(dirs) - d.cfg.Keep
	for i := len(dirs) - 1; i >= 0 && excess > 0; i-- {
		if dirs[i] == cur || pipeline.ReleaseOfDir(dirs[i]) == previous {
			continue
		}
		remove = append(remove, dirs[i])
		words = append(words, quote("releases/"+dirs[i]), quote("releases/"+dirs[i]+".json"))
		excess--
	}
	for _, r := range st.releases {
		if strings.HasSuffix(r, ".tmp") {
			remove = append(remove, r)
			words = append(words, quote("releases/"+r))
		}
	}
	if len(remove) == 0 {
		fmt.Fprintf(log, "keeping %d releases\n", len(dirs))
		return
	}
	script := "cd -- " + quote(h.root) + " && rm -rf -- " + strings.Join(words, " ") + " && rm -f releases/*.json.tmp"
	if _, err := d.run(ctx, h, script, log); err != nil {
		fmt.Fprintf(log, "cleanup: %v\n", err)
		return
	}
	for _, r := range remove {
		fmt.Fprintf(log, "removed releases/%s\n", r)
	}
}

// buildEnv is the environment of the build and of hooks on the ferry host.
func (d *Driver) buildEnv(r pipeline.Release) []string { return d.env().Build(r) }

// hookEnv is the environment of hooks and health commands run on h for
// the release in releases/<dir>.
func (d *Driver) hookEnv(h host, dir string, m meta) []string {
	return d.env().Hook(workspace.Unit{
		Host: h.name, HostDir: h.root, Version: m.Version, Commit: m.Commit,
		Release: cmp.Or(m.Release, pipeline.ReleaseOfDir(dir)), ReleaseDir: h.release(dir), Previous: m.Previous,
	})
}

func (d *Driver) env() workspace.Env {
	return workspace.Env{Vars: d.cfg.Vars, Project: d.project, Env: d.environment}
}

func (d *Driver) remember(unit string, l live) {
	d.mu.Lock()
	d.seen[unit] = l
	d.mu.Unlock()
}

func (d *Driver) recall(unit string) (live, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.seen[unit]
	return l, ok
}

// host returns a configured unit.
func (d *Driver) host(unit string) (host, error) {
	for _, h := range d.hosts {
		if h.name == unit {
			return h, nil
		}
	}
	names, _ := d.Units(context.Background())
	return host{}, notFound(fmt.Sprintf("ssh: %s is not a host of %s %s (hosts: %s)", unit, d.project, d.environment, strings.Join(names, ", ")))
}

// oldestFirst reverses a list the hosts gave newest first.
func oldestFirst(list []string) []string {
	slices.Reverse(list)
	return list
}

// find returns the newest of dirs that holds release id.
func find(dirs []string, id string) string {
	for _, dir := range dirs {
		if pipeline.ReleaseOfDir(dir) == id {
			return dir
		}
	}
	return ""
}

var (
	releaseName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.]*$`)
	commitHash  = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)
)

// checkRelease accepts a release that can name a directory of releases/.
func checkRelease(r pipeline.Release) error {
	if !releaseName.MatchString(r.ID) || strings.HasSuffix(r.ID, ".tmp") || strings.HasSuffix(r.ID, ".json") {
		return fmt.Errorf("%w: release %q cannot name a directory", pipeline.ErrInvalid, r.ID)
	}
	if !commitHash.MatchString(r.Commit) {
		return fmt.Errorf("%w: release %s has no commit", pipeline.ErrInvalid, r.ID)
	}
	return nil
}

func abs(base, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// notFound is an error a person reads as is that still matches
// pipeline.ErrNotFound.
type notFound string

func (e notFound) Error() string { return string(e) }
func (e notFound) Unwrap() error { return pipeline.ErrNotFound }
