package github

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
)

// prEvent is a real pull_request payload with its head branch and labels
// replaced, and, for labeled, the label added.
func prEvent(t *testing.T, file, head, label string, labels ...string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload(t, file), &m); err != nil {
		t.Fatal(err)
	}
	pr := m["pull_request"].(map[string]any)
	pr["head"].(map[string]any)["ref"] = head
	ls := []any{}
	for _, l := range labels {
		ls = append(ls, map[string]any{"name": l})
	}
	pr["labels"] = ls
	if label != "" {
		m["label"] = map[string]any{"name": label}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeployLabels(t *testing.T) {
	cases := []struct {
		name       string
		body       func(t *testing.T) []byte
		permission string
		golden     string // "": no answer
		deployed   bool   // a deploy that was not denied
	}{
		{"labeled", func(t *testing.T) []byte {
			return prEvent(t, "pull_request.labeled.json", "master", "deploy/staging", "bug", "deploy/staging")
		}, "write", "label-deploy", true},
		{"a new push while labeled", func(t *testing.T) []byte {
			return prEvent(t, "pull_request.synchronize.json", "master", "", "deploy/staging")
		}, "write", "label-deploy", true},
		{"a branch that maps to no environment", func(t *testing.T) []byte {
			return prEvent(t, "pull_request.labeled.json", "changes", "deploy/staging", "deploy/staging")
		}, "write", "label-no-environment", false},
		{"a labeler without write permission", func(t *testing.T) []byte {
			return prEvent(t, "pull_request.labeled.json", "master", "deploy/staging", "deploy/staging")
		}, "read", "label-no-write", false},
		{"another label", func(t *testing.T) []byte {
			return prEvent(t, "pull_request.labeled.json", "master", "bug", "bug")
		}, "write", "", false},
		{"a new push without the label", func(t *testing.T) []byte {
			return prEvent(t, "pull_request.synchronize.json", "master", "", "bug")
		}, "write", "", false},
		{"closed with the label", func(t *testing.T) []byte {
			return prEvent(t, "pull_request.closed.json", "master", "", "deploy/staging")
		}, "write", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fg := fakegithub.New(t, apiToken)
			fg.Permissions["Codertocat"] = c.permission
			f := newFixtureWith(t, linked(), fg)
			if got := f.deliver("pull_request", "d1", c.body(t)); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			cs := fg.Comments()
			switch {
			case c.golden == "" && len(cs) != 0:
				t.Errorf("answered: %+v", cs)
			case c.golden != "" && len(cs) != 1:
				t.Fatalf("comments = %+v, want 1", cs)
			case c.golden != "":
				golden(t, c.golden, cs[0].Body)
			}
			var ok []pipeline.Deploy
			for _, d := range f.deploys() {
				if d.State != pipeline.StateDenied {
					ok = append(ok, d)
				}
			}
			if c.deployed != (len(ok) == 1) || len(ok) > 1 {
				t.Fatalf("deploys = %+v, want deployed %v", ok, c.deployed)
			}
			if c.deployed && (ok[0].Env != "staging" || ok[0].Ref != "master" || ok[0].Requester != "octo") {
				t.Errorf("deploy = %+v, want master to staging by octo", ok[0])
			}
		})
	}
}
