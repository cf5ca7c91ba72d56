package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Request asks for a deploy.
type Request struct {
	Project string
	Env     string
	Ref     string // "" deploys the environment's default ref
	// Commit, when set, is the commit to deploy: Ref's head as the event
	// that asks saw it (a push's after, a pull request's head), which
	// must still belong to Ref (Resolver.ResolveAt); "" deploys Ref's
	// head when the request is handled.
	Commit string
	Force  bool // admins only: pass locks and ref rules; audited
	// Override, when not nil, is Env as this request sees it: the
	// configured environment narrowed, by a repository's .ferry.yaml for
	// a request from its forge. It must pass Narrows. The ref must then
	// pass its rules and the configured ones; its strategy is kept with
	// the deploy and runs it.
	Override *Environment
}

// Request checks a deploy request against policy and stores it. The deploy
// comes back awaiting approval or queued. A request that names something
// that does not exist is an error and leaves no trace; one that policy
// refuses is stored as denied, with the reason, so the audit shows who
// tried, and the error says why.
func (e *Engine) Request(ctx context.Context, a Actor, r Request) (Deploy, error) {
	conf := e.config()
	p, configured, err := conf.lookup(r.Project, r.Env)
	if err != nil {
		return Deploy{}, err
	}
	if err := checkLen("ref", r.Ref, MaxRef); err != nil {
		return Deploy{}, err
	}
	env := configured
	if r.Override != nil {
		if err := Narrows(*r.Override, configured); err != nil {
			return Deploy{}, err
		}
		env = *r.Override
	}
	ref := r.Ref
	if ref == "" {
		ref = env.DefaultRef
	}
	d := Deploy{
		Project: p.Name, Env: env.Name, Kind: KindDeploy, Ref: ref,
		Requester: a.Name, Force: r.Force, ApprovalsRequired: env.Approvals.Required,
	}
	if !reflect.DeepEqual(env.Strategy, configured.Strategy) {
		d.Strategy = &env.Strategy
	}
	if err := e.mayForce(a, r.Force); err != nil {
		return e.deny(ctx, a, d, err)
	}
	if err := CanDeploy(a, env); err != nil {
		return e.deny(ctx, a, d, err)
	}
	if ref == "" {
		return Deploy{}, fmt.Errorf("%w: say which ref to deploy: deploy %s <ref> to %s (%s)", ErrInvalid, p.Name, env.Name, env.describeRules())
	}
	c, err := e.resolve(ctx, p.Repo, ref, r.Commit)
	if err != nil {
		return Deploy{}, fmt.Errorf("deploy %s %s: %w", p.Name, ref, err)
	}
	d.Commit, d.Version, d.CommittedAt = c.Hash, versionOf(c), c.Time
	if err := e.checkLock(ctx, a, r.Project, r.Env, r.Force); err != nil {
		return e.deny(ctx, a, d, err)
	}
	frozen, err := conf.checkFreeze(p.Name, env.Name, e.clock.Now(), false, r.Force)
	if err != nil {
		return e.deny(ctx, a, d, err)
	}
	for _, rules := range []Environment{env, configured} {
		if ok, why := rules.Allows(c); !ok && !r.Force {
			return e.deny(ctx, a, d, fmt.Errorf("%w: %s is %s; %s", ErrForbidden, ref, describeCommit(c), why))
		}
	}
	cur, err := e.current(ctx, p.Name, env.Name)
	if err != nil {
		return Deploy{}, err
	}
	d.PreviousVersion, d.PreviousRelease = cur.Version, cur.Release
	return e.submit(ctx, a, d, env, "deploy", fmt.Sprintf("%s (%s)", d.Version, ref)+forcedThrough(frozen))
}

// forcedThrough is what the audit adds of a freeze a change was forced
// through; "" for none.
func forcedThrough(fr *Frozen) string {
	if fr == nil {
		return ""
	}
	return fmt.Sprintf(" through freeze %s (%s until %s)", fr.Freeze.Name, fr.Env, fr.End.UTC().Format(time.RFC3339))
}

// resolve is the commit a request deploys: commit, when the event that
// asks names one, checked to belong to ref; otherwise ref's head now.
func (e *Engine) resolve(ctx context.Context, repo, ref, commit string) (Commit, error) {
	if commit == "" {
		return e.resolver.Resolve(ctx, repo, ref)
	}
	return e.resolver.ResolveAt(ctx, repo, ref, commit)
}

// deny stores a refused request as a denied deploy and returns why it was
// refused. Requests from nobody ferry knows leave no deploy, only their
// entry in the audit log. Beyond deniedPerMinute refusals of one actor in
// a minute, a refusal leaves neither: the audit log counts them.
func (e *Engine) deny(ctx context.Context, a Actor, d Deploy, why error) (Deploy, error) {
	if !e.mayStoreRefusal(ctx, a) {
		return Deploy{}, why
	}
	if a.Name == "" {
		e.audit(ctx, a, "deploy denied", d, why.Error())
		return Deploy{}, why
	}
	if d.Version == "" {
		d.Version = d.Ref
	}
	d.RequestKey, d.Origin = requestKey(ctx, d), OriginOf(ctx)
	if err := e.store.CreateDeploy(ctx, &d); err != nil {
		if !errors.Is(err, ErrDuplicate) { // a denial handled before says the same
			e.log.Error("store denied deploy", "project", d.Project, "env", d.Env, "err", err)
		}
		return Deploy{}, why
	}
	e.audit(ctx, a, "deploy denied", d, why.Error())
	if _, err := e.transition(ctx, d, EventDeny, a.Name, why.Error()); err != nil {
		e.log.Error("deny", "deploy_id", d.ID, "err", err)
	}
	return Deploy{}, why
}

// submit stores a new deploy and moves it on to approval or the queue.
func (e *Engine) submit(ctx context.Context, a Actor, d Deploy, env Environment, action, detail string) (Deploy, error) {
	d.RequestKey, d.Origin = requestKey(ctx, d), OriginOf(ctx)
	err := e.store.CreateDeploy(ctx, &d)
	switch {
	case errors.Is(err, ErrDuplicate):
		// The delivery that asks was handled before, or is being handled
		// now. Its deploy stands; if that handling stopped before moving it
		// on, this one does, and if the other moves it first, it stands.
		if d.State != StateRequested {
			return d, nil
		}
		return e.moveOnce(ctx, a, d, env)
	case err != nil:
		return Deploy{}, fmt.Errorf("store deploy: %w", err)
	}
	if d.Force {
		detail += " (forced)"
	}
	e.audit(ctx, a, action, d, detail)
	return e.moveOnce(ctx, a, d, env)
}

// moveOnce moves d on; if another handling of its delivery moved it first,
// d is where that one moved it.
func (e *Engine) moveOnce(ctx context.Context, a Actor, d Deploy, env Environment) (Deploy, error) {
	nd, err := e.moveOn(ctx, a, d, env)
	if d.RequestKey != "" && errors.Is(err, ErrConflict) {
		return e.store.Deploy(ctx, d.ID)
	}
	return nd, err
}

// moveOn moves a requested deploy on to approval or the queue.
func (e *Engine) moveOn(ctx context.Context, a Actor, d Deploy, env Environment) (Deploy, error) {
	if d.Release == "" {
		d.Release = strconv.FormatInt(d.ID, 10) // a deploy's release is named after it
	}
	setRelease := func(x *Deploy) { x.Release = d.Release }
	// A reason given at the request (a promotion's) stays in front.
	because := func(s string) string {
		if d.Reason == "" {
			return s
		}
		return strings.TrimSuffix(d.Reason+"; "+s, "; ")
	}
	if d.ApprovalsRequired > 0 {
		deadline := e.clock.Now().Add(env.Approvals.Expire)
		return e.transition(ctx, d, EventAwaitApproval, a.Name, because(fmt.Sprintf("waiting for %d approval(s)", d.ApprovalsRequired)), setRelease, func(x *Deploy) {
			if env.Approvals.Expire > 0 {
				x.ApprovalDeadline = deadline
			}
		})
	}
	return e.enqueue(ctx, d, EventEnqueue, a.Name, because(""), setRelease)
}

// enqueue queues d and cancels the older queued deploys it supersedes.
func (e *Engine) enqueue(ctx context.Context, d Deploy, ev Event, actor, reason string, update ...func(*Deploy)) (Deploy, error) {
	older, err := e.store.Deploys(ctx, DeployFilter{Project: d.Project, Env: d.Env, States: []State{StateQueued}})
	if err != nil {
		return d, err
	}
	nd, err := e.transition(ctx, d, ev, actor, reason, update...)
	if err != nil {
		return nd, err
	}
	for _, o := range older {
		if o.ID < nd.ID {
			_, err := e.transition(ctx, o, EventCancel, "ferry", fmt.Sprintf("superseded by deploy %d (%s)", nd.ID, nd.Version))
			if err != nil && !errors.Is(err, ErrConflict) {
				e.log.Error("supersede", "deploy_id", o.ID, "err", err)
			}
		}
	}
	return nd, nil
}

// current is what an environment runs now, as far as ferry knows.
type current struct {
	Release string
	Version string
	Deploy  *Deploy
}

// current returns the last succeeded deploy of an environment.
func (e *Engine) current(ctx context.Context, project, env string) (current, error) {
	ds, err := e.store.Deploys(ctx, DeployFilter{Project: project, Env: env, States: []State{StateSucceeded}, Limit: 1})
	if err != nil || len(ds) == 0 {
		return current{}, err
	}
	return current{Release: ds[0].Release, Version: ds[0].Version, Deploy: &ds[0]}, nil
}

// Rollback rolls an environment back. When a deploy holds the environment,
// or the last deploy failed, that deploy's updated units return to their
// previous release. Otherwise a new rollback deploy switches every unit to
// release (default: the release before the current one). Rollbacks need no
// approval: they return to something that was approved before.
func (e *Engine) Rollback(ctx context.Context, a Actor, project, envName, release string, force bool) (Deploy, error) {
	c := e.config()
	p, env, err := c.lookup(project, envName)
	if err != nil {
		return Deploy{}, err
	}
	if err := checkLen("release", release, MaxRef); err != nil {
		return Deploy{}, err
	}
	scope := Deploy{Project: p.Name, Env: env.Name}
	if err := e.mayForce(a, force); err != nil {
		return Deploy{}, e.refused(ctx, a, "rollback", scope, err)
	}
	if err := CanDeploy(a, env); err != nil {
		return Deploy{}, e.refused(ctx, a, "rollback", scope, err)
	}
	if release == "" {
		if d, ok, err := e.inFlight(ctx, project, envName); err != nil || ok {
			if err != nil {
				return Deploy{}, err
			}
			nd, err := e.transition(ctx, d, EventRollback, a.Name, "rolled back by "+a.Name)
			if err == nil {
				e.audit(ctx, a, "rollback", nd, "deploy "+strconv.FormatInt(d.ID, 10))
			}
			return nd, err
		}
	}
	if err := e.checkLock(ctx, a, project, envName, force); err != nil {
		return Deploy{}, e.refused(ctx, a, "rollback", scope, err)
	}
	if fr, err := c.checkFreeze(p.Name, env.Name, e.clock.Now(), true, force); err != nil {
		return Deploy{}, e.refused(ctx, a, "rollback", scope, err)
	} else if fr != nil {
		e.audit(ctx, a, "freeze forced", scope, "rollback"+forcedThrough(fr))
	}
	cur, err := e.current(ctx, project, envName)
	if err != nil {
		return Deploy{}, err
	}
	if release == "" {
		if cur.Deploy == nil || cur.Deploy.PreviousRelease == "" {
			return Deploy{}, fmt.Errorf("%w: %s %s has no earlier release to roll back to", ErrNotFound, project, envName)
		}
		release = cur.Deploy.PreviousRelease
	}
	version, err := e.versionOfRelease(ctx, project, envName, release)
	if err != nil {
		return Deploy{}, err
	}
	d := Deploy{
		Project: p.Name, Env: env.Name, Kind: KindRollback,
		Ref: "release " + release, Version: version, Release: release,
		PreviousVersion: cur.Version, PreviousRelease: cur.Release,
		Requester: a.Name, Force: force,
	}
	if rel, err := e.releaseDeploy(ctx, release); err == nil {
		d.Commit = rel.Commit
	}
	return e.submit(ctx, a, d, env, "rollback", "to release "+release+" ("+version+")")
}

// inFlight returns the deploy a bare rollback acts on: the one holding the
// environment, or the latest deploy if it failed.
func (e *Engine) inFlight(ctx context.Context, project, env string) (Deploy, bool, error) {
	h, err := e.holder(ctx, project, env)
	if err != nil {
		return Deploy{}, false, err
	}
	if h != nil {
		return *h, h.State != StateRollingBack, nil
	}
	ds, err := e.store.Deploys(ctx, DeployFilter{Project: project, Env: env, States: []State{StateSucceeded, StateFailed, StateRolledBack}, Limit: 1})
	if err != nil || len(ds) == 0 {
		return Deploy{}, false, err
	}
	return ds[0], ds[0].State == StateFailed, nil
}

func (e *Engine) releaseDeploy(ctx context.Context, release string) (Deploy, error) {
	id, err := strconv.ParseInt(release, 10, 64)
	if err != nil {
		return Deploy{}, fmt.Errorf("%w: %q is not a release number", ErrInvalid, release)
	}
	return e.store.Deploy(ctx, id)
}

// versionOfRelease is the version of a release env keeps: a deploy of
// project that succeeded in env. Any other release, a release of another
// environment above all, is refused, with the releases env keeps: a
// rollback needs no approval because it returns to something approved
// there before.
func (e *Engine) versionOfRelease(ctx context.Context, project, env, release string) (string, error) {
	d, err := e.releaseDeploy(ctx, release)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("rollback to release %s: %w", release, err)
	}
	why := ""
	switch {
	case err != nil:
		why = fmt.Sprintf("there is no deploy #%s", release)
	case d.Project != project || d.Env != env:
		why = fmt.Sprintf("deploy #%d is %s's, not %s's", d.ID, d.Env, env)
		if d.Project != project {
			why = fmt.Sprintf("deploy #%d is %s %s's, not %s %s's", d.ID, d.Project, d.Env, project, env)
		}
	case d.Kind != KindDeploy:
		why = fmt.Sprintf("deploy #%d is a %s, not a release", d.ID, d.Kind)
	case d.State != StateSucceeded:
		why = fmt.Sprintf("deploy #%d did not succeed in %s (it is %s)", d.ID, env, strings.ReplaceAll(string(d.State), "_", " "))
	default:
		return d.Version, nil
	}
	kept, err := e.kept(ctx, project, env)
	if err != nil {
		return "", fmt.Errorf("rollback to release %s: %w", release, err)
	}
	return "", fmt.Errorf("%w: %s; %s", ErrNotFound, why, kept)
}

// keptShown is how many of an environment's releases a refused rollback
// lists.
const keptShown = 5

// kept says which releases env keeps, the last keptShown deploys that
// succeeded there, and how to roll back to the one before the newest.
func (e *Engine) kept(ctx context.Context, project, env string) (string, error) {
	ds, err := e.store.Deploys(ctx, DeployFilter{Project: project, Env: env, States: []State{StateSucceeded}, Limit: 100})
	if err != nil {
		return "", err
	}
	var ids []string
	for _, d := range ds { // newest first
		if d.Kind == KindDeploy && len(ids) < keptShown {
			ids = append(ids, "#"+strconv.FormatInt(d.ID, 10))
		}
	}
	switch len(ids) {
	case 0:
		return fmt.Sprintf("%s has no release of its own to roll back to", env), nil
	case 1:
		return fmt.Sprintf("%s keeps only %s", env, ids[0]), nil
	}
	slices.Reverse(ids)
	list := strings.Join(ids[:len(ids)-1], ", ") + " and " + ids[len(ids)-1]
	return fmt.Sprintf("%s keeps %s: rollback %s %s to %s", env, list, project, env, strings.TrimPrefix(ids[len(ids)-2], "#")), nil
}

func (e *Engine) mayForce(a Actor, force bool) error {
	if force && !a.Admin {
		return fmt.Errorf("%w: force is for admins only", ErrForbidden)
	}
	return nil
}

func (e *Engine) checkLock(ctx context.Context, a Actor, project, env string, force bool) error {
	locks, err := e.store.Locks(ctx)
	if err != nil {
		return fmt.Errorf("read locks: %w", err)
	}
	return CheckLock(a, locks, project, env, force, e.clock.Now())
}

// requestKey keys what a delivery asks for (ctx's, see WithDelivery), so
// that the store creates it once; "" outside a delivery.
func requestKey(ctx context.Context, d Deploy) string {
	delivery := DeliveryOf(ctx)
	if delivery == "" {
		return ""
	}
	return delivery + " " + d.Project + "/" + d.Env + " " + string(d.Kind)
}

func (e *Engine) audit(ctx context.Context, a Actor, action string, d Deploy, detail string) {
	err := e.store.Audit(ctx, AuditEntry{At: e.clock.Now(), Actor: a.Name, Action: action, Project: d.Project, Env: d.Env, DeployID: d.ID, Detail: detail})
	if err != nil {
		e.log.Error("audit", "deploy_id", d.ID, "err", err)
	}
}

func versionOf(c Commit) string {
	short := c.Hash
	if len(short) > 7 {
		short = short[:7]
	}
	switch {
	case c.Tag != "":
		return c.Tag
	case c.Branch != "":
		return c.Branch + "@" + short
	}
	return short
}

func describeCommit(c Commit) string {
	switch {
	case c.Tag != "":
		return "a tag"
	case c.Branch != "":
		return "a branch"
	}
	return "a bare commit"
}

// Promote deploys what from runs to env: the same commit, version and ref,
// through env's rules, approvals and locks.
func (e *Engine) Promote(ctx context.Context, a Actor, project, from, env string, force bool) (Deploy, error) {
	c := e.config()
	if _, _, err := c.lookup(project, from); err != nil {
		return Deploy{}, err
	}
	p, to, err := c.lookup(project, env)
	if err != nil {
		return Deploy{}, err
	}
	scope := Deploy{Project: p.Name, Env: to.Name}
	if err := e.mayForce(a, force); err != nil {
		return Deploy{}, e.refused(ctx, a, "promote", scope, err)
	}
	if err := CanDeploy(a, to); err != nil {
		return Deploy{}, e.refused(ctx, a, "promote", scope, err)
	}
	if err := e.mayPromoteInto(ctx, c, a, p.Name, from, to.Name, force); err != nil {
		return Deploy{}, err
	}
	src, err := e.current(ctx, project, from)
	if err != nil {
		return Deploy{}, err
	}
	if src.Deploy == nil {
		return Deploy{}, fmt.Errorf("%w: %s %s has no successful deploy to promote", ErrNotFound, project, from)
	}
	return e.promoteDeploy(ctx, a, p, from, to, *src.Deploy, "", force)
}

// mayPromoteInto refuses a promotion into a locked or frozen environment,
// unless an admin forces it (audited with the freeze).
func (e *Engine) mayPromoteInto(ctx context.Context, c *configuration, a Actor, project, from, env string, force bool) error {
	scope := Deploy{Project: project, Env: env}
	if err := e.checkLock(ctx, a, project, env, force); err != nil {
		return e.refused(ctx, a, "promote", scope, err)
	}
	if fr, err := c.checkFreeze(project, env, e.clock.Now(), false, force); err != nil {
		return e.refused(ctx, a, "promote", scope, err)
	} else if fr != nil {
		e.audit(ctx, a, "freeze forced", scope, "promote from "+from+forcedThrough(fr))
	}
	return nil
}

// promoteDeploy requests the deploy of what s deployed in from to env,
// with note as the reason it was asked for ("" for none), once
// mayPromoteInto allowed it.
func (e *Engine) promoteDeploy(ctx context.Context, a Actor, p Project, from string, to Environment, s Deploy, note string, force bool) (Deploy, error) {
	scope := Deploy{Project: p.Name, Env: to.Name}
	var err error
	if s.Kind == KindRollback {
		if s, err = e.releaseDeploy(ctx, s.Release); err != nil {
			return Deploy{}, err
		}
	}
	c := Commit{Hash: s.Commit}
	switch {
	case s.Version == s.Ref:
		c.Tag = s.Ref
	case strings.HasPrefix(s.Version, s.Ref+"@"):
		c.Branch = s.Ref
	}
	if ok, why := to.Allows(c); !ok && !force {
		return Deploy{}, e.refused(ctx, a, "promote", scope, fmt.Errorf("%w: %s runs %s, which is %s; %s", ErrForbidden, from, s.Version, describeCommit(c), why))
	}
	cur, err := e.current(ctx, p.Name, to.Name)
	if err != nil {
		return Deploy{}, err
	}
	d := Deploy{
		Project: p.Name, Env: to.Name, Kind: KindDeploy,
		Ref: s.Ref, Commit: s.Commit, Version: s.Version, CommittedAt: s.CommittedAt,
		PreviousVersion: cur.Version, PreviousRelease: cur.Release,
		Requester: a.Name, Force: force, Reason: note,
		ApprovalsRequired: to.Approvals.Required,
	}
	return e.submit(ctx, a, d, to, "promote", fmt.Sprintf("%s from %s", s.Version, from))
}
