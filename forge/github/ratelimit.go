package github

import (
	"context"
	"errors"
	"fmt"
	"time"

	gh "github.com/google/go-github/v88/github"
)

// Retries of one API call across rate limits.
const (
	callAttempts = 4
	minBackoff   = time.Second      // first wait on a secondary limit without Retry-After
	maxWait      = 10 * time.Minute // longer waits give up
)

// call makes one API call, waiting out GitHub's primary rate limit (until
// its reset) and secondary limits (their Retry-After or, without one,
// exponential backoff from minBackoff), up to callAttempts tries. A wait
// longer than maxWait gives up.
func (c *client) call(ctx context.Context, method string, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		wait, limited := c.retryAfter(err, attempt)
		if !limited || attempt == callAttempts || wait > maxWait {
			return fmt.Errorf("%s: %w", method, err)
		}
		c.log.WarnContext(ctx, "github: rate limited", "platform", platform, "method", method, "retry_after", wait)
		select {
		case <-c.clock.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", method, ctx.Err())
		}
	}
}

// retryAfter says how long to wait before trying again, and whether err is
// a rate limit at all.
func (c *client) retryAfter(err error, attempt int) (time.Duration, bool) {
	backoff := minBackoff << (attempt - 1)
	var secondary *gh.AbuseRateLimitError
	if errors.As(err, &secondary) {
		if d := secondary.GetRetryAfter(); d > 0 {
			return d, true
		}
		return backoff, true
	}
	var primary *gh.RateLimitError
	if errors.As(err, &primary) {
		if d := primary.Rate.Reset.Sub(c.clock.Now()); d > 0 {
			return d, true
		}
		return backoff, true
	}
	return 0, false
}
