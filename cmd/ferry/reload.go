package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrybot/ferry/bot/web"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
)

// source is a configuration file as ferry read it: where it is, and the
// digest of what was read, which names the configuration loaded.
type source struct {
	path string
	sum  [sha256.Size]byte
}

// short is the first 12 hex digits of the file's SHA-256.
func (s source) short() string { return hex.EncodeToString(s.sum[:6]) }

// digest is how ferry shows which file it read: sha256:<short>.
func (s source) digest() string { return "sha256:" + s.short() }

// read reports whether the file could be read.
func (s source) read() bool { return s.sum != [sha256.Size]byte{} }

// readConfig reads and loads a configuration, printing its problems one
// per line, and says which file it read.
func readConfig(path string, stderr io.Writer) (*config.Config, source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, source{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := config.Parse(path, data, filepath.Dir(path))
	var problems config.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		fmt.Fprintf(stderr, "%s: %d problem(s); fix them and run ferry check --config %s\n", path, len(problems), path)
		return nil, source{}, exitError(1)
	}
	return cfg, source{path: path, sum: sha256.Sum256(data)}, err
}

// Who asked for a reload, as the log and the audit log name them besides
// the admins who ask through the API.
const (
	bySignal     = "signal SIGHUP"
	byFileChange = "file change"
)

// pollEvery is how often ferry looks at its configuration file for a
// change (see watch).
const pollEvery = time.Second

// auditor writes the audit log; *storage.Store is one.
type auditor interface {
	Audit(ctx context.Context, e pipeline.AuditEntry) error
}

// reloader reads the configuration file again into a running ferry, on
// SIGHUP, when the file changes, or when an admin asks. The file is
// checked as ferry check checks it, and the targets it adds or changes
// are built and checked as at start; a file with any problem is refused,
// each problem logged, and the configuration loaded before stays. A good
// one gives its users, teams, projects and freezes to every request that
// starts after it (see config.Config.Reload and pipeline.Engine.Reconfigure);
// every other setting is kept until the next restart, with a warning
// naming those the file changed. Each reload and each refusal is audited.
type reloader struct {
	path    string
	live    *config.Live
	engine  *pipeline.Engine
	drivers *drivers
	audit   auditor
	log     *slog.Logger
	now     func() time.Time

	mu    sync.Mutex        // one reload at a time
	seen  [sha256.Size]byte // the content last read, loaded or refused; under mu
	state atomic.Pointer[reloadState]
}

// reloadState is what a reloader says of itself, made new at each
// reload, so that /readyz reads it while a reload checks its targets.
type reloadState struct {
	loaded   source // the file of the configuration loaded now
	loadedAt time.Time
	refused  *refusal // the last reload, when it was refused since loadedAt
}

// refusal is a reload that was refused.
type refusal struct {
	src      source // sum zero: the file could not be read
	at       time.Time
	problems int
}

func newReloader(src source, live *config.Live, engine *pipeline.Engine, drivers *drivers, audit auditor, now func() time.Time, log *slog.Logger) *reloader {
	r := &reloader{path: src.path, live: live, engine: engine, drivers: drivers, audit: audit, log: log, now: now, seen: src.sum}
	r.state.Store(&reloadState{loaded: src, loadedAt: now()})
	return r
}

// reload reads the file again as who asks, and says what it did.
func (r *reloader) reload(ctx context.Context, who string) web.APIReload {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := os.ReadFile(r.path)
	return r.load(ctx, who, data, err)
}

// reloadChanged reloads the file if what it holds is not what was read
// last.
func (r *reloader) reloadChanged(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := os.ReadFile(r.path)
	if err == nil && sha256.Sum256(data) == r.seen {
		return
	}
	r.load(ctx, byFileChange, data, err)
}

// load checks data, read from the file (or not: readErr), and loads it
// or refuses it.
func (r *reloader) load(ctx context.Context, who string, data []byte, readErr error) web.APIReload {
	path := r.path
	if readErr != nil {
		r.seen = [sha256.Size]byte{}
		return r.refuse(ctx, who, source{path: path}, config.Problems{{File: path, Msg: readErr.Error()}})
	}
	src := source{path: path, sum: sha256.Sum256(data)}
	r.seen = src.sum
	next, err := config.Parse(path, data, filepath.Dir(path))
	if err != nil {
		var problems config.Problems
		if !errors.As(err, &problems) {
			problems = config.Problems{{File: path, Msg: err.Error()}}
		}
		return r.refuse(ctx, who, src, problems)
	}
	if problems := r.targetProblems(ctx, next); len(problems) > 0 {
		return r.refuse(ctx, who, src, problems)
	}
	old := r.live.Config()
	cfg, restartOnly := old.Reload(next)
	if err := r.engine.Reconfigure(cfg.Projects, cfg.Freezes); err != nil {
		return r.refuse(ctx, who, src, config.Problems{{File: path, Msg: err.Error()}})
	}
	r.live.Store(cfg)
	r.state.Store(&reloadState{loaded: src, loadedAt: r.now()})
	res := web.APIReload{Loaded: true, SHA256: src.short(), Users: len(cfg.Users), Teams: len(cfg.Teams),
		Projects: len(cfg.Projects), Environments: environments(cfg), Freezes: len(cfg.Freezes),
		Changes: firstOf(old.Diff(cfg), "no changes"), RestartOnly: restartOnly}
	r.log.Info("configuration reloaded", "by", who, "sha256", res.SHA256, "changes", res.Changes)
	detail := fmt.Sprintf("%s; %d users, %d teams, %d projects, %d environments, %d freezes; %s",
		src.digest(), res.Users, res.Teams, res.Projects, res.Environments, res.Freezes, res.Changes)
	if len(restartOnly) > 0 {
		keys := strings.Join(restartOnly, ", ")
		r.log.Warn("the file changes settings that take effect at the next restart; until then ferry keeps those it started with", "settings", keys)
		detail += "; at the next restart: " + keys
	}
	r.record(ctx, who, "reload", detail)
	return res
}

// targetProblems are the problems of next's targets: their parameters, as
// ferry check reads them, then, for each target that is new or changed,
// its driver as ferry builds it at start (a missing Kubernetes permission
// is one).
func (r *reloader) targetProblems(ctx context.Context, next *config.Config) config.Problems {
	path := r.path
	if problems := targetProblems(path, next); len(problems) > 0 {
		return problems
	}
	var problems config.Problems
	for _, p := range next.Projects {
		for _, env := range p.Envs {
			if err := r.drivers.prepare(ctx, p, env, r.log); err != nil {
				problems = append(problems, targetProblem(path, next, p, env, err))
			}
		}
	}
	return problems
}

// refuse keeps the configuration loaded now, and logs and audits why the
// file was refused.
func (r *reloader) refuse(ctx context.Context, who string, src source, problems config.Problems) web.APIReload {
	st := *r.state.Load()
	st.refused = &refusal{src: src, at: r.now(), problems: len(problems)}
	r.state.Store(&st)
	res := web.APIReload{}
	lines := make([]string, len(problems))
	for i, p := range problems {
		res.Problems = append(res.Problems, p.String())
		r.log.Error("reload refused", "by", who, "problem", p.String())
		lines[i] = fmt.Sprint(p.Line)
	}
	detail := fmt.Sprintf("%d problems", len(problems))
	if src.read() {
		res.SHA256 = src.short()
		detail = fmt.Sprintf("%s; %d problems, at lines %s", src.digest(), len(problems), strings.Join(lines, ", "))
	}
	r.log.Warn("the configuration loaded before stays", "sha256", st.loaded.short(), "problems", len(problems))
	r.record(ctx, who, "reload refused", detail+"; "+st.loaded.digest()+" stays loaded")
	return res
}

// record writes an entry of the audit log; a failure is logged.
func (r *reloader) record(ctx context.Context, who, action, detail string) {
	if err := r.audit.Audit(context.WithoutCancel(ctx), pipeline.AuditEntry{At: r.now(), Actor: who, Action: action, Detail: detail}); err != nil {
		r.log.Error("audit "+action, "err", err)
	}
}

// status says which configuration is loaded, since when, and whether the
// last reload was refused, for /readyz.
func (r *reloader) status() string {
	st := r.state.Load()
	s := fmt.Sprintf("config %s loaded %s\n", st.loaded.digest(), st.loadedAt.UTC().Format(time.RFC3339))
	if f := st.refused; f != nil {
		what := "the file could not be read"
		if f.src.read() {
			what = fmt.Sprintf("%s has %d problem(s)", f.src.digest(), f.problems)
		}
		s += fmt.Sprintf("reload refused %s: %s; the configuration above stays loaded\n", f.at.UTC().Format(time.RFC3339), what)
	}
	return s
}

// onSignal reloads at each SIGHUP hup receives, until ctx ends.
func (r *reloader) onSignal(ctx context.Context, hup <-chan os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			r.reload(ctx, bySignal)
		}
	}
}

// watch returns the loop that reloads the file when it changes, until its
// context ends. It looks at the file every pollEvery: a change is the
// file it resolves to being another one (an editor saves by renaming a
// new file over it, and Kubernetes updates a ConfigMap's files by
// swapping the link they resolve through) or the same one with another
// size or time. A file seen changed is read once it has stayed so for one
// more look, so a save in progress is not read half-written, and loaded
// if its content is new. It looks once before ferry says it is ready, for
// a change made since ferry read the file at start.
//
// Looking beats a watch of inotify here: the file's directory often holds
// the SQLite database too, whose every write would wake a watch (a fifth
// of ferry's CPU under a flood of webhooks), while a look costs one stat.
func (r *reloader) watch(ctx context.Context) func(context.Context) error {
	last := stamp(r.path)
	r.reloadChanged(ctx)
	return func(ctx context.Context) error {
		tick := time.NewTicker(pollEvery)
		defer tick.Stop()
		changed := false
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			now := stamp(r.path)
			switch {
			case !now.same(last):
				last, changed = now, true
			case changed:
				changed = false
				r.reloadChanged(ctx)
			}
		}
	}
}

// fileStamp is what a look at the configuration file sees.
type fileStamp struct {
	info os.FileInfo // nil: the file could not be read
}

func stamp(path string) fileStamp {
	info, err := os.Stat(path) // through links, to the file they resolve to
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{info: info}
}

func (a fileStamp) same(b fileStamp) bool {
	if a.info == nil || b.info == nil {
		return a.info == nil && b.info == nil
	}
	return os.SameFile(a.info, b.info) && a.info.Size() == b.info.Size() && a.info.ModTime().Equal(b.info.ModTime())
}

// reloadCommand runs `ferry reload`: the server reads its configuration
// file again, as an admin asks, and says what it loaded or why it refused
// the file.
func reloadCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, words, err := parseClientArgs(args)
	if err == nil && len(words) > 0 {
		err = fmt.Errorf("reload takes no arguments, not %s", strings.Join(words, " "))
	}
	if err != nil {
		fmt.Fprintln(stderr, "ferry reload:", err)
		return exitError(2)
	}
	v, body, err := apiCall[web.APIReload](ctx, o, "ferry reload", http.MethodPost, "/api/v1/reload", nil, stderr)
	for _, p := range v.Problems {
		fmt.Fprintln(stderr, "  "+p)
	}
	if err != nil {
		return err
	}
	if o.json {
		stdout.Write(body)
		return nil
	}
	fmt.Fprintf(stdout, "reloaded sha256:%s: %d users, %d teams, %d projects, %d environments, %d freezes\nchanges: %s\n",
		v.SHA256, v.Users, v.Teams, v.Projects, v.Environments, v.Freezes, v.Changes)
	if len(v.RestartOnly) > 0 {
		fmt.Fprintf(stdout, "changed, but taken only at the next restart: %s\n", strings.Join(v.RestartOnly, ", "))
	}
	return nil
}
