package dashboards

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
)

// Channel is one configured digest: where it goes, what it covers, when.
type Channel struct {
	Name     string // the chat channel, like #deploys or C0123
	Scope    Scope
	Schedule Schedule
}

// key names the digest in the ledger.
func (c Channel) key() string { return "slack:" + c.Name }

// Sending is one digest ferry set out to send, as the ledger keeps it.
type Sending struct {
	Name      string    // the channel's key
	Scheduled time.Time // the time its schedule named
	Period    Period
	Late      bool
	ClaimedAt time.Time // when a ferry began to send it
	Sent      bool
}

// staleClaim is how long after a claim a digest that is still not sent
// is taken for abandoned (its ferry stopped while sending) and sent again.
// Sending takes seconds; a younger claim is another ferry at work.
const staleClaim = 10 * time.Minute

// Ledger records sendings, so a digest is sent once per scheduled time
// even when ferry restarts or runs twice; *storage.Store implements it.
type Ledger interface {
	// ClaimDigest records that s is being sent; false if it was claimed
	// before, by this ferry or another.
	ClaimDigest(ctx context.Context, s Sending, now time.Time) (bool, error)
	// DigestSent records that the chat took it.
	DigestSent(ctx context.Context, name string, scheduled, now time.Time) error
	// LastDigest returns the latest claimed sending of a digest; ok is
	// false if there is none.
	LastDigest(ctx context.Context, name string) (s Sending, ok bool, err error)
}

// Poster posts a digest to a chat channel, with its chart as a PNG; the
// Slack adapter implements it.
type Poster interface {
	PostDigest(ctx context.Context, channel string, g Digest, chart []byte) error
}

// SchedulerConfig is what a Scheduler needs.
type SchedulerConfig struct {
	Dashboards *Dashboards                  // required
	Ledger     Ledger                       // required
	Poster     Poster                       // required
	Chart      func(Digest) ([]byte, error) // required: the PNG of a digest's chart
	Channels   []Channel
	Clock      clockwork.Clock // nil: the real clock
	Logger     *slog.Logger    // nil: discard
	// Elector, when set, lets only the leader of the replicas sharing the
	// ledger send digests (gocron's distributed elector), and the caller
	// calls CatchUp each time this replica becomes the leader, for what
	// was due while nobody led. nil: this is the only ferry, and Run
	// catches up when it starts.
	Elector gocron.Elector
}

// Scheduler posts the configured digests on their schedules.
type Scheduler struct {
	cfg   SchedulerConfig
	clock clockwork.Clock
	log   *slog.Logger
}

// NewScheduler checks cfg and returns a scheduler; Run starts it.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if cfg.Dashboards == nil || cfg.Ledger == nil || cfg.Poster == nil || cfg.Chart == nil {
		return nil, errors.New("dashboards: the scheduler needs Dashboards, a Ledger, a Poster and a Chart")
	}
	s := &Scheduler{cfg: cfg, clock: cfg.Clock, log: cfg.Logger}
	if s.clock == nil {
		s.clock = clockwork.NewRealClock()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Run sends the digests missed while ferry was down, late, then posts each
// digest at its scheduled times until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	if len(s.cfg.Channels) == 0 {
		<-ctx.Done()
		return nil
	}
	opts := []gocron.SchedulerOption{gocron.WithClock(s.clock), gocron.WithLocation(time.UTC)}
	if s.cfg.Elector != nil {
		opts = append(opts, gocron.WithDistributedElector(s.cfg.Elector))
	}
	sched, err := gocron.NewScheduler(opts...)
	if err != nil {
		return fmt.Errorf("dashboards: scheduler: %w", err)
	}
	for _, ch := range s.cfg.Channels {
		_, err := sched.NewJob(gocron.CronJob(ch.Schedule.Crontab(), false),
			gocron.NewTask(func() { s.fire(ctx, ch) }),
			gocron.WithName("digest "+ch.Name),
			gocron.WithSingletonMode(gocron.LimitModeReschedule))
		if err != nil {
			return fmt.Errorf("dashboards: digest for %s: %w", ch.Name, err)
		}
	}
	if s.cfg.Elector == nil {
		s.CatchUp(ctx)
	}
	sched.Start()
	<-ctx.Done()
	return sched.Shutdown()
}

// fire sends a channel's digest at its scheduled time.
func (s *Scheduler) fire(ctx context.Context, ch Channel) {
	at := ch.Schedule.Prev(s.clock.Now())
	if err := s.deliver(ctx, ch, at, false); err != nil {
		s.log.ErrorContext(ctx, "dashboards: digest", "channel", ch.Name, "scheduled", at, "err", err)
	}
}

// CatchUp sends, late, each channel's last scheduled digest if it was
// never sent (ferry was down then, or no replica led), or was claimed but
// not sent for staleClaim (ferry stopped while sending it). Only the last
// one: a digest of weeks ago is old news.
func (s *Scheduler) CatchUp(ctx context.Context) {
	now := s.clock.Now()
	for _, ch := range s.cfg.Channels {
		at := ch.Schedule.Prev(now)
		if at.IsZero() {
			continue
		}
		last, ok, err := s.cfg.Ledger.LastDigest(ctx, ch.key())
		if err != nil {
			s.log.ErrorContext(ctx, "dashboards: digest ledger", "channel", ch.Name, "err", err)
			continue
		}
		switch {
		case ok && last.Scheduled.Equal(at) && (last.Sent || now.Sub(last.ClaimedAt) < staleClaim):
			continue // sent, or being sent by another ferry
		case ok && last.Scheduled.Equal(at): // claimed long ago, never sent: send it again
			err = s.send(ctx, ch, at, true)
		case ok && last.Scheduled.After(at):
			continue
		default:
			err = s.deliver(ctx, ch, at, true)
		}
		if err != nil {
			s.log.ErrorContext(ctx, "dashboards: late digest", "channel", ch.Name, "scheduled", at, "err", err)
		}
	}
}

// deliver claims the digest of ch scheduled at, and sends it if the claim
// is new.
func (s *Scheduler) deliver(ctx context.Context, ch Channel, at time.Time, late bool) error {
	ok, err := s.cfg.Ledger.ClaimDigest(ctx, Sending{Name: ch.key(), Scheduled: at, Period: ch.Schedule.Period(at), Late: late}, s.clock.Now())
	if err != nil || !ok {
		return err // !ok: sent, or being sent, by another
	}
	return s.send(ctx, ch, at, late)
}

func (s *Scheduler) send(ctx context.Context, ch Channel, at time.Time, late bool) error {
	g, err := s.Build(ctx, ch, at)
	if err != nil {
		return err
	}
	g.Late = late
	if err := s.post(ctx, ch, g); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "dashboards: digest sent", "channel", ch.Name, "scheduled", at, "late", late)
	return s.cfg.Ledger.DigestSent(ctx, ch.key(), at, s.clock.Now())
}

// Build makes the digest of ch for its scheduled time at.
func (s *Scheduler) Build(ctx context.Context, ch Channel, at time.Time) (Digest, error) {
	g, err := s.cfg.Dashboards.Digest(ctx, ch.Scope, ch.Schedule.Period(at))
	if err != nil {
		return Digest{}, err
	}
	g.Scheduled = at
	return g, nil
}

func (s *Scheduler) post(ctx context.Context, ch Channel, g Digest) error {
	png, err := s.cfg.Chart(g)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if err := s.cfg.Poster.PostDigest(ctx, ch.Name, g, png); err != nil {
		return fmt.Errorf("post to %s: %w", ch.Name, err)
	}
	return nil
}

// SendNow posts every channel's digest of its last scheduled period now,
// for `ferry digest --send`, whether it was sent before or not; the ledger
// is left as it is.
func (s *Scheduler) SendNow(ctx context.Context) error {
	if len(s.cfg.Channels) == 0 {
		return errors.New("no digest channels are configured: add dashboards.digest.channels to ferry.yaml")
	}
	var errs []error
	for _, ch := range s.cfg.Channels {
		g, err := s.Build(ctx, ch, ch.Schedule.Prev(s.clock.Now()))
		if err == nil {
			err = s.post(ctx, ch, g)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("digest for %s: %w", ch.Name, err))
		}
	}
	return errors.Join(errs...)
}
