package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/ferrybot/ferry/bot"
)

// A custom robot takes at most robotLimit messages a robotWindow, and one
// sent past that is refused and the robot held for robotHold, as DingTalk
// documents it. ferry keeps one under the limit and never gets it held.
const (
	robotLimit  = 20
	robotWindow = time.Minute
	robotHold   = 10 * time.Minute
)

// robot is a custom robot and the times of what it sent in the last
// window.
type robot struct {
	Robot
	mu   sync.Mutex
	sent []time.Time
}

// errRobotBusy says a robot sent all it may this minute; the outbox waits.
var errRobotBusy = errors.New("sent 20 messages in the last minute, DingTalk's limit; waiting")

// send posts a message through the robot's webhook, signed, unless it sent
// robotLimit in the last window: then every notice of the robot waits in
// the outbox until it may send again. DingTalk refusing one for its rate
// limit holds the robot's notices for robotHold.
func (r *robot) send(ctx context.Context, a *Adapter, m sessionMessage) error {
	now := a.clock.Now()
	if wait := r.reserve(now); wait > 0 {
		return bot.RetryAfter(wait, fmt.Errorf("robot %s: %w", r.Name, errRobotBusy))
	}
	err := postWebhook(ctx, a.http, r.signedURL(now), m)
	var e *apiError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e) && e.limited():
		return bot.RetryAfter(robotHold, fmt.Errorf("robot %s: %w", r.Name, err))
	case errors.As(err, &e):
		return bot.Permanent(fmt.Errorf("robot %s: %w", r.Name, err))
	}
	return fmt.Errorf("robot %s: %w", r.Name, err)
}

// reserve counts a message about to be sent at now, or says how long to
// wait until one may be.
func (r *robot) reserve(now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := r.sent[:0]
	for _, t := range r.sent {
		if now.Sub(t) < robotWindow {
			keep = append(keep, t)
		}
	}
	r.sent = keep
	if len(r.sent) >= robotLimit {
		return robotWindow - now.Sub(r.sent[0])
	}
	r.sent = append(r.sent, now)
	return 0
}

// signedURL is the robot's webhook with the timestamp and sign of 加签
// added, URL-encoded.
func (r *robot) signedURL(now time.Time) string {
	if r.Secret == "" {
		return r.Webhook
	}
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	return r.Webhook + "&timestamp=" + ts + "&sign=" + url.QueryEscape(signature([]byte(r.Secret), ts))
}
