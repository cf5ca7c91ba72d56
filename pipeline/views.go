package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// EnvStatus is one cell of the board: what an environment of a project runs
// and what is happening to it.
type EnvStatus struct {
	Project string
	Env     string
	Current *Deploy // the last succeeded deploy; nil if none
	Active  *Deploy // the deploy holding the environment; nil if none
	Queued  []Deploy
	Waiting []Deploy // awaiting approval
	Lock    *Lock
	Frozen  *Frozen       // the freeze window open now; nil if none
	Units   []UnitRelease // what each unit runs, by name; a canary shows as a mix
}

// Board returns the status of every environment of the named project, or of
// every project when project is "".
func (e *Engine) Board(ctx context.Context, project string) ([]EnvStatus, error) {
	names := e.order
	if project != "" {
		if _, ok := e.projects[project]; !ok {
			_, _, err := e.lookup(project, "")
			return nil, err
		}
		names = []string{project}
	}
	locks, err := e.store.Locks(ctx)
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	var out []EnvStatus
	for _, n := range names {
		for _, env := range e.projects[n].Envs {
			s := EnvStatus{Project: n, Env: env.Name}
			cur, err := e.current(ctx, n, env.Name)
			if err != nil {
				return nil, err
			}
			s.Current = cur.Deploy
			if s.Active, err = e.holder(ctx, n, env.Name); err != nil {
				return nil, err
			}
			if s.Queued, err = e.store.Deploys(ctx, DeployFilter{Project: n, Env: env.Name, States: []State{StateQueued}, Oldest: true}); err != nil {
				return nil, err
			}
			if s.Waiting, err = e.store.Deploys(ctx, DeployFilter{Project: n, Env: env.Name, States: []State{StateAwaitingApproval}, Oldest: true}); err != nil {
				return nil, err
			}
			if s.Units, err = e.store.UnitReleases(ctx, n, env.Name); err != nil {
				return nil, err
			}
			s.Frozen = FrozenAt(e.freezes, n, env.Name, now, false)
			for _, l := range locks {
				if l.Env == env.Name && (l.Project == n || l.Project == "*") && l.Active(now) {
					s.Lock = &l
					break
				}
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// Deploys lists deploys, newest first unless f.Oldest. A project or
// environment named in f must exist (an environment alone: in some project).
func (e *Engine) Deploys(ctx context.Context, f DeployFilter) ([]Deploy, error) {
	if f.Project != "" {
		_, _, err := e.lookup(f.Project, f.Env)
		if _, ok := e.projects[f.Project]; !ok || f.Env != "" && err != nil {
			return nil, err
		}
	} else if f.Env != "" && !slices.ContainsFunc(e.order, func(n string) bool { _, ok := e.projects[n].Env(f.Env); return ok }) {
		return nil, fmt.Errorf("%w: no project has an environment %q", ErrNotFound, f.Env)
	}
	return e.store.Deploys(ctx, f)
}

// Details is everything known about one deploy.
type Details struct {
	Deploy      Deploy
	Transitions []Transition
	Units       []Unit
	Approvals   []Approval
	Logs        []LogEntry
	Now         time.Time
}

// Details returns a deploy with its transitions, units, approvals and the
// last logLines lines of its output (0: all).
func (e *Engine) Details(ctx context.Context, id int64, logLines int) (Details, error) {
	var x Details
	var err error
	if x.Deploy, err = e.store.Deploy(ctx, id); err != nil {
		return x, err
	}
	if x.Transitions, err = e.store.Transitions(ctx, id); err != nil {
		return x, err
	}
	if x.Units, err = e.store.Units(ctx, id); err != nil {
		return x, err
	}
	if x.Approvals, err = e.store.Approvals(ctx, id); err != nil {
		return x, err
	}
	if x.Logs, err = e.store.Logs(ctx, id, logLines); err != nil {
		return x, err
	}
	x.Now = e.clock.Now()
	return x, nil
}
