package gitee

import (
	"testing"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/gitee/fakegitee"
	"github.com/ferrybot/ferry/pipeline"
)

// approved is the real opened pull request #9, approved (Gitee's action
// approved, sent by the reviewer) at head sha of branch patch-1.
func approved(t *testing.T, sha string) []byte {
	t.Helper()
	return edit(t, "merge_request_hooks.open.json", map[string]any{"action": "approved",
		"pull_request.head.ref": "patch-1", "pull_request.head.sha": sha})
}

// TestApprovalApprovesPendingDeploy: a pull request's approval counts as
// the reviewer's approval of the deploy of its head commit that awaits
// one, as the environment's policy judges it: kit (ops, with push
// permission) approves; someone who may only read, or who is not in ops,
// does not. The fixture's engine runs what is approved.
func TestApprovalApprovesPendingDeploy(t *testing.T) {
	cases := []struct {
		name, team, permission string
		golden                 string
		want                   pipeline.State
	}{
		{"an approver", "ops", "push", "approval-approves", pipeline.StateSucceeded},
		{"not an approver", "dev", "push", "approval-not-approver", pipeline.StateAwaitingApproval},
		{"a reader", "ops", "read", "approval-reader", pipeline.StateAwaitingApproval},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users := &config.Config{
				Users: []pipeline.User{{Name: "dev1", Teams: []string{"dev"}}, {Name: "kit", Teams: []string{c.team}, Forge: map[string]string{"gitee": login}}},
				Teams: []pipeline.Team{{Name: "ops"}, {Name: "dev"}},
			}
			fg := fakegitee.New(t, apiToken)
			fg.Permissions[login] = c.permission
			f := newFixture(t, users, fg)
			d, err := f.engine.Request(t.Context(), users.Actor("dev1"), pipeline.Request{Project: "drone", Env: "preview", Ref: "patch-1"})
			if err != nil || d.State != pipeline.StateAwaitingApproval {
				t.Fatalf("Request = %+v, %v; want a deploy awaiting approval", d, err)
			}
			f.deliver(mergeRequest, approved(t, patched))
			f.until("the approval to be handled", f.handled)
			f.drain()
			cs := fg.Comments()
			if len(cs) != 1 || cs[0].Number != 9 {
				t.Fatalf("comments = %+v, want one on #9", cs)
			}
			golden(t, c.golden, cs[0].Body)
			if ds := f.deploys(); len(ds) != 1 || ds[0].State != c.want {
				t.Errorf("deploys = %+v, want one %s", ds, c.want)
			}
		})
	}
}

// TestApprovalOfAnotherCommit: an approval approves the commit it saw, not
// a deploy of the branch at another, and says nothing.
func TestApprovalOfAnotherCommit(t *testing.T) {
	users := &config.Config{
		Users: []pipeline.User{{Name: "dev1", Teams: []string{"dev"}}, {Name: "kit", Teams: []string{"ops"}, Forge: map[string]string{"gitee": login}}},
		Teams: []pipeline.Team{{Name: "ops"}, {Name: "dev"}},
	}
	fg := fakegitee.New(t, apiToken)
	fg.Permissions[login] = "push"
	f := newFixture(t, users, fg)
	if _, err := f.engine.Request(t.Context(), users.Actor("dev1"), pipeline.Request{Project: "drone", Env: "preview", Ref: "patch-1"}); err != nil {
		t.Fatal(err)
	}
	f.deliver(mergeRequest, approved(t, "0123456789abcdef0123456789abcdef01234567"))
	f.until("the approval to be handled", f.handled)
	f.drain()
	if ds := f.deploys(); len(ds) != 1 || ds[0].State != pipeline.StateAwaitingApproval {
		t.Errorf("deploys = %+v, want one still awaiting approval", ds)
	}
	if cs := fg.Comments(); len(cs) != 0 {
		t.Errorf("comments = %+v, want none", cs)
	}
}
