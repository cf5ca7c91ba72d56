package github

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// maxLabelDeployCalls bounds what one deploy of a labelled pull request
// costs in API calls: see TestLabelDeployAPICalls.
const maxLabelDeployCalls = 13

// TestLabelDeployAPICalls counts the calls to GitHub's API one deploy of a
// labelled pull request costs, from the label's delivery until the deploy
// succeeded and the outbox is drained, each state (queued, running,
// succeeded) delivered on its own, none folded into a later one as a slow
// outbox would: the labeler's permission, the pull request's comments (to
// find a sticky comment) and the answer, then for each state the commit
// status, a status of the Deployment (found among the commit's, or
// created, for the first) and, but for queued, which the answer says
// already, the sticky comment edited.
//
// A unit's progress owes the same notices again, in the state its deploy
// is in: the outbox delivers only between the states here, so that they
// fold into their state's and the count does not depend on how fast the
// outbox is.
func TestLabelDeployAPICalls(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	fg.Permissions["Codertocat"] = "write"
	f := newHeldFixture(t, linked(), fg, func(c *Config) { c.BaseURL = "https://ferry.example.com" })
	hold, started := make(chan struct{}), make(chan string)
	f.target.Hold, f.target.Started = hold, started
	f.deliver("pull_request", "d1", prEvent(t, "pull_request.labeled.json", "master", "deploy/staging", "bug", "deploy/staging"))
	f.settle() // the label's answer, before the outbox runs
	f.flush()  // queued
	stop := f.startEngine()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the deploy did not start")
	}
	f.waitState(1, pipeline.StateRunning)
	f.flush() // running, with its unit's install started
	close(hold)
	f.waitState(1, pipeline.StateSucceeded)
	stop() // nothing more is owed once the engine is stopped
	f.flush()

	got := fg.Calls()
	t.Logf("one deploy of a labelled pull request cost %d API calls:\n\t%s", len(got), strings.Join(got, "\n\t"))
	if len(got) != maxLabelDeployCalls {
		t.Errorf("%d calls, want %d (maxLabelDeployCalls)", len(got), maxLabelDeployCalls)
	}
	const repo = "/api/v3/repos/Codertocat/Hello-World"
	head := "ec26c3e57ca3a959ca5aad62de7213c562f8c821" // the pull request's
	want := map[string]int{
		"GET " + repo + "/collaborators/Codertocat/permission": 1,
		"GET " + repo + "/issues/2/comments":                   1,
		"POST " + repo + "/issues/2/comments":                  1,
		"POST " + repo + "/statuses/" + head:                   3,
		"GET " + repo + "/deployments":                         1,
		"POST " + repo + "/deployments":                        1,
		"POST " + repo + "/deployments/1/statuses":             3,
		"PATCH " + repo + "/issues/comments/1":                 2,
	}
	counted := map[string]int{}
	for _, c := range got {
		counted[c]++
	}
	for call, n := range counted {
		if want[call] != n {
			t.Errorf("%s: %d calls, want %d", call, n, want[call])
		}
		delete(want, call)
	}
	for call, n := range want {
		t.Errorf("%s: no call, want %d", call, n)
	}

	cs := fg.Comments()
	if len(cs) != 1 {
		t.Fatalf("comments = %+v, want one sticky comment", cs)
	}
	golden(t, "sticky-succeeded", cs[0].Body)
	var states []string
	for _, st := range fg.Statuses() {
		states = append(states, st.State)
	}
	// GitHub has no running state: a running deploy is pending.
	if strings.Join(states, " ") != "pending pending success" {
		t.Errorf("commit statuses %v, want pending pending success", states)
	}
	if ds := fg.Deployments(); len(ds) != 1 || strings.Join(ds[0].States, " ") != "queued in_progress success" {
		t.Errorf("deployments = %+v, want one: queued in_progress success", ds)
	}
}

// heldFixture is a fixture whose engine runs from startEngine, whose
// outbox delivers only in flush, and whose target the test holds.
type heldFixture struct {
	*fixture
	target *pipelinetest.Target
	outbox *bot.Dispatcher
}

// newHeldFixture builds a heldFixture over the fake fg as newFixtureWith
// does, with the engine sweeping only when kicked (or hourly).
func newHeldFixture(t *testing.T, users *config.Config, fg *fakegithub.Server, mods ...func(*Config)) *heldFixture {
	t.Helper()
	f, target, outbox := build(t, users, fg, refs, false, mods...)
	return &heldFixture{fixture: f, target: target, outbox: outbox}
}

// startEngine runs the engine until the returned stop, which a cleanup
// calls too, returns.
func (f *heldFixture) startEngine() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.engine.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	f.t.Cleanup(stop)
	return stop
}

// flush runs the outbox until what is owed GitHub is delivered (or given
// up), then stops it.
func (f *heldFixture) flush() {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.outbox.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	f.waitFor("notices owed", func() (bool, string) {
		owed, err := f.store.OutboxBacklogs(context.Background())
		if err != nil {
			f.t.Fatal(err)
		}
		for _, o := range owed {
			if o.Pending > 0 {
				return false, fmt.Sprintf("%+v", owed)
			}
		}
		return true, ""
	})
}

// settle waits until every acknowledged delivery is processed.
func (f *heldFixture) settle() {
	f.t.Helper()
	f.waitFor("deliveries unprocessed", func() (bool, string) {
		backlog, err := f.store.InboxBacklog(context.Background())
		if err != nil {
			f.t.Fatal(err)
		}
		return len(backlog) == 0, fmt.Sprintf("%+v", backlog)
	})
}

// waitState waits until deploy id is in state s.
func (f *heldFixture) waitState(id int64, s pipeline.State) {
	f.t.Helper()
	f.waitFor(fmt.Sprintf("deploy %d not %s", id, s), func() (bool, string) {
		ds := f.deploys()
		for _, d := range ds {
			if d.ID == id && d.State == s {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", ds)
	})
}

// waitFor polls done every millisecond, for 10 s at most; done says what
// is still awaited when it is not.
func (f *heldFixture) waitFor(what string, done func() (bool, string)) {
	f.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		ok, left := done()
		if ok {
			return
		}
		select {
		case <-f.fixture.done:
			f.t.Fatalf("Run returned; %s: %s", what, left)
		case <-deadline:
			f.t.Fatalf("after 10 s, %s: %s", what, left)
		case <-time.After(time.Millisecond):
		}
	}
}
