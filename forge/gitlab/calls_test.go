package gitlab

import (
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/gitlab/fakegitlab"
	"github.com/ferrybot/ferry/pipeline"
)

// repoConfigured is linked(), letting repositories set allow in their
// .ferry.yaml, and the option that makes the adapter read it.
func repoConfigured(allow ...string) (*config.Config, func(*Config)) {
	users := linked()
	users.GitLab.RepoConfig = &config.RepoConfig{Allow: allow}
	return users, func(c *Config) { c.RepoConfig = users.RepoRules("gitlab") }
}

// maxLabelDeployCalls bounds what one deploy of a labelled merge request
// costs in API calls, with a .ferry.yaml read: see
// TestLabelDeployAPICalls.
const maxLabelDeployCalls = 13

// TestLabelDeployAPICalls counts the calls to GitLab's API one deploy of a
// labelled merge request costs, from the label's delivery until the
// deploy succeeded and the outbox is drained, each state delivered on its
// own (none folded into a later one, as a slow outbox would): the
// labeler's role, the .ferry.yaml at the head, the token's user and the
// merge request's notes (to find a sticky note), the answer, the commit
// status of each state, the deployment created, its environment's
// external_url and its success, and the sticky note edited as the deploy
// runs and succeeds.
func TestLabelDeployAPICalls(t *testing.T) {
	users, withRepo := repoConfigured("environments.*.branches")
	fg := withFake(t)
	fg.SetMember(sender, fakegitlab.Developer)
	fg.SetFile(projectPath, mrHead, ".ferry.yaml", "environments:\n  staging: {branches: ['^master$']}\n")
	f := newHeldFixture(t, users, fg, withRepo, func(c *Config) { c.BaseURL = "https://ferry.example.com" })
	hold, started := make(chan struct{}), make(chan string)
	f.target.Hold, f.target.Started = hold, started
	f.deliver("Merge Request Hook", "k1", labeled(t, "master", nil, []string{"deploy/staging"}))
	f.settle() // the label's answer, before the outbox runs
	f.startOutbox()
	f.settle()
	f.startEngine()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the deploy did not start")
	}
	f.waitState(1, pipeline.StateRunning)
	f.settle()
	close(hold)
	f.waitState(1, pipeline.StateSucceeded)
	f.drain()

	got := fg.Calls()
	t.Logf("one deploy of a labelled merge request cost %d API calls:\n\t%s", len(got), strings.Join(got, "\n\t"))
	if len(got) > maxLabelDeployCalls {
		t.Errorf("%d calls, want at most %d", len(got), maxLabelDeployCalls)
	}
	want := map[string]int{
		api("GET", "/members/all/2"):                        1,
		api("GET", "/repository/files/%2Eferry%2Eyaml/raw"): 1,
		"GET /api/v4/user":                                  1,
		api("GET", "/merge_requests/3/notes"):               1,
		api("POST", "/merge_requests/3/notes"):              1,
		api("POST", "/statuses/"+mrHead):                    3,
		api("POST", "/deployments"):                         1,
		api("PUT", "/environments/701"):                     1,
		api("PUT", "/deployments/1"):                        1,
		api("PUT", "/merge_requests/3/notes/5001"):          2,
	}
	for call, n := range calls(fg) {
		if want[call] != n {
			t.Errorf("%s: %d calls, want %d", call, n, want[call])
		}
		delete(want, call)
	}
	for call, n := range want {
		if n != 0 {
			t.Errorf("%s: no call, want %d", call, n)
		}
	}
	ns := fg.Notes()
	if len(ns) != 1 {
		t.Fatalf("notes = %+v, want one", ns)
	}
	golden(t, "sticky-succeeded", ns[0].Body)
	var states []string
	for _, st := range fg.Statuses() {
		states = append(states, st.State)
	}
	if strings.Join(states, " ") != "pending running success" {
		t.Errorf("commit statuses %v, want pending running success", states)
	}
}
