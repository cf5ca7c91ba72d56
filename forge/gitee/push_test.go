package gitee

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ferrybot/ferry/forge/gitee/fakegitee"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

const (
	checkRuns = "POST /api/v5/repos/kit101/drone-yml-test/check-runs"
	console   = "https://ferry.example.com/"
)

// until waits, for at most 10 s of real time, until cond holds.
func (f *fixture) until(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-deadline:
			f.t.Fatalf("still waiting for %s after 10 s", what)
		case <-time.After(time.Millisecond):
		}
	}
}

// hold makes the target's installs wait until the returned function is
// called.
func (f *fixture) hold() (release func()) {
	ch := make(chan struct{})
	f.target.Set(func(t *pipelinetest.Target) { t.Hold = ch })
	return func() { close(ch) }
}

// succeeded is the one deploy there is, which must have succeeded.
func (f *fixture) succeeded(env, commit string) pipeline.Deploy {
	f.t.Helper()
	ds := f.deploys()
	if len(ds) != 1 || ds[0].Env != env || ds[0].Commit != commit || ds[0].State != pipeline.StateSucceeded {
		f.t.Fatalf("deploys = %+v, want one of %s to %s, succeeded", ds, commit, env)
	}
	return ds[0]
}

func TestTagPushDeploysWithACheckRun(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	f := newFixture(t, linked(), fg, func(c *Config) { c.BaseURL = console })
	release := f.hold()
	f.deliver("Tag Push Hook", payload(t, "tag_push_hooks.create.json"))
	f.until("the check run of the running deploy", func() bool {
		cs := fg.CheckRuns()
		return len(cs) == 1 && cs[0].Status == "in_progress"
	})
	release()
	f.drain()
	d := f.succeeded("prod", tagged)
	if d.Requester != "kit" || d.Ref != "1.3" {
		t.Errorf("deploy = %+v, want tag 1.3 by kit", d)
	}
	cs := fg.CheckRuns()
	if len(cs) != 1 {
		t.Fatalf("check runs = %+v, want one", cs)
	}
	c := cs[0]
	if c.Repo != repoName || c.SHA != tagged || c.Name != "ferry/prod" || c.Status != "completed" || c.Conclusion != "success" ||
		c.DetailsURL != "https://ferry.example.com/deploys/1" {
		t.Errorf("check run = %+v, want ferry/prod on %s, completed: success, linking to the deploy", c, tagged)
	}
	if n := len(c.Statuses); n < 2 || c.Statuses[n-2] != "in_progress" || c.Statuses[n-1] != "completed" || c.Statuses[0] == "completed" {
		t.Errorf("the check run's statuses = %v, want it created, then updated to in_progress and completed", c.Statuses)
	}
	if n := fg.Count(checkRuns); n != 1 {
		t.Errorf("%d check runs created, want one, updated", n)
	}
	golden(t, "check-run-succeeded", fmt.Sprintf("%s: %s (%s)\n%s\n\n%s\n", c.Name, c.Status, c.Conclusion, c.Title, c.Summary))
}

// TestCheckRunsRefused: a token whose user may not create check runs (not
// the repository's admin) costs one refused call; the deploy goes on and
// nothing is owed.
func TestCheckRunsRefused(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	fg.RefuseChecks = true
	f := newFixture(t, linked(), fg)
	release := f.hold()
	f.deliver("Tag Push Hook", payload(t, "tag_push_hooks.create.json"))
	f.until("the refused check run", func() bool { return fg.Count(checkRuns) == 1 })
	f.until("the deploy to run", func() bool {
		ds := f.deploys()
		return len(ds) == 1 && ds[0].State == pipeline.StateRunning
	})
	release()
	f.drain()
	f.succeeded("prod", tagged)
	if calls := fg.Calls(); !slices.Equal(calls, []string{checkRuns}) {
		t.Errorf("calls = %v, want one refused check run", calls)
	}
	owed, err := f.store.OutboxBacklogs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range owed {
		if o.Pending != 0 || o.Dead != 0 {
			t.Errorf("outbox of %s: %d pending, %d dead; want nothing owed", o.Platform, o.Pending, o.Dead)
		}
	}
}

func TestPushWithoutToken(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	f := newFixture(t, nil, nil, func(c *Config) { c.APIURL = fg.APIURL() }) // an API, and no token
	f.deliver("Push Hook", payload(t, "push_hooks.json"))
	f.drain()
	d := f.succeeded("staging", pushed)
	if d.Requester != SystemActor || d.Ref != "feat-2-1" {
		t.Errorf("deploy = %+v, want feat-2-1 by %s", d, SystemActor)
	}
	if calls := fg.Calls(); len(calls) != 0 {
		t.Errorf("ferry called Gitee without a token: %v", calls)
	}
}

func TestDeletedBranchDeploysNothing(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	f := newFixture(t, linked(), fg)
	f.deliver("Push Hook", edit(t, "push_hooks.json", map[string]any{"deleted": true, "after": zeroSHA}))
	f.deliver("Push Hook", edit(t, "push_hooks.json", map[string]any{"repository.path_with_namespace": "kit101/another",
		"repository.full_name": "kit101/another", "repository.clone_url": "https://gitee.com/kit101/another.git",
		"repository.ssh_url": "git@gitee.com:kit101/another.git", "repository.html_url": "https://gitee.com/kit101/another"}))
	f.drain()
	if ds := f.deploys(); len(ds) != 0 {
		t.Errorf("deploys = %+v, want none", ds)
	}
	if calls := fg.Calls(); len(calls) != 0 {
		t.Errorf("calls = %v", calls)
	}
}
