package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"
)

// A Lease is one replica's claim on a piece of work ("deploy/42", the
// schedules' "leader") until Expires. Taking a lease another replica held
// moves its Generation on, and every write made under the lease carries the
// generation it was taken with (a Fence): once the lease has moved on, the
// old holder's writes fail with ErrFenced, so a replica that was paused or
// cut off cannot write over its successor's work.
type Lease struct {
	Name       string
	Owner      string // the replica holding it
	Generation int64
	Expires    time.Time
}

// ErrFenced is what a write made under a lease that has moved on gets: the
// work belongs to another replica now.
var ErrFenced = errors.New("the lease has moved on to another replica")

// LeaseStore keeps leases; *storage.Store has it.
type LeaseStore interface {
	// AcquireLease gives owner the lease name until now+ttl if nobody
	// holds it at now, or owner does (then it is renewed, its generation
	// kept). Held by another, it fails with an error wrapping ErrConflict
	// that names the holder.
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (Lease, error)
	// RenewLease extends l to now+ttl; ErrFenced if l is no longer held
	// at its generation (it expired and another replica took it).
	RenewLease(ctx context.Context, l Lease, now time.Time, ttl time.Duration) (Lease, error)
	// ReleaseLease lets anyone take l at once; nothing if it moved on.
	ReleaseLease(ctx context.Context, l Lease) error
	// EndLease forgets l, whose work is over for good (a deploy in a
	// final state), so that leases do not pile up; nothing if it moved
	// on. A write fenced by it fails from then on.
	EndLease(ctx context.Context, l Lease) error
	// Leases lists every lease, by name.
	Leases(ctx context.Context) ([]Lease, error)
}

// DefaultLeaseTTL is how long a lease lasts without renewal: a replica
// that dies hands its deploys and the schedules to another within it. The
// holder renews at a third of it.
const DefaultLeaseTTL = 15 * time.Second

// A Fence is the lease under which a write is made: the store refuses the
// write with ErrFenced unless the lease is still at Generation.
type Fence struct {
	Lease      string
	Generation int64
}

type fenceKey struct{}

// fence is what a context carries of its lease: the fence, and how to stop
// the work under it once a write found the lease moved on.
type fence struct {
	Fence
	lost context.CancelCauseFunc // nil: nothing to stop
}

// WithFence returns ctx carrying f: every store write made with it is
// fenced by f.
func WithFence(ctx context.Context, f Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, fence{Fence: f})
}

// FenceOf returns the fence ctx carries, if any.
func FenceOf(ctx context.Context) (Fence, bool) {
	f, ok := ctx.Value(fenceKey{}).(fence)
	return f.Fence, ok
}

// fencedOut reports whether err says that the lease ctx's work is done
// under has moved on to another replica, and then stops that work: its
// next step must not run.
func fencedOut(ctx context.Context, err error) bool {
	if !errors.Is(err, ErrFenced) {
		return false
	}
	if f, ok := ctx.Value(fenceKey{}).(fence); ok && f.lost != nil {
		f.lost(err)
	}
	return true
}

// RandomOwner names a replica: its host name and a random suffix, new at
// each start, so a restarted replica is a new owner.
func RandomOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	if host == "" {
		host = "ferry"
	}
	return host + "-" + hex.EncodeToString(b)
}

// deployLease names the lease of a running deploy.
func deployLease(id int64) string { return fmt.Sprint("deploy/", id) }

// hold acquires the lease name and keeps it while the returned context
// lives: it renews it every ttl/3 (or each Tick, if that is sooner), in
// real time like the sweeps, and cancels the context when the lease
// is lost (another replica took it) or cannot be renewed before it
// expires. release ends the hold and lets another replica take the lease at
// once, or, when the work is over for good, forgets the lease. Writes made
// with the context are fenced by the lease.
func (e *Engine) hold(ctx context.Context, name string) (held context.Context, release func(over bool), err error) {
	l, err := e.store.AcquireLease(ctx, name, e.owner, e.clock.Now(), e.leaseTTL)
	if err != nil {
		return nil, nil, err
	}
	held, cancelCause := context.WithCancelCause(ctx)
	cancel := func() { cancelCause(context.Canceled) }
	held = context.WithValue(held, fenceKey{}, fence{Fence: Fence{Lease: l.Name, Generation: l.Generation}, lost: cancelCause})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		renew := time.NewTicker(min(e.tick, e.leaseTTL/3))
		defer renew.Stop()
		for {
			select {
			case <-held.Done():
				return
			case <-renew.C:
			}
			nl, err := e.store.RenewLease(context.WithoutCancel(held), l, e.clock.Now(), e.leaseTTL)
			switch {
			case err == nil:
				l = nl
			case errors.Is(err, ErrFenced):
				e.log.Warn("lease lost: another replica holds it now; stopping", "lease", name, "generation", l.Generation)
				cancel()
				return
			case !e.clock.Now().Before(l.Expires):
				e.log.Error("lease expired: it could not be renewed; stopping", "lease", name, "err", err)
				cancel()
				return
			default:
				e.log.Error("renew lease", "lease", name, "err", err)
			}
		}
	}()
	release = func(over bool) {
		cancel()
		<-stopped
		end := e.store.ReleaseLease
		if over {
			end = e.store.EndLease
		}
		if err := end(context.WithoutCancel(ctx), l); err != nil {
			e.log.Error("release lease", "lease", name, "err", err)
		}
	}
	return held, release, nil
}
