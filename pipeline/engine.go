package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Clock is the time source of the engine; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the Clock of the running system; every part of ferry
// that takes a Clock uses it when given none.
type SystemClock struct{}

func (SystemClock) Now() time.Time                         { return time.Now() }
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config is what an Engine needs.
type Config struct {
	Store    Store     // required
	Projects []Project // required: the projects ferry deploys; see Reconfigure
	// Target builds the driver of one environment of one project. Required.
	Target   func(p Project, env Environment) (Target, error)
	Resolver Resolver // required: resolves refs to commits
	// Subscribers say what the platforms are owed at each change of a
	// deploy (each transition and each unit's progress); the store keeps it
	// in the outbox. nil: nobody is told.
	Subscribers Subscribers
	// Freezes are the change freezes (see Freeze); nil: none. See
	// Reconfigure.
	Freezes []Freeze
	Clock   Clock // nil: the system clock
	Logger  *slog.Logger
	// Tick is how often, in real time, the engine looks for expired
	// approvals, queued deploys it was not told about and running deploys
	// nobody works on (it also looks whenever Kick is called). Zero means a
	// third of LeaseTTL. Deadlines themselves are read from Clock.
	Tick time.Duration
	// Owner names this replica in the leases it takes; "": a random name.
	Owner string
	// LeaseTTL is how long this replica's lease on a running deploy lasts
	// without renewal: when the replica dies, another resumes the deploy
	// within it (see Lease). Zero means DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Leader says whether this replica runs the schedules (promotions,
	// announcements, approval expiry); nil: it always does, as one ferry
	// alone on its database.
	Leader Leadership
}

// Leadership says whether this replica is the one running the schedules
// now; *Elector implements it.
type Leadership interface{ Leading() bool }

// Engine runs ferry's deploys: it takes commands from people, checks them
// against policy, stores every transition and drives the targets.
type Engine struct {
	store    Store
	conf     atomic.Pointer[configuration] // the projects and freezes loaded now
	target   func(Project, Environment) (Target, error)
	resolver Resolver
	subs     Subscribers
	clock    Clock
	log      *slog.Logger
	tick     time.Duration
	owner    string
	leaseTTL time.Duration
	leader   Leadership

	denials   denials  // refusals stored and counted, by actor
	announced sync.Map // keys of the announcements recorded

	kick    chan struct{}
	mu      sync.Mutex
	workers map[int64]*worker
	pinned  map[int64]pin // what each deploy of this replica started with
	wg      sync.WaitGroup
	ctx     context.Context // the Run context; workers derive from it
}

type worker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New checks cfg and returns an engine. Call Run to start it.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Target == nil || cfg.Resolver == nil {
		return nil, errors.New("pipeline: Store, Target and Resolver are required")
	}
	e := &Engine{
		store:    cfg.Store,
		target:   nonNil(cfg.Target),
		resolver: cfg.Resolver,
		subs:     cfg.Subscribers,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		tick:     cfg.Tick,
		owner:    cfg.Owner,
		leaseTTL: cfg.LeaseTTL,
		leader:   cfg.Leader,
		kick:     make(chan struct{}, 1),
		workers:  map[int64]*worker{},
		pinned:   map[int64]pin{},
	}
	c, err := newConfiguration(cfg.Projects, cfg.Freezes)
	if err != nil {
		return nil, err
	}
	e.conf.Store(c)
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.leaseTTL <= 0 {
		e.leaseTTL = DefaultLeaseTTL
	}
	if e.tick <= 0 {
		e.tick = e.leaseTTL / 3
	}
	if e.owner == "" {
		e.owner = RandomOwner()
	}
	return e, nil
}

// nonNil makes a target function that returns neither target nor error
// fail instead of leaving the engine a nil target.
func nonNil(f func(Project, Environment) (Target, error)) func(Project, Environment) (Target, error) {
	return func(p Project, env Environment) (Target, error) {
		t, err := f(p, env)
		if err == nil && t == nil {
			err = fmt.Errorf("no target for %s %s", p.Name, env.Name)
		}
		return t, err
	}
}

// Projects lists the projects in configuration order.
func (e *Engine) Projects() []Project { return e.config().list() }

// Run adopts running deploys nobody works on (a previous ferry, or a
// replica that died, left them), then schedules queued deploys, adopts
// deploys whose replica's lease expired, and expires approvals until ctx
// ends. It returns after every worker it started has stopped; a deploy
// stopped that way stays running in the store, and is resumed by the next
// Run or another replica once its lease expires.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	e.ctx = ctx
	e.mu.Unlock()
	defer e.wg.Wait()
	if err := e.adopt(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("pipeline: resume running deploys: %w", err)
	}
	tick := time.NewTicker(e.tick)
	defer tick.Stop()
	for {
		e.sweep(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-e.kick:
		case <-tick.C:
		}
	}
}

// Kick asks the engine to look at queued deploys and expiries now.
func (e *Engine) Kick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// adopt resumes the running deploys no worker of this replica drives and
// no other replica holds the lease of: those a stopped ferry or a dead
// replica left. Where the target cannot resume safely, the deploy is
// marked interrupted instead, for a person to resume or roll back.
func (e *Engine) adopt(ctx context.Context) error {
	ds, err := e.store.Deploys(ctx, DeployFilter{States: []State{StateRunning, StateRollingBack}, Oldest: true})
	if err != nil || len(ds) == 0 {
		return err
	}
	// One read says which deploys other replicas hold, rather than a
	// refused write each.
	ls, err := e.store.Leases(ctx)
	if err != nil {
		return err
	}
	now := e.clock.Now()
	held := map[string]bool{}
	for _, l := range ls {
		held[l.Name] = l.Owner != e.owner && now.Before(l.Expires)
	}
	for _, d := range ds {
		if e.Working(d.ID) || held[deployLease(d.ID)] {
			continue
		}
		if d.State == StateRollingBack {
			e.spawn(d.ID, e.resume("rollback", d, e.rollback))
			continue
		}
		if e.resumable(d) {
			e.spawn(d.ID, e.resume("deploy", d, e.work))
			continue
		}
		if err := e.interrupt(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// resume is fn, saying first that it resumes d: it runs only if this
// replica got the deploy's lease.
func (e *Engine) resume(what string, d Deploy, fn func(context.Context, int64)) func(context.Context, int64) {
	return func(ctx context.Context, id int64) {
		e.log.Info("resuming "+what, "deploy_id", id, "project", d.Project, "env", d.Env)
		fn(ctx, id)
	}
}

// interrupt marks a running deploy interrupted under its lease, unless
// another replica holds it.
func (e *Engine) interrupt(ctx context.Context, d Deploy) error {
	held, release, err := e.hold(ctx, deployLease(d.ID))
	if errors.Is(err, ErrConflict) {
		return nil // another replica drives it
	}
	if err != nil {
		return err
	}
	defer release(false)
	_, err = e.transition(held, d, EventInterrupt, "ferry", "ferry stopped in the middle of this deploy and its target cannot resume safely: resume it or roll it back")
	if err != nil && !errors.Is(err, ErrConflict) {
		return err
	}
	return nil
}

// Working reports whether a worker of this replica drives deploy id now.
func (e *Engine) Working(id int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.workers[id] != nil
}

// leading reports whether this replica runs the schedules.
func (e *Engine) leading() bool { return e.leader == nil || e.leader.Leading() }

func (e *Engine) resumable(d Deploy) bool {
	p, env, err := e.started(d).lookup(d.Project, d.Env)
	if err != nil {
		return false
	}
	t, err := e.target(p, env)
	if err != nil {
		return false
	}
	r, ok := t.(Resumable)
	return ok && r.Resumable()
}

// sweep resumes deploys nobody drives, and starts queued deploys whose
// environment is free; on the leader, it also moves promotions on, makes
// announcements and expires approvals whose deadline passed. Every
// replica may start a queued deploy: the transition's compare-and-swap
// lets one of them.
func (e *Engine) sweep(ctx context.Context) {
	e.sweepDenials(ctx)
	if err := e.adopt(ctx); err != nil && ctx.Err() == nil {
		e.log.Error("sweep: resume running deploys", "err", err)
	}
	now := e.clock.Now()
	c := e.config()
	if e.leading() {
		e.promote(ctx, c)
		e.announceChanges(ctx, c, now)
		e.expire(ctx, now)
	}
	queued, err := e.store.Deploys(ctx, DeployFilter{States: []State{StateQueued}, Oldest: true})
	if err != nil {
		e.log.Error("sweep: list queued", "err", err)
		return
	}
	for _, d := range queued {
		holder, err := e.holder(ctx, d.Project, d.Env)
		if err != nil {
			e.log.Error("sweep: holder", "deploy_id", d.ID, "err", err)
			continue
		}
		if holder != nil {
			continue
		}
		// A deploy queued before a freeze opened waits for it to end, and
		// its card says so.
		if fr := FrozenAt(c.freezes, d.Project, d.Env, now, d.Kind == KindRollback); fr != nil && !d.Force {
			if why := "held: " + fr.Error(); d.Reason != why {
				if err := e.store.SetReason(ctx, d.ID, StateQueued, why); err != nil {
					e.log.Error("sweep: hold", "deploy_id", d.ID, "err", err)
				} else {
					d.Reason = why
					e.changed(ctx, d)
				}
			}
			continue
		}
		if _, err := e.transition(ctx, d, EventStart, "ferry", ""); err != nil && !errors.Is(err, ErrConflict) {
			e.log.Error("sweep: start", "deploy_id", d.ID, "err", err)
		}
	}
}

// expire ends the deploys awaiting approval whose deadline passed.
func (e *Engine) expire(ctx context.Context, now time.Time) {
	waiting, err := e.store.Deploys(ctx, DeployFilter{States: []State{StateAwaitingApproval}, Oldest: true})
	if err != nil {
		e.log.Error("sweep: list awaiting approval", "err", err)
	}
	for _, d := range waiting {
		if !d.ApprovalDeadline.IsZero() && !now.Before(d.ApprovalDeadline) {
			if _, err := e.transition(ctx, d, EventExpire, "ferry", "nobody approved it in time"); err != nil && !errors.Is(err, ErrConflict) {
				e.log.Error("sweep: expire", "deploy_id", d.ID, "err", err)
			}
		}
	}
}

// holder returns the deploy that holds the environment, if any.
func (e *Engine) holder(ctx context.Context, project, env string) (*Deploy, error) {
	ds, err := e.store.Deploys(ctx, DeployFilter{Project: project, Env: env, States: []State{StateRunning, StatePaused, StateRollingBack, StateInterrupted}, Limit: 1})
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return &ds[0], nil
}

// transition stores the move of d caused by ev and performs its effects.
func (e *Engine) transition(ctx context.Context, d Deploy, ev Event, actor, reason string, update ...func(*Deploy)) (Deploy, error) {
	to, effects, err := Next(d.State, ev)
	if err != nil {
		return d, fmt.Errorf("deploy %d: %w", d.ID, err)
	}
	now := e.clock.Now()
	nd, err := e.store.Transition(ctx, Transition{DeployID: d.ID, From: d.State, To: to, Event: ev, Actor: actor, Reason: reason, At: now, Notices: e.subs.Notices}, func(x *Deploy) {
		x.Reason = reason
		if to == StateRunning && x.StartedAt.IsZero() {
			x.StartedAt = now
		}
		if to.Done() {
			x.FinishedAt = now
		}
		for _, u := range update {
			u(x)
		}
	})
	if err != nil {
		fencedOut(ctx, err)
		return d, err
	}
	e.log.Info("deploy transition", "deploy_id", nd.ID, "project", nd.Project, "env", nd.Env, "from", d.State, "to", nd.State, "event", ev, "actor", actor)
	e.unpin(nd)
	for _, eff := range effects {
		switch eff {
		case EffectStop:
			e.stop(nd.ID)
		case EffectWork:
			e.spawn(nd.ID, e.work)
		case EffectRollback:
			e.spawn(nd.ID, e.rollback)
		case EffectSchedule:
			e.Kick()
		}
	}
	return nd, nil
}

// changed writes to the outbox what a change of d that is not a
// transition owes. A failure is logged: the deploy goes on, and its next
// change owes the same cards again.
func (e *Engine) changed(ctx context.Context, d Deploy) {
	ns := e.subs.Notices(d)
	if len(ns) == 0 {
		return
	}
	if err := e.store.AddNotices(ctx, ns); err != nil && !fencedOut(ctx, err) {
		e.log.Error("outbox", "deploy_id", d.ID, "err", err)
	}
}

// spawn starts fn for a deploy once the deploy's previous worker, if any,
// has stopped, so two workers of this replica never drive one deploy; and
// under the deploy's lease, so neither do two replicas: if another replica
// holds it, fn does not run.
func (e *Engine) spawn(id int64, fn func(ctx context.Context, id int64)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	base := e.ctx
	if base == nil {
		base = context.Background()
	}
	if base.Err() != nil {
		return // shutting down: the next Run resumes it
	}
	ctx, cancel := context.WithCancel(base)
	prev := e.workers[id]
	w := &worker{cancel: cancel, done: make(chan struct{})}
	e.workers[id] = w
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(w.done)
		defer cancel()
		if prev != nil {
			<-prev.done
		}
		if ctx.Err() == nil {
			e.drive(ctx, id, fn)
		}
		e.mu.Lock()
		if e.workers[id] == w {
			delete(e.workers, id)
		}
		e.mu.Unlock()
	}()
}

// drive runs fn for deploy id under the deploy's lease.
func (e *Engine) drive(ctx context.Context, id int64, fn func(ctx context.Context, id int64)) {
	held, release, err := e.hold(ctx, deployLease(id))
	if errors.Is(err, ErrConflict) {
		e.log.Debug("deploy driven by another replica", "deploy_id", id, "err", err)
		return
	}
	if err != nil {
		e.log.Error("lease deploy", "deploy_id", id, "err", err)
		return
	}
	fn(held, id)
	d, err := e.store.Deploy(context.WithoutCancel(ctx), id)
	release(err == nil && d.State.Final())
}

// stop cancels the deploy's current worker; the next spawn waits for it.
func (e *Engine) stop(id int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if w := e.workers[id]; w != nil {
		w.cancel()
	}
}

// lookup finds an environment in the configuration loaded now.
func (e *Engine) lookup(project, env string) (Project, Environment, error) {
	return e.config().lookup(project, env)
}
