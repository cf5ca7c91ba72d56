package gitee

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/forge/gitee/fakegitee"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// maxLabelDeployCalls bounds what one deploy of a labelled pull request
// costs in API calls, with a .ferry.yaml read: see
// TestLabelDeployAPICalls.
const maxLabelDeployCalls = 9

// TestLabelDeployAPICalls counts the calls to Gitee's API one deploy of a
// labelled pull request costs, from the label's delivery until the deploy
// succeeded and the outbox is drained, each state delivered on its own
// (none folded into a later one, as a slow outbox would): the labeller's
// permission, the .ferry.yaml at the head, the pull request's comments (to
// find a sticky comment) and the answer, the check run created for the
// queued deploy and updated as it runs and succeeds, and the sticky
// comment edited as it runs and succeeds (the answer shows it queued).
// What the unit's steps owe while it runs, delivered as they come, costs
// nothing: the check run and the sticky comment say so already.
func TestLabelDeployAPICalls(t *testing.T) {
	users, withRepo := repoConfigured("environments.*.branches")
	fg := fakegitee.New(t, apiToken)
	fg.Permissions[login] = "push"
	fg.SetFile(repoName, updated, ".ferry.yaml", "environments:\n  staging: {branches: ['^feat-2$']}\n")
	f, h := newHeldFixture(t, users, fg, withRepo, func(c *Config) { c.BaseURL = console })
	started := make(chan string)
	f.target.Set(func(t *pipelinetest.Target) { t.Started = started })
	release := f.hold()
	f.deliver(mergeRequest, labelUpdate(t, "open", "deploy/staging"))
	f.until("the label's answer, before the outbox runs", f.handled)
	h.startOutbox()
	f.until("the queued deploy's notices", func() bool { return f.owed() == 0 })
	h.startEngine()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the deploy did not start")
	}
	f.until("the running deploy's notices", func() bool { return f.owed() == 0 })
	release()
	f.drain()
	d := f.succeeded("staging", updated)
	if d.Requester != "kit" || d.Ref != "feat-2" {
		t.Errorf("deploy = %+v, want feat-2 by kit", d)
	}

	got := fg.Calls()
	t.Logf("one deploy of a labelled pull request cost %d API calls:\n\t%s", len(got), strings.Join(got, "\n\t"))
	if len(got) > maxLabelDeployCalls {
		t.Errorf("%d calls, want at most %d", len(got), maxLabelDeployCalls)
	}
	const repo = "/api/v5/repos/" + repoName
	want := map[string]int{
		permission:                            1,
		contents:                              1,
		"GET " + repo + "/pulls/7/comments":   1,
		"POST " + repo + "/pulls/7/comments":  1,
		checkRuns:                             1,
		"PATCH " + repo + "/check-runs/1":     2,
		"PATCH " + repo + "/pulls/comments/1": 2,
	}
	counts := map[string]int{}
	for _, c := range got {
		counts[c]++
	}
	for _, call := range sortedKeys(counts, want) {
		if counts[call] != want[call] {
			t.Errorf("%s: %d calls, want %d", call, counts[call], want[call])
		}
	}
	cs := fg.Comments()
	if len(cs) != 1 || cs[0].Number != 7 {
		t.Fatalf("comments = %+v, want one on #7", cs)
	}
	golden(t, "label-deploy-added", cs[0].Body) // the answer, become the deploy's card
	runs := fg.CheckRuns()
	if len(runs) != 1 {
		t.Fatalf("check runs = %+v, want one", runs)
	}
	r := runs[0]
	if r.SHA != updated || r.Name != "ferry/staging" || r.Conclusion != "success" || r.DetailsURL != console+"deploys/1" {
		t.Errorf("check run = %+v, want ferry/staging on %s, completed: success, linking to the deploy", r, updated)
	}
	if !slices.Equal(r.Statuses, []string{"queued", "in_progress", "completed"}) {
		t.Errorf("the check run's statuses = %v, want queued in_progress completed", r.Statuses)
	}
}

// sortedKeys are the keys of ms, once each, in order.
func sortedKeys(ms ...map[string]int) []string {
	var out []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// owed counts the notices pending in the outbox.
func (f *fixture) owed() int {
	f.t.Helper()
	owed, err := f.store.OutboxBacklogs(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, o := range owed {
		n += o.Pending
	}
	return n
}
