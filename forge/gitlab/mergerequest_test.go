package gitlab

import (
	"net/http"
	"testing"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/gitlab/fakegitlab"
	"github.com/ferrybot/ferry/pipeline"
)

// newCommit is the real update with new commits (oldrev), moved to the
// test project, its head on branch head at mrHead, with labels.
func newCommit(t testing.TB, head string, ls ...string) []byte {
	return edited(t, "merge_request.update.new-commit.json", func(m map[string]any) {
		a := attrs(m)
		a["source_branch"] = head
		a["last_commit"].(map[string]any)["id"] = mrHead
		a["labels"], m["labels"] = labels(ls...), labels(ls...)
	})
}

// opened is the real open, moved to the test project, its head on branch
// head at mrHead, with labels.
func opened(t testing.TB, head string, ls ...string) []byte {
	return edited(t, "merge_request.open.json", func(m map[string]any) {
		a := attrs(m)
		a["source_branch"] = head
		a["last_commit"].(map[string]any)["id"] = mrHead
		a["labels"], m["labels"] = labels(ls...), labels(ls...)
	})
}

func TestDeployLabels(t *testing.T) {
	users := linked()
	users.Users = append(users.Users,
		pipeline.User{Name: "quan", Forge: map[string]string{"gitlab": "quan.hoang"}},
		pipeline.User{Name: "one", Forge: map[string]string{"gitlab": "user1"}})
	cases := []struct {
		name     string
		body     func(t *testing.T) []byte
		role     int
		golden   string // "": no answer
		deployed string // the requester of a deploy that was not denied; "": none
	}{
		{"a label added", func(t *testing.T) []byte {
			return labeled(t, "master", []string{"API"}, []string{"API", "deploy/staging"})
		}, fakegitlab.Developer, "label-deploy", "simon"},
		{"new commits while labeled (a user without an id)", func(t *testing.T) []byte {
			return newCommit(t, "master", "deploy/staging")
		}, fakegitlab.Developer, "label-new-commits", "quan"},
		{"opened with the label", func(t *testing.T) []byte {
			return opened(t, "master", "deploy/staging")
		}, fakegitlab.Maintainer, "label-opened", "one"},
		{"a branch that maps to no environment", func(t *testing.T) []byte {
			return labeled(t, "changes", nil, []string{"deploy/staging"})
		}, fakegitlab.Developer, "label-no-environment", ""},
		{"a reporter adds the label", func(t *testing.T) []byte {
			return labeled(t, "master", nil, []string{"deploy/staging"})
		}, fakegitlab.Reporter, "label-reporter", ""},
		{"someone who is not a member", func(t *testing.T) []byte {
			return labeled(t, "master", nil, []string{"deploy/staging"})
		}, 0, "label-no-role", ""},
		{"a fork", func(t *testing.T) []byte {
			return edited(t, "merge_request.update.mark-as-ready.json", func(m map[string]any) {
				a := attrs(m)
				a["source_branch"], a["source_project_id"] = "master", 4242
				a["source"] = map[string]any{"path_with_namespace": "sheather/atlantis-example", "web_url": "https://gitlab.com/sheather/atlantis-example"}
				m["changes"] = map[string]any{"labels": map[string]any{"previous": labels(), "current": labels("deploy/staging")}}
				m["labels"] = labels("deploy/staging")
			})
		}, fakegitlab.Developer, "label-fork", ""},
		{"another label", func(t *testing.T) []byte {
			return labeled(t, "master", nil, []string{"bug"})
		}, fakegitlab.Developer, "", ""},
		{"the label removed", func(t *testing.T) []byte {
			return labeled(t, "master", []string{"deploy/staging"}, nil)
		}, fakegitlab.Developer, "", ""},
		{"new commits without the label", func(t *testing.T) []byte {
			return newCommit(t, "master", "bug")
		}, fakegitlab.Developer, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fg := withFake(t)
			fg.AddUser("quan.hoang", 255)
			fg.AddUser("user1", 1)
			for _, u := range []string{sender, "quan.hoang", "user1"} {
				fg.SetMember(u, c.role)
			}
			f := newFixture(t, users, fg)
			if got := f.deliver("Merge Request Hook", "k1", c.body(t)); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			ns := fg.Notes()
			switch {
			case c.golden == "" && len(ns) != 0:
				t.Errorf("answered: %+v", ns)
			case c.golden != "" && len(ns) != 1:
				t.Fatalf("notes = %+v, want 1", ns)
			case c.golden != "":
				golden(t, c.golden, ns[0].Body)
			}
			var ok []pipeline.Deploy
			for _, d := range f.deploys() {
				if d.State != pipeline.StateDenied {
					ok = append(ok, d)
				}
			}
			if (c.deployed != "") != (len(ok) == 1) || len(ok) > 1 {
				t.Fatalf("deploys = %+v, want one by %q", ok, c.deployed)
			}
			if c.deployed != "" && (ok[0].Env != "staging" || ok[0].Ref != "master" || ok[0].Commit != mrHead || ok[0].Requester != c.deployed) {
				t.Errorf("deploy = %+v, want master at %s to staging by %s", ok[0], mrHead, c.deployed)
			}
		})
	}
}

// TestClosedMergeRequestsDoNothing: a deploy label added to a closed
// merge request, and one closed or merged with the label, deploy nothing
// and cost no call.
func TestClosedMergeRequestsDoNothing(t *testing.T) {
	cases := map[string][]byte{
		"a label added to a closed merge request": edited(t, "merge_request.close.json", func(m map[string]any) {
			attrs(m)["action"] = "update"
			m["changes"] = map[string]any{"labels": map[string]any{"previous": labels(), "current": labels("deploy/staging")}}
			m["labels"] = labels("deploy/staging")
		}),
		"closed with the label": edited(t, "merge_request.close.json", func(m map[string]any) { m["labels"] = labels("deploy/staging") }),
		"merged with the label": edited(t, "merge_request.merge.json", func(m map[string]any) { m["labels"] = labels("deploy/staging") }),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			fg := withFake(t)
			fg.SetMember("sytses", fakegitlab.Owner)
			f := newFixture(t, linked(), fg)
			if got := f.deliver("Merge Request Hook", "k1", body); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			if c := fg.Calls(); len(c) != 0 {
				t.Errorf("called GitLab: %v", c)
			}
			if ds := f.deploys(); len(ds) != 0 {
				t.Errorf("deployed: %+v", ds)
			}
			r, err := f.store.DeliveryOf(t.Context(), platform, "k1")
			if err != nil || r.Outcome != "processed Merge Request Hook" {
				t.Errorf("delivery = %+v, %v; want it processed", r, err)
			}
		})
	}
}

// TestApprovalApprovesPendingDeploy: an approval of a merge request is the
// approver's approval of the deploys of its head commit that await one.
func TestApprovalApprovesPendingDeploy(t *testing.T) {
	cases := []struct {
		name, team string
		role       int
		golden     string
		want       pipeline.State
	}{
		{"an approver", "ops", fakegitlab.Developer, "approval-approves", pipeline.StateQueued},
		{"not an approver", "dev", fakegitlab.Developer, "approval-not-approver", pipeline.StateAwaitingApproval},
		{"a reporter", "ops", fakegitlab.Reporter, "approval-reporter", pipeline.StateAwaitingApproval},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users := &config.Config{
				Users: []pipeline.User{{Name: "dev1", Teams: []string{"dev"}}, {Name: "rev", Teams: []string{c.team}, Forge: map[string]string{"gitlab": sender}}},
				Teams: []pipeline.Team{{Name: "ops"}, {Name: "dev"}},
			}
			fg := withFake(t)
			fg.SetMember(sender, c.role)
			f := newFixture(t, users, fg)
			d, err := f.engine.Request(t.Context(), users.Actor("dev1"), pipeline.Request{Project: "hello", Env: "preview", Ref: "patch"})
			if err != nil || d.State != pipeline.StateAwaitingApproval {
				t.Fatalf("Request = %+v, %v; want a deploy awaiting approval", d, err)
			}
			if got := f.deliver("Merge Request Hook", "k1", approval(t, "approved", patchHead)); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			ns := fg.Notes()
			if len(ns) != 1 || ns[0].MR != readyMR {
				t.Fatalf("notes = %+v, want one on !%d", ns, readyMR)
			}
			golden(t, c.golden, ns[0].Body)
			if ds := f.deploys(); len(ds) != 1 || ds[0].State != c.want {
				t.Errorf("deploys = %+v, want one %s", ds, c.want)
			}
		})
	}
}

// approval is mark-as-ready.json as an approval (action approved, or
// approval when more are needed) of branch patch at head.
func approval(t testing.TB, action, head string) []byte {
	return edited(t, "merge_request.update.mark-as-ready.json", func(m map[string]any) {
		a := attrs(m)
		a["action"], a["source_branch"] = action, "patch"
		a["last_commit"].(map[string]any)["id"] = head
	})
}

// TestApprovalOfAnotherCommit: an approval approves the commit it saw, not
// a deploy of the branch at another; an approval with more to come counts
// as one.
func TestApprovalOfAnotherCommit(t *testing.T) {
	users := &config.Config{
		Users: []pipeline.User{{Name: "dev1", Teams: []string{"dev"}}, {Name: "rev", Teams: []string{"ops"}, Forge: map[string]string{"gitlab": sender}}},
		Teams: []pipeline.Team{{Name: "ops"}, {Name: "dev"}},
	}
	fg := withFake(t)
	fg.SetMember(sender, fakegitlab.Developer)
	f := newFixture(t, users, fg)
	d, err := f.engine.Request(t.Context(), users.Actor("dev1"), pipeline.Request{Project: "hello", Env: "preview", Ref: "patch"})
	if err != nil {
		t.Fatal(err)
	}
	f.deliver("Merge Request Hook", "k1", approval(t, "approved", "0123456789abcdef0123456789abcdef01234567"))
	f.settle()
	if ds := f.deploys(); len(ds) != 1 || ds[0].ID != d.ID || ds[0].State != pipeline.StateAwaitingApproval {
		t.Errorf("deploys = %+v, want deploy %d still awaiting approval", ds, d.ID)
	}
	if ns := fg.Notes(); len(ns) != 0 {
		t.Errorf("notes = %+v, want none", ns)
	}
	f.deliver("Merge Request Hook", "k2", approval(t, "approval", patchHead))
	f.drain()
	if ds := f.deploys(); ds[0].State != pipeline.StateQueued {
		t.Errorf("deploy = %+v after an approval, want queued", ds[0])
	}
}
