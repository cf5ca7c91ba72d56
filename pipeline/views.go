package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
	Frozen  *Frozen // the freeze window open now; nil if none
	// Promoting is what soaks here, or waits for its schedule, on its way
	// to the next environment; oldest first.
	Promoting []Promoting
	Units     []UnitRelease // what each unit runs, by name; a canary shows as a mix
}

// Board returns the status of every environment of the named project, or of
// every project when project is "".
func (e *Engine) Board(ctx context.Context, project string) ([]EnvStatus, error) {
	c := e.config()
	names := c.order
	if project != "" {
		if _, ok := c.projects[project]; !ok {
			_, _, err := c.lookup(project, "")
			return nil, err
		}
		names = []string{project}
	}
	locks, err := e.store.Locks(ctx)
	if err != nil {
		return nil, err
	}
	soaking, err := e.store.Promotions(ctx, project, PromotionSoaking)
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	var out []EnvStatus
	for _, n := range names {
		for _, env := range promotionOrder(c.projects[n]) {
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
			s.Frozen = FrozenAt(c.freezes, n, env.Name, now, false)
			for _, rec := range soaking {
				if rec.Project == n && rec.From == env.Name {
					s.Promoting = append(s.Promoting, Promoting{PromotionRecord: rec, Rule: c.projects[n].promotion(rec.From, rec.To), Now: now})
				}
			}
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

// Promoting is a version on its way from one environment to the next.
type Promoting struct {
	PromotionRecord
	Rule Promotion
	Now  time.Time // when the board was read
}

// String says where the promotion is: "v1.3.0 soaking in staging, 12 of
// 30 min, then prod", "v1.3.0 waits for Mon 14:00 UTC to go to prod", or
// why it waits.
func (p Promoting) String() string {
	if strings.HasPrefix(p.Reason, "waiting: ") {
		return fmt.Sprintf("%s for %s, %s", p.Version, p.To, p.Reason)
	}
	if p.Rule.Schedule != nil {
		return fmt.Sprintf("%s waits for %s to go to %s", p.Version, p.Due.UTC().Format("Mon 2 Jan 15:04 UTC"), p.To)
	}
	done := min(max(p.Now.Sub(p.Due.Add(-p.Rule.Soak)), 0), p.Rule.Soak)
	return fmt.Sprintf("%s soaking in %s, %s of %s, then %s", p.Version, p.From, shortDuration(done.Truncate(time.Second)), shortDuration(p.Rule.Soak), p.To)
}

// promotionOrder is a project's environments in the order of its
// promotions (each after the one it is promoted from), the others in file
// order where they are.
func promotionOrder(p Project) []Environment {
	out := slices.Clone(p.Envs)
	for range len(out) {
		moved := false
		for _, r := range p.Promotions {
			from := slices.IndexFunc(out, func(e Environment) bool { return e.Name == r.From })
			to := slices.IndexFunc(out, func(e Environment) bool { return e.Name == r.To })
			if from > to && to >= 0 {
				env := out[to]
				out = slices.Insert(slices.Delete(out, to, to+1), from, env)
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	return out
}

// promotion is the project's rule from one environment to another.
func (p Project) promotion(from, to string) Promotion {
	for _, r := range p.Promotions {
		if r.From == from && r.To == to {
			return r
		}
	}
	return Promotion{From: from, To: to}
}

// Deploys lists deploys, newest first unless f.Oldest. A project or
// environment named in f must exist (an environment alone: in some project).
func (e *Engine) Deploys(ctx context.Context, f DeployFilter) ([]Deploy, error) {
	c := e.config()
	if f.Project != "" {
		_, _, err := c.lookup(f.Project, f.Env)
		if _, ok := c.projects[f.Project]; !ok || f.Env != "" && err != nil {
			return nil, err
		}
	} else if f.Env != "" && !slices.ContainsFunc(c.order, func(n string) bool { _, ok := c.projects[n].Env(f.Env); return ok }) {
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
