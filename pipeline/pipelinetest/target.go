// Package pipelinetest has fakes of the pipeline's interfaces for tests: a
// target that keeps releases in memory and a resolver over a fixed set of
// refs. They record effects as state; tests look at the state.
package pipelinetest

import (
	"context"
	"fmt"
	"slices"
	"sync"

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

// Resolver resolves refs from a fixed table.
type Resolver map[string]pipeline.Commit

// Resolve implements pipeline.Resolver.
func (r Resolver) Resolve(_ context.Context, repo, ref string) (pipeline.Commit, error) {
	c, ok := r[ref]
	if !ok {
		return pipeline.Commit{}, fmt.Errorf("%w: ref %q not found in %s", pipeline.ErrNotFound, ref, repo)
	}
	return c, nil
}
