package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Approve records the actor's approval of deploy id and queues the deploy
// once it has the approvals its environment requires. Two approvals racing
// for the last place queue it once.
func (e *Engine) Approve(ctx context.Context, a Actor, id int64) (Deploy, error) {
	d, env, err := e.deployEnv(ctx, id)
	if err != nil {
		return Deploy{}, err
	}
	got, err := e.store.Approvals(ctx, id)
	if err != nil {
		return d, err
	}
	now := e.clock.Now()
	if err := CanApprove(a, env, d, got, now); err != nil {
		if d.State == StateAwaitingApproval && !d.ApprovalDeadline.IsZero() && !now.Before(d.ApprovalDeadline) {
			_, _ = e.transition(ctx, d, EventExpire, "ferry", "nobody approved it in time") // report err, not this
		}
		return d, e.refused(ctx, a, "approve", d, err)
	}
	if err := e.store.AddApproval(ctx, Approval{DeployID: id, Approver: a.Name, At: now}); err != nil {
		if errors.Is(err, ErrDuplicate) {
			return d, fmt.Errorf("%w: you already approved deploy %d", ErrDuplicate, id)
		}
		return d, err
	}
	e.audit(ctx, a, "approve", d, "")
	if len(got)+1 < d.ApprovalsRequired {
		e.changed(ctx, d)
		return d, nil
	}
	nd, err := e.enqueue(ctx, d, EventApprove, a.Name, promotionNote(d))
	if errors.Is(err, ErrConflict) { // another approval queued it first
		nd, err = e.store.Deploy(ctx, id)
	}
	return nd, err
}

// Reject ends an approval request.
func (e *Engine) Reject(ctx context.Context, a Actor, id int64, reason string) (Deploy, error) {
	if err := checkLen("reason", reason, MaxReason); err != nil {
		return Deploy{}, err
	}
	d, env, err := e.deployEnv(ctx, id)
	if err != nil {
		return Deploy{}, err
	}
	if a.Name != d.Requester && len(env.Approvals.From) > 0 && !a.Is(env.Approvals.From) && !a.Admin {
		return d, e.refused(ctx, a, "reject", d, fmt.Errorf("%w: only the requester or an approver may reject deploy %d", ErrForbidden, id))
	}
	if reason == "" {
		reason = "rejected by " + a.Name
	} else {
		reason = "rejected by " + a.Name + ": " + reason
	}
	return e.act(ctx, a, d, EventReject, "reject", reason)
}

// Continue resumes a paused deploy with its next batch; units that failed
// in the batch it stopped on are tried again.
func (e *Engine) Continue(ctx context.Context, a Actor, id int64) (Deploy, error) {
	return e.steer(ctx, a, id, EventContinue, "continue", "continued by "+a.Name)
}

// Pause stops a running deploy after the units it is installing now.
func (e *Engine) Pause(ctx context.Context, a Actor, id int64) (Deploy, error) {
	return e.steer(ctx, a, id, EventPause, "pause", "paused by "+a.Name)
}

// Cancel stops a deploy for good. Units it already updated stay as they are;
// roll the environment back to undo them.
func (e *Engine) Cancel(ctx context.Context, a Actor, id int64) (Deploy, error) {
	return e.steer(ctx, a, id, EventCancel, "cancel", "cancelled by "+a.Name)
}

// Resume runs an interrupted deploy again from its journal.
func (e *Engine) Resume(ctx context.Context, a Actor, id int64) (Deploy, error) {
	return e.steer(ctx, a, id, EventResume, "resume", "resumed by "+a.Name)
}

func (e *Engine) steer(ctx context.Context, a Actor, id int64, ev Event, action, reason string) (Deploy, error) {
	d, env, err := e.deployEnv(ctx, id)
	if err != nil {
		return Deploy{}, err
	}
	if err := CanAct(a, env, d); err != nil {
		return d, e.refused(ctx, a, action, d, err)
	}
	return e.act(ctx, a, d, ev, action, reason)
}

func (e *Engine) act(ctx context.Context, a Actor, d Deploy, ev Event, action, reason string) (Deploy, error) {
	if _, _, err := Next(d.State, ev); err != nil {
		return d, fmt.Errorf("deploy %d: %w", d.ID, err)
	}
	nd, err := e.transition(ctx, d, ev, a.Name, reason)
	if err != nil {
		return d, err
	}
	e.audit(ctx, a, action, nd, reason)
	return nd, nil
}

// deployEnv is deploy id and its environment, whose policy says who may
// act on it: as configured now or, when a reload removed it while the
// deploy runs on, as the deploy started with.
func (e *Engine) deployEnv(ctx context.Context, id int64) (Deploy, Environment, error) {
	d, err := e.store.Deploy(ctx, id)
	if err != nil {
		return Deploy{}, Environment{}, err
	}
	_, env, err := e.lookup(d.Project, d.Env)
	if c, ok := e.pinnedConfig(id); ok && errors.Is(err, ErrNotFound) {
		_, env, err = c.lookup(d.Project, d.Env)
	}
	return d, env, err
}

// Lock keeps other people's deploys away from env of project ("*": every
// project). A ttl of 0 takes the environment's lock_ttl. Locking every
// project is for admins, and so is replacing someone else's lock; the audit
// log records whose lock an admin replaced.
func (e *Engine) Lock(ctx context.Context, a Actor, project, env string, ttl time.Duration, reason string) (Lock, error) {
	if err := checkLen("reason", reason, MaxReason); err != nil {
		return Lock{}, err
	}
	scope := Deploy{Project: project, Env: env}
	envCfg, err := e.lockScope(a, project, env)
	if err != nil {
		return Lock{}, e.refused(ctx, a, "lock", scope, err)
	}
	if ttl == 0 {
		ttl = envCfg.LockTTL
	}
	now := e.clock.Now()
	locks, err := e.store.Locks(ctx)
	if err != nil {
		return Lock{}, err
	}
	detail := reason
	for _, l := range locks {
		if l.Project == project && l.Env == env && l.Active(now) && l.Owner != a.Name {
			if !a.Admin {
				return Lock{}, e.refused(ctx, a, "lock", scope, &LockedError{Lock: l})
			}
			detail = strings.TrimSpace(reason + " (forced over " + l.Owner + "'s lock)")
		}
	}
	l := Lock{Project: project, Env: env, Owner: a.Name, Reason: reason, Created: now}
	if ttl > 0 {
		l.Expires = now.Add(ttl)
	}
	if err := e.store.PutLock(ctx, l); err != nil {
		return Lock{}, err
	}
	e.audit(ctx, a, "lock", scope, detail)
	return l, nil
}

// Unlock removes a lock; its owner or an admin may. The audit log records
// whose lock an admin removed.
func (e *Engine) Unlock(ctx context.Context, a Actor, project, env string) error {
	scope := Deploy{Project: project, Env: env}
	if _, err := e.lockScope(a, project, env); err != nil {
		return e.refused(ctx, a, "unlock", scope, err)
	}
	locks, err := e.store.Locks(ctx)
	if err != nil {
		return err
	}
	detail := ""
	for _, l := range locks {
		if l.Project == project && l.Env == env && l.Active(e.clock.Now()) && l.Owner != a.Name {
			if !a.Admin {
				return e.refused(ctx, a, "unlock", scope, fmt.Errorf("%w: %s is locked by %s; only they or an admin may unlock it", ErrForbidden, l.Scope(), l.Owner))
			}
			detail = "forced over " + l.Owner + "'s lock"
		}
	}
	if err := e.store.DeleteLock(ctx, project, env); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: %s %s is not locked", ErrNotFound, project, env)
		}
		return err
	}
	e.audit(ctx, a, "unlock", scope, detail)
	return nil
}

func (e *Engine) lockScope(a Actor, project, env string) (Environment, error) {
	c := e.config()
	if project != "*" {
		_, envCfg, err := c.lookup(project, env)
		if err != nil {
			return Environment{}, err
		}
		return envCfg, CanDeploy(a, envCfg)
	}
	if !a.Admin {
		return Environment{}, fmt.Errorf("%w: locking every project is for admins; lock one project instead", ErrForbidden)
	}
	for _, n := range c.order {
		if en, ok := c.projects[n].Env(env); ok {
			return en, nil
		}
	}
	return Environment{}, fmt.Errorf("%w: no project has an environment %q", ErrNotFound, env)
}
