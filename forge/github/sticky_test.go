package github

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
)

// TestStickyCommentFollowsTheDeploy: a deploy asked for in a comment is
// shown in the pull request's one ferry comment, which is edited when the
// deploy changes.
func TestStickyCommentFollowsTheDeploy(t *testing.T) {
	users := &config.Config{Users: []pipeline.User{{Name: "chen", Forge: map[string]string{"github": commenter}}}}
	fg := fakegithub.New(t, apiToken)
	fg.Permissions[commenter] = "write"
	fg.PRs[3] = fakegithub.PR{State: "open", HeadRef: "master", HeadSHA: after}
	f := newFixtureWith(t, users, fg)
	f.deliver("issue_comment", "d1", prComment(t, "/ferry deploy staging", "open"))
	deadline := time.Now().Add(10 * time.Second)
	for len(fg.Comments()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no answer; calls %v", fg.Calls())
		}
		runtime.Gosched()
	}
	if _, err := f.engine.Cancel(context.Background(), users.Actor("chen"), 1); err != nil {
		t.Fatal(err)
	}
	f.drain()
	cs := fg.Comments()
	if len(cs) != 1 {
		t.Fatalf("comments = %+v, want one sticky comment", cs)
	}
	golden(t, "sticky-cancelled", cs[0].Body)
}
