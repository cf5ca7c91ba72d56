package github

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
)

func TestRateLimitsAreWaitedOut(t *testing.T) {
	const perm = "GET /api/v3/repos/Codertocat/Hello-World/collaborators/chhsia0/permission"
	cases := []struct {
		name    string
		limited fakegithub.Limited
		wait    time.Duration // on the adapter's clock
	}{
		{"secondary, Retry-After 0: backoff", fakegithub.Limited{Status: http.StatusForbidden, Header: map[string]string{"Retry-After": "0"},
			Message: "You have exceeded a secondary rate limit.", DocURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}, minBackoff},
		{"primary, until the reset", fakegithub.Limited{Status: http.StatusTooManyRequests, Header: map[string]string{
			"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(t0.Add(30*time.Second).Unix(), 10)},
			Message: "API rate limit exceeded"}, 30 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fg := fakegithub.New(t, apiToken)
			fg.Permissions[commenter] = "write"
			fg.Limit(perm, c.limited)
			f := newFixtureWith(t, &config.Config{Users: []pipeline.User{{Name: "chen", Forge: map[string]string{"github": commenter}}}}, fg)
			f.deliver("issue_comment", "d1", prComment(t, "/ferry whoami", "open"))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := f.clock.BlockUntilContext(ctx, 1); err != nil {
				t.Fatalf("the adapter did not wait: %v; calls %v", err, fg.Calls())
			}
			f.clock.Advance(c.wait)
			f.drain()
			if n := fg.Count(perm); n != 2 {
				t.Errorf("permission asked %d times, want 2 (limited, then served)", n)
			}
			if cs := fg.Comments(); len(cs) != 1 || cs[0].Body != forge.StickyMarker+"\n@chhsia0 You are chen." {
				t.Errorf("comments = %+v, want the answer to whoami", cs)
			}
		})
	}
}
