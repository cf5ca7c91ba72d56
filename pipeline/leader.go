package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// LeaderLease names the lease of the replica that runs the schedules.
const LeaderLease = "leader"

// ErrNotLeader is what IsLeader says on a replica that does not run the
// schedules now.
var ErrNotLeader = errors.New("another replica runs the schedules")

// An Elector makes one replica of those sharing a database the leader,
// the one that runs the schedules (digests, promotions, announcements,
// approval expiry, GitHub's redelivery scan), through a lease in the
// database: the leader renews it every ttl/3; when it stops doing so for
// ttl, another replica takes it. It is a gocron Elector (IsLeader) and a
// Leadership (Leading).
type Elector struct {
	store LeaseStore
	owner string
	ttl   time.Duration
	clock Clock
	log   *slog.Logger

	mu     sync.Mutex
	lease  Lease // held while Expires is ahead
	onLead []func(context.Context)
	leads  sync.WaitGroup // the onLead calls under way
}

// NewElector returns an elector for owner; Run takes part in elections.
// A zero ttl means DefaultLeaseTTL, a nil clock the system clock.
func NewElector(store LeaseStore, owner string, ttl time.Duration, clock Clock, log *slog.Logger) *Elector {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if clock == nil {
		clock = SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Elector{store: store, owner: owner, ttl: ttl, clock: clock, log: log}
}

// OnLead adds fn to what runs, in a goroutine of its own, each time this
// replica becomes the leader (to catch up with what was due while nobody
// led). Call it before Campaign and Run.
func (el *Elector) OnLead(fn func(context.Context)) { el.onLead = append(el.onLead, fn) }

// Run tries to take or keep the lease every ttl/3 until ctx ends, then
// waits for the OnLead calls under way and gives the lease up, so that
// another replica leads at once.
func (el *Elector) Run(ctx context.Context) error {
	defer el.leads.Wait()
	for {
		el.Campaign(ctx)
		select {
		case <-ctx.Done():
			el.mu.Lock()
			l := el.lease
			el.lease = Lease{}
			el.mu.Unlock()
			if l.Generation != 0 {
				return el.store.ReleaseLease(context.WithoutCancel(ctx), l)
			}
			return nil
		case <-el.clock.After(el.ttl / 3):
		}
	}
}

// Campaign takes the lease, or renews it, once. Run campaigns; a caller
// may campaign once before it starts what asks Leading, so that the leader
// knows it from the start.
func (el *Elector) Campaign(ctx context.Context) {
	now := el.clock.Now()
	el.mu.Lock()
	held := el.lease
	el.mu.Unlock()
	var l Lease
	var err error
	if held.Generation != 0 {
		l, err = el.store.RenewLease(ctx, held, now, el.ttl)
	}
	if held.Generation == 0 || errors.Is(err, ErrFenced) {
		if err != nil {
			el.log.Warn("no longer the leader: another replica took the lease")
		}
		l, err = el.store.AcquireLease(ctx, LeaderLease, el.owner, now, el.ttl)
	}
	switch {
	case err == nil:
		el.mu.Lock()
		el.lease = l
		el.mu.Unlock()
		if held.Generation != l.Generation {
			el.log.Info("leading: this replica runs the schedules", "generation", l.Generation)
			for _, fn := range el.onLead {
				el.leads.Go(func() { fn(ctx) })
			}
		}
	case errors.Is(err, ErrConflict):
		el.mu.Lock()
		el.lease = Lease{}
		el.mu.Unlock()
	case ctx.Err() == nil:
		// The database is out of reach: the lease stays held until it
		// expires, then Leading says no.
		el.log.Error("leader election", "err", err)
	}
}

// Leading reports whether this replica holds the leader's lease now.
func (el *Elector) Leading() bool {
	el.mu.Lock()
	defer el.mu.Unlock()
	return el.lease.Generation != 0 && el.clock.Now().Before(el.lease.Expires)
}

// IsLeader implements gocron.Elector: nil on the leader.
func (el *Elector) IsLeader(context.Context) error {
	if el.Leading() {
		return nil
	}
	return fmt.Errorf("replica %s: %w", el.owner, ErrNotLeader)
}
