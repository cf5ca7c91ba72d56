package gitee

import (
	"testing"

	"github.com/ferrybot/ferry/forge/gitee/fakegitee"
	"github.com/ferrybot/ferry/pipeline"
)

const mergeRequest = "Merge Request Hook"

// labelUpdate is the real update of pull request 7 (head feat-2) as Gitee
// sends it when its labels change, with labels.
func labelUpdate(t *testing.T, state string, names ...string) []byte {
	t.Helper()
	return edit(t, "merge_request_hooks.update.json", map[string]any{"action_desc": labelChange,
		"pull_request.labels": labels(names...), "pull_request.state": state, "state": state})
}

// notDenied are the deploys that were not denied.
func notDenied(ds []pipeline.Deploy) []pipeline.Deploy {
	var out []pipeline.Deploy
	for _, d := range ds {
		if d.State != pipeline.StateDenied {
			out = append(out, d)
		}
	}
	return out
}

func TestDeployLabels(t *testing.T) {
	cases := []struct {
		name       string
		bodies     func(t *testing.T) [][]byte // delivered in order
		permission string
		golden     string // "": no answer
		head       string // the branch deployed to staging; "": none
		number     int    // of the pull request answered
	}{
		{"opened with the label", func(t *testing.T) [][]byte {
			return [][]byte{edit(t, "merge_request_hooks.open.json", map[string]any{"pull_request.labels": labels("bug", "deploy/staging")})}
		}, "write", "label-deploy", "feat-3", 9},
		{"the label added", func(t *testing.T) [][]byte {
			return [][]byte{labelUpdate(t, "open", "bug"), labelUpdate(t, "open", "bug", "deploy/staging")}
		}, "admin", "label-deploy-added", "feat-2", 7},
		{"the label added to a pull request ferry has not seen", func(t *testing.T) [][]byte {
			return [][]byte{labelUpdate(t, "open", "deploy/staging")}
		}, "push", "label-deploy-added", "feat-2", 7},
		{"a new head with the label", func(t *testing.T) [][]byte {
			return [][]byte{edit(t, "merge_request_hooks.update.json", map[string]any{"pull_request.labels": labels("deploy/staging")})}
		}, "write", "label-deploy-added", "feat-2", 7},
		{"another label added beside it", func(t *testing.T) [][]byte {
			return [][]byte{
				edit(t, "merge_request_hooks.update.json", map[string]any{"action_desc": "title_changed", "pull_request.labels": labels("deploy/staging")}),
				labelUpdate(t, "open", "deploy/staging", "bug"),
			}
		}, "write", "", "", 0},
		{"the label removed", func(t *testing.T) [][]byte {
			return [][]byte{
				edit(t, "merge_request_hooks.update.json", map[string]any{"action_desc": "title_changed", "pull_request.labels": labels("deploy/staging")}),
				labelUpdate(t, "open"),
			}
		}, "write", "", "", 0},
		{"a labeller who may only read", func(t *testing.T) [][]byte {
			return [][]byte{labelUpdate(t, "open", "deploy/staging")}
		}, "read", "label-no-write", "", 7},
		{"a labeller who is no member", func(t *testing.T) [][]byte {
			return [][]byte{labelUpdate(t, "open", "deploy/staging")}
		}, "", "label-no-member", "", 7},
		{"another label", func(t *testing.T) [][]byte {
			return [][]byte{labelUpdate(t, "open", "bug")}
		}, "write", "", "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fg := fakegitee.New(t, apiToken)
			if c.permission != "" {
				fg.Permissions[login] = c.permission
			}
			f := newFixture(t, linked(), fg)
			for _, b := range c.bodies(t) {
				f.deliver(mergeRequest, b)
				f.until("the delivery to be handled", func() bool { return f.handled() })
			}
			f.drain()
			cs := fg.Comments()
			switch {
			case c.golden == "" && len(cs) != 0:
				t.Errorf("answered: %+v", cs)
			case c.golden != "" && len(cs) != 1:
				t.Fatalf("comments = %+v, want 1", cs)
			case c.golden != "":
				if cs[0].Repo != repoName || cs[0].Number != c.number {
					t.Errorf("answered on %s#%d, want #%d", cs[0].Repo, cs[0].Number, c.number)
				}
				golden(t, c.golden, cs[0].Body)
			}
			ok := notDenied(f.deploys())
			if c.head == "" {
				if len(ok) != 0 {
					t.Errorf("deploys = %+v, want none", ok)
				}
				return
			}
			if len(ok) != 1 || ok[0].Env != "staging" || ok[0].Ref != c.head || ok[0].Requester != "kit" || ok[0].State != pipeline.StateSucceeded {
				t.Errorf("deploys = %+v, want %s to staging by kit, succeeded", ok, c.head)
			}
		})
	}
}

// handled reports whether every delivery stored has been handled.
func (f *fixture) handled() bool {
	f.t.Helper()
	backlog, err := f.store.InboxBacklog(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	return len(backlog) == 0
}

// TestClosedPullRequestLabels: a pull request merged or closed with a
// deploy label, or labelled once closed, deploys nothing and costs no
// call.
func TestClosedPullRequestLabels(t *testing.T) {
	for name, body := range map[string]func(t *testing.T) []byte{
		"merged with the label": func(t *testing.T) []byte {
			return edit(t, "merge_request_hooks.merge.json", map[string]any{"pull_request.labels": labels("deploy/staging")})
		},
		"closed with the label": func(t *testing.T) []byte {
			return edit(t, "merge_request_hooks.open.json", map[string]any{"action": "close", "state": "closed",
				"pull_request.state": "closed", "pull_request.labels": labels("deploy/staging")})
		},
		"labelled once closed": func(t *testing.T) []byte { return labelUpdate(t, "closed", "deploy/staging") },
	} {
		t.Run(name, func(t *testing.T) {
			fg := fakegitee.New(t, apiToken)
			fg.Permissions[login] = "admin"
			f := newFixture(t, linked(), fg)
			f.deliver(mergeRequest, body(t))
			f.drain()
			if ds := f.deploys(); len(ds) != 0 {
				t.Errorf("deploys = %+v, want none", ds)
			}
			if calls := fg.Calls(); len(calls) != 0 {
				t.Errorf("calls = %v, want none", calls)
			}
		})
	}
}

// TestForkLabel: a deploy label on a pull request from a fork deploys
// nothing, and says why.
func TestForkLabel(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	fg.Permissions[login] = "admin"
	f := newFixture(t, linked(), fg)
	f.deliver(mergeRequest, edit(t, "merge_request_hooks.open.json", map[string]any{
		"pull_request.labels": labels("deploy/staging"), "pull_request.head.repo.full_name": "someone/drone-yml-test",
		"pull_request.head.repo.path_with_namespace": "someone/drone-yml-test"}))
	f.drain()
	cs := fg.Comments()
	if len(cs) != 1 {
		t.Fatalf("comments = %+v, want one", cs)
	}
	golden(t, "label-fork", cs[0].Body)
	if ds := f.deploys(); len(ds) != 0 {
		t.Errorf("deploys = %+v, want none", ds)
	}
}
