package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Outgoing is a notice as its sink delivers it, with the deploy it is about
// and that deploy's card as they are now: a notice delivered late says what
// is true when it is delivered, not what was true when it was owed.
type Outgoing struct {
	pipeline.Notice
	Deploy pipeline.Deploy // zero when the notice is about no deploy
	Card   Card            // zero when the notice is about no deploy
}

// Sink delivers the notices of one platform. ref is what the notice's
// destination made on the platform before (a Slack card's channel and ts,
// a comment ID; "" for nothing yet); Deliver returns what it made or edited,
// which the outbox keeps for the next notice of the destination. An error
// made by RetryAfter or Permanent says when, or whether, to try again.
type Sink interface {
	Deliver(ctx context.Context, o Outgoing, ref string) (string, error)
}

// Pacer is a sink that edits one destination at most once per Pace (Slack
// allows about one chat.update a second per message). Notices that come
// meanwhile fold into one edit.
type Pacer interface {
	Pace() time.Duration
}

// OutboxStore keeps the outbox; *storage.Store has it.
type OutboxStore interface {
	// ClaimNotices hands out notices due at now, each the first of its
	// destination, claimed for lease.
	ClaimNotices(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]pipeline.Notice, error)
	DeliveredNotice(ctx context.Context, n pipeline.Notice, ref string) error
	FailedNotice(ctx context.Context, id int64, lastErr string, notBefore time.Time, dead bool) error
	DeferNotice(ctx context.Context, id int64, until time.Time) error
	PauseNotices(ctx context.Context, platform string, until time.Time) error
	NoticeRef(ctx context.Context, platform, dest string) (string, error)
	NextNoticeDue(ctx context.Context) (time.Time, bool, error)
}

// DispatcherConfig is what a Dispatcher needs.
type DispatcherConfig struct {
	Store OutboxStore // required
	Bot   *Bot        // required: the deploys and cards notices are about
	// Sinks deliver each platform's notices. A notice of a platform with no
	// sink (one removed from ferry.yaml) is given up at once.
	Sinks map[string]Sink
	// Wake is signalled when notices are added (storage.Store.Noticed);
	// nil: the dispatcher looks every Every only.
	Wake <-chan struct{}
	// GiveUp is how long a notice is retried before it is marked dead;
	// 0 means 24 hours.
	GiveUp time.Duration
	// Workers deliver notices of different destinations at once; 0 means 8.
	Workers int
	// Every is the longest the dispatcher waits, in real time, before it
	// looks at the outbox again; 0 means 30 s.
	Every  time.Duration
	Clock  pipeline.Clock // nil: the system clock; for backoff, pauses, give-up
	Logger *slog.Logger   // nil: discard
}

// Backoff of a notice that failed: it doubles from minBackoff to
// maxBackoff. A delivery is bounded by deliverTimeout.
const (
	minBackoff     = time.Second
	maxBackoff     = 5 * time.Minute
	deliverTimeout = 30 * time.Second
	noticeLease    = 2 * deliverTimeout
)

// Dispatcher delivers the outbox: notices of one destination in order and
// one at a time, of different destinations at once; a failure is retried
// with backoff, a platform's Retry-After holds all of its notices (in the
// store, so a restart waits too), and a notice that has failed for GiveUp
// is marked dead with its last error, for an admin to see and retry.
type Dispatcher struct {
	cfg DispatcherConfig
	log *slog.Logger

	mu     sync.Mutex
	paused map[string]time.Time // platform → held until
	calm   map[string]time.Time // platform+dest → when a Pacer's destination may be edited again; only those edited a moment ago
}

// NewDispatcher checks cfg and returns a dispatcher; call Run.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Store == nil || cfg.Bot == nil {
		return nil, errors.New("bot: a dispatcher needs a Store and a Bot")
	}
	if cfg.GiveUp <= 0 {
		cfg.GiveUp = 24 * time.Hour
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Every <= 0 {
		cfg.Every = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = pipeline.SystemClock{}
	}
	d := &Dispatcher{cfg: cfg, log: cfg.Logger, paused: map[string]time.Time{}, calm: map[string]time.Time{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d, nil
}

// Run delivers notices until ctx ends, then waits for the deliveries under
// way (each bounded by 30 s) and returns.
func (d *Dispatcher) Run(ctx context.Context) error {
	done := make(chan struct{}, d.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	busy := 0
	for {
		full, failing := false, false
		if free := d.cfg.Workers - busy; free > 0 && ctx.Err() == nil {
			ns, err := d.cfg.Store.ClaimNotices(ctx, d.cfg.Clock.Now(), free, noticeLease)
			if err != nil && ctx.Err() == nil {
				d.log.ErrorContext(ctx, "outbox: claim notices", "err", err)
				failing = true
			}
			full = len(ns) == free
			for _, n := range ns {
				busy++
				wg.Go(func() {
					d.deliver(context.WithoutCancel(ctx), n)
					done <- struct{}{}
				})
			}
		}
		if full {
			select {
			case <-done:
				busy--
			case <-ctx.Done():
				return nil
			}
			continue
		}
		wait := d.cfg.Every
		if at, ok, err := d.cfg.Store.NextNoticeDue(ctx); err == nil && ok && !failing {
			wait = min(wait, max(at.Sub(d.cfg.Clock.Now()), 0))
		}
		var timer <-chan time.Time
		if wait > 0 {
			timer = d.cfg.Clock.After(wait)
		} else if busy == 0 {
			continue // due now
		}
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			busy--
		case <-d.cfg.Wake:
		case <-timer:
		}
	}
}

// deliver tries one notice once and records how it went.
func (d *Dispatcher) deliver(ctx context.Context, n pipeline.Notice) {
	log := d.log.With("platform", n.Platform, "dest", n.Dest, "notice", n.ID)
	if n.DeployID != 0 {
		log = log.With("deploy_id", n.DeployID)
	}
	defer func() {
		if r := recover(); r != nil {
			log.ErrorContext(ctx, "outbox: sink panicked", "panic", r, "stack", string(debug.Stack()))
			d.failed(ctx, log, n, fmt.Errorf("the %s sink crashed", n.Platform))
		}
	}()
	sink := d.cfg.Sinks[n.Platform]
	if sink == nil {
		d.failed(ctx, log, n, Permanent(fmt.Errorf("ferry has no %s sink: add %s back to ferry.yaml, then Retry", n.Platform, n.Platform)))
		return
	}
	if until := d.pausedUntil(n.Platform); until.After(d.cfg.Clock.Now()) {
		if err := d.cfg.Store.DeferNotice(ctx, n.ID, until); err != nil {
			log.ErrorContext(ctx, "outbox: defer notice", "err", err)
		}
		return
	}
	if !d.paced(ctx, n) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, deliverTimeout)
	defer cancel()
	o, err := d.outgoing(ctx, n)
	if err != nil {
		d.failed(ctx, log, n, err)
		return
	}
	ref, err := d.cfg.Store.NoticeRef(ctx, n.Platform, n.Dest)
	if err != nil {
		d.failed(ctx, log, n, err)
		return
	}
	made, err := sink.Deliver(ctx, o, ref)
	if err != nil {
		d.failed(ctx, log, n, err)
		return
	}
	if made == ref {
		made = ""
	}
	if err := d.cfg.Store.DeliveredNotice(ctx, n, made); err != nil {
		log.ErrorContext(ctx, "outbox: record a delivery", "err", err) // the claim expires and it is delivered again
		return
	}
	d.edited(sink, n)
}

// edited remembers, for a Pacer, until when the destination n edited is
// not to be edited again, and forgets the destinations whose pause is
// over, so that only those edited a moment ago are kept.
func (d *Dispatcher) edited(sink Sink, n pipeline.Notice) {
	p, ok := sink.(Pacer)
	if !ok || !n.Latest || p.Pace() <= 0 {
		return
	}
	now := d.cfg.Clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, until := range d.calm {
		if !until.After(now) {
			delete(d.calm, k)
		}
	}
	d.calm[n.Platform+"\x00"+n.Dest] = now.Add(p.Pace())
}

// paced waits until n's destination may be edited again; false when ctx
// ended first.
func (d *Dispatcher) paced(ctx context.Context, n pipeline.Notice) bool {
	d.mu.Lock()
	until := d.calm[n.Platform+"\x00"+n.Dest]
	d.mu.Unlock()
	wait := until.Sub(d.cfg.Clock.Now())
	if wait <= 0 {
		return true
	}
	select {
	case <-d.cfg.Clock.After(wait):
		return true
	case <-ctx.Done():
		return false
	}
}

// outgoing adds to n its deploy and card as they are now.
func (d *Dispatcher) outgoing(ctx context.Context, n pipeline.Notice) (Outgoing, error) {
	o := Outgoing{Notice: n}
	if n.DeployID == 0 {
		return o, nil
	}
	x, err := d.cfg.Bot.engine.Details(ctx, n.DeployID, DefaultTailLines)
	if errors.Is(err, pipeline.ErrNotFound) {
		return o, Permanent(err)
	}
	if err != nil {
		return o, fmt.Errorf("deploy %d: %w", n.DeployID, err)
	}
	o.Deploy = x.Deploy
	o.Card = NewCard(CardInput{Deploy: x.Deploy, Units: x.Units, Approvals: x.Approvals, Logs: x.Logs, BaseURL: d.cfg.Bot.baseURL, Now: x.Now})
	return o, nil
}

// failed records a failed attempt: retried after a backoff, after the
// platform's Retry-After, or given up when it is permanent or has failed
// for GiveUp.
func (d *Dispatcher) failed(ctx context.Context, log *slog.Logger, n pipeline.Notice, err error) {
	now := d.cfg.Clock.Now()
	attempts := n.Attempts + 1
	next := now.Add(min(maxBackoff, minBackoff<<min(attempts-1, 20)))
	var ra *retryAfter
	if errors.As(err, &ra) {
		next = now.Add(max(ra.after, minBackoff))
		d.mu.Lock()
		d.paused[n.Platform] = next
		d.mu.Unlock()
		if perr := d.cfg.Store.PauseNotices(ctx, n.Platform, next); perr != nil {
			log.ErrorContext(ctx, "outbox: pause notices", "err", perr)
		}
	}
	msg := oneLine(err.Error())
	dead := errors.Is(err, errPermanent) || !n.Created.IsZero() && now.Sub(n.Created) >= d.cfg.GiveUp
	if serr := d.cfg.Store.FailedNotice(ctx, n.ID, msg, next, dead); serr != nil {
		log.ErrorContext(ctx, "outbox: record a failure", "err", serr)
	}
	if dead {
		log.ErrorContext(ctx, "outbox: gave up on a notice; an admin can retry it (ferry outbox)", "attempts", attempts, "err", msg)
		return
	}
	log.WarnContext(ctx, "outbox: notice not delivered; will retry", "attempts", attempts, "retry_at", next, "err", msg)
}

func (d *Dispatcher) pausedUntil(platform string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.paused[platform]
}

type retryAfter struct {
	after time.Duration
	err   error
}

func (r *retryAfter) Error() string { return r.err.Error() }
func (r *retryAfter) Unwrap() error { return r.err }

// RetryAfter wraps err from a platform that asked ferry to wait before it
// calls again (HTTP 429 and its Retry-After): every notice of the platform
// waits that long.
func RetryAfter(after time.Duration, err error) error {
	return &retryAfter{after: after, err: err}
}

var errPermanent = errors.New("permanent")

type permanent struct{ err error }

func (p permanent) Error() string        { return p.err.Error() }
func (p permanent) Unwrap() []error      { return []error{p.err, errPermanent} }
func (p permanent) Is(target error) bool { return target == errPermanent }

// Permanent wraps err that trying again cannot mend (the channel does not
// exist, the deploy is gone): the notice is marked dead at once.
func Permanent(err error) error { return permanent{err} }

// oneLine keeps an error on one line for logs and the outbox page.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
