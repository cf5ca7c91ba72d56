package gitee

import (
	"fmt"
	"testing"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/gitee/fakegitee"
	"github.com/ferrybot/ferry/pipeline"
)

const contents = "GET /api/v5/repos/kit101/drone-yml-test/contents/.ferry.yaml"

// repoConfigured is linked(), letting repositories set allow in their
// .ferry.yaml, and the option that makes the adapter read it.
func repoConfigured(allow ...string) (*config.Config, func(*Config)) {
	users := linked()
	users.Gitee.RepoConfig = &config.RepoConfig{Allow: allow}
	return users, func(c *Config) { c.RepoConfig = users.RepoRules("gitee") }
}

func TestPushReadsRepoConfig(t *testing.T) {
	cases := []struct {
		name, file string
		env        string // where the push deploys; "": nowhere
		batches    int    // of the deploy's own strategy; 0: none
		refused    bool   // a ferry/config check run says why
	}{
		{"no .ferry.yaml", "", "staging", 0, false},
		{"a narrowed strategy", "environments:\n  staging:\n    strategy: {batches: [1, 100%]}\n", "staging", 2, false},
		{"narrowed away", "environments:\n  staging: {branches: ['^main$']}\n", "", 0, false},
		{"refused", "environments:\n  staging:\n    strategy: {bake: 1h}\n    deployers: [kit]\n", "", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users, withRepo := repoConfigured("environments.*.branches", "environments.*.auto", "environments.staging.strategy.*")
			fg := fakegitee.New(t, apiToken)
			if c.file != "" {
				fg.SetFile(repoName, pushed, ".ferry.yaml", c.file)
			}
			f := newFixture(t, users, fg, withRepo, func(c *Config) { c.BaseURL = console })
			f.deliver("Push Hook", payload(t, "push_hooks.json"))
			f.deliver("Push Hook", edit(t, "push_hooks.json", map[string]any{"timestamp": "another"})) // another event at the same commit
			f.drain()
			if n := fg.Count(contents); n != 1 {
				t.Errorf("read .ferry.yaml %d times, want once for the commit", n)
			}
			ds := f.deploys()
			switch {
			case c.env == "" && len(ds) != 0:
				t.Fatalf("deploys = %+v, want none", ds)
			case c.env != "" && (len(ds) != 2 || ds[0].Env != c.env):
				t.Fatalf("deploys = %+v, want two to %s", ds, c.env)
			case c.batches != 0 && (ds[0].Strategy == nil || len(ds[0].Strategy.Batches) != c.batches):
				t.Errorf("deploy's strategy = %+v, want %d batches", ds[0].Strategy, c.batches)
			}
			var cfg []fakegitee.CheckRun
			for _, cr := range fg.CheckRuns() {
				if cr.Name == "ferry/config" {
					cfg = append(cfg, cr)
				}
			}
			if !c.refused {
				if len(cfg) != 0 {
					t.Errorf("ferry/config check runs = %+v, want none", cfg)
				}
				return
			}
			if len(cfg) != 1 || cfg[0].SHA != pushed || cfg[0].Status != "completed" || cfg[0].Conclusion != "cancelled" {
				t.Fatalf("ferry/config check runs = %+v, want one on %s, completed: cancelled", cfg, pushed)
			}
			golden(t, "check-run-config-refused", fmt.Sprintf("%s: %s (%s)\n%s\n\n%s\n", cfg[0].Name, cfg[0].Status, cfg[0].Conclusion, cfg[0].Title, cfg[0].Summary))
		})
	}
}

func TestCommentDeployReadsRepoConfig(t *testing.T) {
	const refused = `environments:
  staging:
    deployers: [kit]
    auto: false
  canary:
    branches: ['^main$']
`
	cases := []struct {
		name, file string
		golden     string
		batches    int // of a deploy's own strategy; 0: no deploy
	}{
		{"refused", refused, "comment-config-refused", 0},
		{"narrowed", "environments:\n  staging:\n    strategy: {batches: [1, 100%]}\n", "", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users, withRepo := repoConfigured("environments.*.branches", "environments.*.strategy.*")
			fg := fakegitee.New(t, apiToken)
			fg.Permissions[login] = "push"
			fg.PRs[7] = fakegitee.PR{State: "open", HeadRef: "feat-2", HeadSHA: updated}
			fg.SetFile(repoName, updated, ".ferry.yaml", c.file)
			f := newFixture(t, users, fg, withRepo)
			f.deliver(note, prComment(t, "/ferry deploy staging", "open"))
			f.drain()
			cs := fg.Comments()
			if len(cs) != 1 {
				t.Fatalf("comments = %+v, want one answer", cs)
			}
			if c.golden != "" {
				golden(t, c.golden, cs[0].Body)
			}
			ds := f.deploys()
			if c.batches == 0 {
				if len(ds) != 0 {
					t.Errorf("deploys = %+v, want none", ds)
				}
				return
			}
			if len(ds) != 1 || ds[0].Strategy == nil || len(ds[0].Strategy.Batches) != c.batches || ds[0].State != pipeline.StateSucceeded {
				t.Errorf("deploys = %+v, want one with the .ferry.yaml's strategy, succeeded", ds)
			}
		})
	}
}

// TestNewHeadChecksRepoConfig: a pull request whose new head has a refused
// .ferry.yaml is told so before anyone asks ferry for anything.
func TestNewHeadChecksRepoConfig(t *testing.T) {
	users, withRepo := repoConfigured("environments.*.approvals.required")
	fg := fakegitee.New(t, apiToken)
	fg.SetFile(repoName, updated, ".ferry.yaml", "environments:\n  staging:\n    approvals: 0\n    target: {type: local, root: /tmp}\n  review: {}\n")
	f := newFixture(t, users, fg, withRepo)
	f.deliver(mergeRequest, payload(t, "merge_request_hooks.update.json"))
	f.drain()
	cs := fg.Comments()
	if len(cs) != 1 || cs[0].Number != 7 {
		t.Fatalf("comments = %+v, want one on #7", cs)
	}
	golden(t, "pr-config-refused", cs[0].Body)
}
