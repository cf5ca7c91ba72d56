package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// InboxStore keeps an inbox's deliveries; *storage.Store has it.
type InboxStore interface {
	// Receive stores d before it is acknowledged; lease > 0 claims it for
	// the caller.
	Receive(ctx context.Context, d pipeline.Delivery, lease time.Duration) (pipeline.Receipt, error)
	// ClaimDeliveries hands out up to limit owed deliveries nobody holds.
	ClaimDeliveries(ctx context.Context, platform string, limit int, lease time.Duration) ([]pipeline.Delivery, error)
	FinishDelivery(ctx context.Context, platform, id, outcome string) error
}

// InboxConfig is what an Inbox needs.
type InboxConfig struct {
	Platform string     // required: "github", "slack", …
	Store    InboxStore // required
	// Handle acts on one delivery and returns its outcome in words, which
	// the store keeps. Its context carries the delivery (see
	// pipeline.WithDelivery), so that what the engine creates for it is
	// created once even if the delivery is handled again. Required.
	Handle func(ctx context.Context, d pipeline.Delivery) string
	// Workers handle deliveries at once; 0 means 8.
	Workers int
	// Queue is how many acknowledged deliveries wait in memory for a
	// worker; beyond it they wait in the store. 0 means 256.
	Queue int
	// Timeout bounds one handling; its context outlives Run's by up to
	// this, so that what was begun before shutdown ends. A handling cut
	// off by it leaves the delivery owed, to be handled again. 0 means 60 s.
	Timeout time.Duration
	// Every is how often, in real time, the inbox looks in the store for
	// owed deliveries nobody handles (it also looks when Run starts and
	// when its queue had overflowed and has room again). 0 means 30 s.
	Every  time.Duration
	Logger *slog.Logger // nil: discard
}

// maxHandlings is how many handlings of one delivery may begin; one cut
// off that often (it crashes ferry, say) is given up.
const maxHandlings = 5

// finishTimeout bounds writing a delivery's outcome.
const finishTimeout = 10 * time.Second

// Inbox stores each delivery of one platform before it is acknowledged and
// handles it on the goroutines its Run owns, marking it processed when its
// handling ends. What was acknowledged and not processed — ferry stopped or
// crashed, or the queue was full — is handled from the store when Run
// starts and then periodically. The store hands a delivery to one worker
// at a time, and the engine keys what a delivery creates, so a delivery
// handled twice has its effect once.
type Inbox struct {
	cfg   InboxConfig
	lease time.Duration
	log   *slog.Logger

	slots chan struct{}          // a slot per delivery queued or being handled
	queue chan pipeline.Delivery // claimed, waiting for a worker
	wake  chan struct{}          // look in the store now

	mu       sync.Mutex
	running  bool
	inflight map[string]bool // IDs queued or being handled here
}

// NewInbox checks cfg and returns an inbox; call Run to handle deliveries.
func NewInbox(cfg InboxConfig) (*Inbox, error) {
	if cfg.Platform == "" || cfg.Store == nil || cfg.Handle == nil {
		return nil, errors.New("inbox: Platform, Store and Handle are required")
	}
	cfg.Workers = cmpOr(cfg.Workers, 8)
	cfg.Queue = cmpOr(cfg.Queue, 256)
	cfg.Timeout = cmpOr(cfg.Timeout, 60*time.Second)
	cfg.Every = cmpOr(cfg.Every, 30*time.Second)
	in := &Inbox{cfg: cfg, log: cfg.Logger, inflight: map[string]bool{},
		// A claim outlasts a wait in the queue and a handling.
		lease: 10*time.Minute + cfg.Timeout,
		slots: make(chan struct{}, cfg.Queue), queue: make(chan pipeline.Delivery, cfg.Queue),
		wake: make(chan struct{}, 1)}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	return in, nil
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Accepting reports whether Accept would take a delivery now: Run is
// running.
func (in *Inbox) Accepting() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.running
}

// Accept stores a delivery before the caller acknowledges it and says what
// it is; a new one is handled after, here or, when the queue is full or
// Run has not started (or has stopped), from the store. An error means the
// delivery is not stored: answer the platform with an error so that it
// retries.
func (in *Inbox) Accept(ctx context.Context, d pipeline.Delivery) (pipeline.Receipt, error) {
	var lease time.Duration
	if in.Accepting() {
		select {
		case in.slots <- struct{}{}:
			lease = in.lease
		default: // full: the store keeps it until a worker is free
		}
	}
	d.Platform = in.cfg.Platform
	r, err := in.cfg.Store.Receive(ctx, d, lease)
	switch {
	case err == nil && r == pipeline.Received && lease > 0:
		d.Attempts = 1
		if !in.enqueue(d) {
			<-in.slots // stopped meanwhile: the next Run handles it
		}
	case lease > 0:
		<-in.slots
	case err == nil && r == pipeline.Received:
		in.kick()
	}
	if err != nil {
		return 0, fmt.Errorf("inbox: %w", err)
	}
	return r, nil
}

// enqueue hands a claimed delivery, whose slot is taken, to the workers.
func (in *Inbox) enqueue(d pipeline.Delivery) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.running || in.inflight[d.ID] {
		return false
	}
	in.inflight[d.ID] = true
	in.queue <- d // never blocks: there is a slot for it
	return true
}

func (in *Inbox) kick() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// Run handles deliveries until ctx ends: first what the store owes, then
// what Accept takes. When ctx ends it takes no more, handles those queued
// (each within Timeout), and returns; what is still owed in the store is
// handled by the next Run.
func (in *Inbox) Run(ctx context.Context) error {
	in.mu.Lock()
	if in.running {
		in.mu.Unlock()
		return errors.New("inbox: Run called twice")
	}
	in.running = true
	in.mu.Unlock()
	var wg sync.WaitGroup
	for range in.cfg.Workers {
		wg.Go(func() { in.work(ctx) })
	}
	tick := time.NewTicker(in.cfg.Every)
	defer tick.Stop()
	for {
		in.sweep(ctx)
		select {
		case <-ctx.Done():
		case <-in.wake:
			continue
		case <-tick.C:
			continue
		}
		break
	}
	in.mu.Lock()
	in.running = false
	in.mu.Unlock()
	wg.Wait()
	return nil
}

// sweep claims owed deliveries from the store while there is room for
// them in the queue.
func (in *Inbox) sweep(ctx context.Context) {
	for ctx.Err() == nil {
		n := 0
	reserve:
		for n < in.cfg.Queue {
			select {
			case in.slots <- struct{}{}:
				n++
			default:
				break reserve
			}
		}
		if n == 0 {
			return // full; a worker that finishes looks again
		}
		ds, err := in.cfg.Store.ClaimDeliveries(ctx, in.cfg.Platform, n, in.lease)
		if err != nil {
			in.release(n)
			if ctx.Err() == nil {
				in.log.ErrorContext(ctx, in.cfg.Platform+": inbox: claim owed deliveries", "platform", in.cfg.Platform, "err", err)
			}
			return
		}
		for _, d := range ds {
			if in.enqueue(d) {
				n--
			}
		}
		in.release(n)
		if len(ds) == 0 {
			return
		}
		// Debug: under load this is every batch; ferry_inbox_pending shows the backlog.
		in.log.DebugContext(ctx, in.cfg.Platform+": handling owed deliveries from the store", "platform", in.cfg.Platform, "count", len(ds))
	}
}

func (in *Inbox) release(n int) {
	for range n {
		<-in.slots
	}
}

// work handles queued deliveries until ctx ends, and then those still
// queued.
func (in *Inbox) work(ctx context.Context) {
	for {
		select {
		case d := <-in.queue:
			in.done(ctx, d)
		case <-ctx.Done():
			for {
				select {
				case d := <-in.queue:
					in.done(ctx, d)
				default:
					return
				}
			}
		}
	}
}

// done handles a queued delivery and frees its slot.
func (in *Inbox) done(ctx context.Context, d pipeline.Delivery) {
	in.handle(ctx, d)
	in.mu.Lock()
	delete(in.inflight, d.ID)
	in.mu.Unlock()
	full := len(in.slots) == cap(in.slots)
	<-in.slots
	if full { // Accept may have left deliveries in the store
		in.kick()
	}
}

// handle handles one delivery and marks it processed, unless ferry is
// stopping and its handling was cut off: then it stays owed.
func (in *Inbox) handle(runCtx context.Context, d pipeline.Delivery) {
	log := in.log.With("platform", d.Platform, "delivery", d.ID)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(runCtx), in.cfg.Timeout)
	defer cancel()
	var outcome string
	if d.Attempts > maxHandlings {
		outcome = fmt.Sprintf("given up: %d handlings were cut off", d.Attempts-1)
		log.ErrorContext(ctx, d.Platform+": inbox: giving up a delivery whose handling never ends", "attempts", d.Attempts-1)
	} else {
		if d.Attempts > 1 {
			log.InfoContext(ctx, d.Platform+": handling a delivery again: its last handling was cut off", "attempts", d.Attempts)
		}
		outcome = in.run(pipeline.WithDelivery(ctx, d.Platform+"/"+d.ID), log, d)
		if ctx.Err() != nil {
			// Cut off: it stays owed and claimed, and is handled again when
			// its lease ends or by the next Run.
			log.WarnContext(ctx, d.Platform+": inbox: a handling ran past its time; the delivery stays owed", "timeout", in.cfg.Timeout, "attempts", d.Attempts)
			return
		}
	}
	// The outcome is written on a budget of its own: a handling that ended
	// just in time is still marked processed.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(runCtx), finishTimeout)
	defer fcancel()
	if err := in.cfg.Store.FinishDelivery(fctx, d.Platform, d.ID, outcome); err != nil {
		log.ErrorContext(ctx, d.Platform+": inbox: mark a delivery processed", "err", err)
	}
}

// run calls Handle; a panic is logged and is the delivery's outcome.
func (in *Inbox) run(ctx context.Context, log *slog.Logger, d pipeline.Delivery) (outcome string) {
	defer func() {
		if p := recover(); p != nil {
			log.ErrorContext(ctx, d.Platform+": inbox: handling panicked", "panic", p, "stack", string(debug.Stack()))
			outcome = "failed: internal error"
		}
	}()
	return in.cfg.Handle(ctx, d)
}
