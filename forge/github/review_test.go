package github

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
)

// approvedReview is the real approving review of pull request 8 (head
// patch-2), moved to the test project's repository.
func approvedReview(t *testing.T) []byte {
	t.Helper()
	var m, push map[string]any
	if err := json.Unmarshal(payload(t, "pull_request_review.submitted.approved.json"), &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload(t, "push.branch.json"), &push); err != nil {
		t.Fatal(err)
	}
	m["repository"] = push["repository"]
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const reviewer = "baxterthehacker"

func TestApprovingReviewApproves(t *testing.T) {
	cases := []struct {
		name      string
		team      string // the reviewer's ferry user's team
		perm      string
		golden    string
		wantState pipeline.State
	}{
		{"an approver", "ops", "write", "review-approves", pipeline.StateQueued},
		{"not an approver", "dev", "write", "review-not-approver", pipeline.StateAwaitingApproval},
		{"no write permission", "ops", "read", "review-no-write", pipeline.StateAwaitingApproval},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users := &config.Config{
				Users: []pipeline.User{{Name: "dev1", Teams: []string{"dev"}}, {Name: "rev", Teams: []string{c.team}, Forge: map[string]string{"github": reviewer}}},
				Teams: []pipeline.Team{{Name: "ops"}, {Name: "dev"}},
			}
			fg := fakegithub.New(t, apiToken)
			fg.Permissions[reviewer] = c.perm
			f := newFixtureWith(t, users, fg)
			d, err := f.engine.Request(context.Background(), users.Actor("dev1"), pipeline.Request{Project: "hello", Env: "preview", Ref: "patch-2"})
			if err != nil || d.State != pipeline.StateAwaitingApproval {
				t.Fatalf("Request = %+v, %v; want a deploy awaiting approval", d, err)
			}
			if got := f.deliver("pull_request_review", "d1", approvedReview(t)); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			cs := fg.Comments()
			if len(cs) != 1 || cs[0].Number != 8 {
				t.Fatalf("comments = %+v, want one on #8", cs)
			}
			golden(t, c.golden, cs[0].Body)
			ds := f.deploys()
			if len(ds) != 1 || ds[0].State != c.wantState {
				t.Errorf("deploys = %+v, want one %s", ds, c.wantState)
			}
		})
	}
}

func TestReviewWithNothingPendingIsQuiet(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	f := newFixtureWith(t, linked(), fg)
	f.deliver("pull_request_review", "d1", approvedReview(t))
	f.drain()
	if cs := fg.Comments(); len(cs) != 0 {
		t.Errorf("comments = %+v, want none", cs)
	}
}

// TestReviewOfAnotherCommit: a review approves what it reviewed, not a
// deploy of the branch at a commit pushed before or after it.
func TestReviewOfAnotherCommit(t *testing.T) {
	users := &config.Config{
		Users: []pipeline.User{{Name: "dev1", Teams: []string{"dev"}}, {Name: "rev", Teams: []string{"ops"}, Forge: map[string]string{"github": reviewer}}},
		Teams: []pipeline.Team{{Name: "ops"}, {Name: "dev"}},
	}
	fg := fakegithub.New(t, apiToken)
	fg.Permissions[reviewer] = "write"
	f := newFixtureWith(t, users, fg)
	d, err := f.engine.Request(context.Background(), users.Actor("dev1"), pipeline.Request{Project: "hello", Env: "preview", Ref: "patch-2"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(approvedReview(t), &m); err != nil {
		t.Fatal(err)
	}
	m["pull_request"].(map[string]any)["head"].(map[string]any)["sha"] = "0123456789abcdef0123456789abcdef01234567"
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	f.deliver("pull_request_review", "d1", body)
	f.drain()
	if ds := f.deploys(); len(ds) != 1 || ds[0].ID != d.ID || ds[0].State != pipeline.StateAwaitingApproval {
		t.Errorf("deploys = %+v, want deploy %d still awaiting approval", ds, d.ID)
	}
	if cs := fg.Comments(); len(cs) != 0 {
		t.Errorf("comments = %+v, want none", cs)
	}
}
