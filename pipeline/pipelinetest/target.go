// Package pipelinetest has fakes of the pipeline's interfaces for tests: a
// target that keeps releases in memory and a resolver over a fixed set of
// refs. They record effects as state; tests look at the state.
package pipelinetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Target is an in-memory pipeline.Target. The zero value is not usable; use
// NewTarget.
type Target struct {
	mu       sync.Mutex
	units    []string
	current  map[string]string
	releases map[string][]string
	installs map[string]int // unit → installs attempted

	// Set these before the deploy runs.
	FailBuild   error
	FailInstall map[string]error
	// FailCheck makes the health check of a unit fail while it returns an error.
	FailCheck func(unit, current string) error
	// Hold, if set, is received from before each install starts: a test
	// blocks installs by not sending.
	Hold chan struct{}
	// Started receives a unit name when its install starts, if set.
	Started chan string
	// NotResumable makes Resumable report false.
	NotResumable bool
}

var (
	_ pipeline.Target    = (*Target)(nil)
	_ pipeline.Resumable = (*Target)(nil)
)

// NewTarget returns a target with the named units and no releases.
func NewTarget(units ...string) *Target {
	return &Target{units: units, current: map[string]string{}, releases: map[string][]string{}, installs: map[string]int{}, FailInstall: map[string]error{}}
}

// Units implements pipeline.Target.
func (t *Target) Units(context.Context) ([]string, error) { return slices.Clone(t.units), nil }

// Build implements pipeline.Target.
func (t *Target) Build(_ context.Context, r pipeline.Release, log pipeline.StepLog) error {
	fmt.Fprintf(log, "building %s at %s\n", r.Version, r.Commit)
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.FailBuild
}

// Install implements pipeline.Target.
func (t *Target) Install(ctx context.Context, unit string, r pipeline.Release, log pipeline.StepLog) (string, error) {
	if t.Started != nil {
		select {
		case t.Started <- unit:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if t.Hold != nil {
		select {
		case <-t.Hold:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.installs[unit]++
	log.Step("copy")
	if err := t.FailInstall[unit]; err != nil {
		fmt.Fprintf(log, "copy failed: %v\n", err)
		return t.current[unit], err
	}
	prev := t.current[unit]
	if !slices.Contains(t.releases[unit], r.ID) {
		t.releases[unit] = append(t.releases[unit], r.ID)
	}
	log.Step("switch")
	t.current[unit] = r.ID
	fmt.Fprintf(log, "current -> releases/%s\n", r.ID)
	return prev, nil
}

// Activate implements pipeline.Target.
func (t *Target) Activate(_ context.Context, unit, release string, log pipeline.StepLog) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if release != "" && !slices.Contains(t.releases[unit], release) {
		return fmt.Errorf("%s: release %s is not kept: %w", unit, release, pipeline.ErrNotFound)
	}
	t.current[unit] = release
	fmt.Fprintf(log, "current -> releases/%s\n", release)
	return nil
}

// Check implements pipeline.Target.
func (t *Target) Check(_ context.Context, unit string, _ pipeline.StepLog) error {
	t.mu.Lock()
	check, cur := t.FailCheck, t.current[unit]
	t.mu.Unlock()
	if check != nil {
		return check(unit, cur)
	}
	return nil
}

// Resumable implements pipeline.Resumable.
func (t *Target) Resumable() bool { return !t.NotResumable }

// Current returns the release each unit runs, by unit.
func (t *Target) Current() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := map[string]string{}
	for _, u := range t.units {
		c[u] = t.current[u]
	}
	return c
}

// Installs returns how many installs were attempted on unit.
func (t *Target) Installs(unit string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.installs[unit]
}

// Set replaces a setting under the target's lock, for changing a failure
// while a deploy runs.
func (t *Target) Set(f func(t *Target)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(t)
}

// Resolver resolves refs from a fixed table. A ref's head is its entry.
// An older commit is an entry under its own hash: it belongs to the branch
// or tag it names, or, naming none, to every branch. A commit the table
// does not hold cannot be fetched.
type Resolver map[string]pipeline.Commit

// Resolve implements pipeline.Resolver.
func (r Resolver) Resolve(_ context.Context, repo, ref string) (pipeline.Commit, error) {
	c, ok := r[ref]
	if !ok {
		return pipeline.Commit{}, fmt.Errorf("%w: ref %q not found in %s", pipeline.ErrNotFound, ref, repo)
	}
	return c, nil
}

// ResolveAt implements pipeline.Resolver.
func (r Resolver) ResolveAt(ctx context.Context, repo, ref, commit string) (pipeline.Commit, error) {
	head, err := r.Resolve(ctx, repo, ref)
	if err != nil || head.Hash == commit {
		return head, err
	}
	c, ok := r[commit]
	if !ok || c.Hash != commit {
		return pipeline.Commit{}, fmt.Errorf("%w: commit %s not found in %s", pipeline.ErrNotFound, commit, repo)
	}
	onBranch := head.Branch != "" && c.Tag == "" && (c.Branch == "" || c.Branch == head.Branch)
	if !onBranch && (head.Tag == "" || c.Tag != head.Tag) {
		return pipeline.Commit{}, fmt.Errorf("%w: commit %s does not belong to %s", pipeline.ErrConflict, commit, ref)
	}
	return pipeline.Commit{Hash: commit, Branch: head.Branch, Tag: head.Tag, Time: c.Time}, nil
}

// BatchTarget is a pipeline.BatchTarget over a Target: each batch and each
// rollback is one call, recorded, that moves its units as the Target
// would one by one.
type BatchTarget struct {
	*Target
	mu      sync.Mutex
	calls   []string
	reports int
	Scaled  []int    // the unit counts Scale was asked for
	Configs []string // KEY=VALUE for each SetConfig

	// Set these before Report is called: what it adds to the units'
	// releases, or the error it returns instead.
	Restarts    int
	LastRestart time.Time
	Note        string
	FailReport  error
}

var (
	_ pipeline.BatchTarget = (*BatchTarget)(nil)
	_ pipeline.Scaler      = (*BatchTarget)(nil)
	_ pipeline.Restarter   = (*BatchTarget)(nil)
	_ pipeline.Configurer  = (*BatchTarget)(nil)
	_ pipeline.Reporter    = (*BatchTarget)(nil)
)

// NewBatchTarget returns a batch target with the named units.
func NewBatchTarget(units ...string) *BatchTarget {
	return &BatchTarget{Target: NewTarget(units...)}
}

// InstallBatch implements pipeline.BatchTarget: it installs r on each unit
// of b, then checks it. The previous release is the first unit's.
func (t *BatchTarget) InstallBatch(ctx context.Context, r pipeline.Release, b pipeline.Batch) (string, map[string]error, error) {
	t.record(fmt.Sprintf("install %s %v %d/%d", r.ID, b.Units, b.Upto, b.Total))
	fmt.Fprintf(b.Log(""), "rolling %s out to %d of %d\n", r.ID, b.Upto, b.Total)
	failed := map[string]error{}
	prev := ""
	for i, u := range b.Units {
		p, err := t.Install(ctx, u, r, b.Log(u))
		if ctx.Err() != nil {
			return "", nil, ctx.Err()
		}
		if i == 0 {
			prev = p
		}
		if err == nil {
			err = t.Check(ctx, u, b.Log(u))
		}
		if err != nil {
			failed[u] = err
		}
	}
	return prev, failed, nil
}

// ActivateBatch implements pipeline.BatchTarget.
func (t *BatchTarget) ActivateBatch(ctx context.Context, release string, b pipeline.Batch) error {
	t.record(fmt.Sprintf("activate %q %v", release, b.Units))
	for _, u := range b.Units {
		if err := t.Activate(ctx, u, release, b.Log(u)); err != nil {
			return err
		}
	}
	return nil
}

// Scale implements pipeline.Scaler.
func (t *BatchTarget) Scale(_ context.Context, units int) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Scaled = append(t.Scaled, units)
	return fmt.Sprintf("scaled to %d", units), nil
}

// Restart implements pipeline.Restarter.
func (t *BatchTarget) Restart(context.Context) (string, error) {
	t.record("restart")
	return "restarted", nil
}

// SetConfig implements pipeline.Configurer.
func (t *BatchTarget) SetConfig(_ context.Context, key, value string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Configs = append(t.Configs, key+"="+value)
	return "set " + key, nil
}

// Report implements pipeline.Reporter: every unit runs its current release,
// with the Restarts, LastRestart and Note set; FailReport fails it.
func (t *BatchTarget) Report(context.Context) (pipeline.Runtime, error) {
	t.mu.Lock()
	t.reports++
	rt := pipeline.Runtime{Restarts: t.Restarts, LastRestart: t.LastRestart, Note: t.Note}
	err := t.FailReport
	t.mu.Unlock()
	if err != nil {
		return pipeline.Runtime{}, err
	}
	cur := t.Current()
	rt.Desired = len(cur)
	for _, r := range cur {
		if r != "" {
			rt.Ready++
			rt.Image = "release " + r
		}
	}
	return rt, nil
}

func (t *BatchTarget) record(call string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, call)
}

// Calls lists the batch calls made, oldest first, as
// "install <release> [units] <upto>/<total>", "activate "<release>" [units]"
// and "restart".
func (t *BatchTarget) Calls() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.calls)
}

// Reports returns how many times Report was called.
func (t *BatchTarget) Reports() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reports
}
