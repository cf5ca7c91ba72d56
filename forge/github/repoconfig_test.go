package github

import (
	"slices"
	"testing"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
)

const (
	repo     = "Codertocat/Hello-World"
	contents = "GET /api/v3/repos/Codertocat/Hello-World/contents/.ferry.yaml"
	// prHead is the head commit of pull request 2 in the real
	// pull_request payloads.
	prHead = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
)

// repoConfigured is linked(), with chhsia0 as chen, letting repositories
// set allow in their .ferry.yaml, and the option that makes the adapter
// read it.
func repoConfigured(allow ...string) (*config.Config, func(*Config)) {
	users := linked()
	users.Users = append(users.Users, pipeline.User{Name: "chen", Forge: map[string]string{"github": commenter}})
	users.GitHub.RepoConfig = &config.RepoConfig{Allow: allow}
	return users, func(c *Config) { c.RepoConfig = users.RepoRules("github") }
}

func TestPushReadsRepoConfig(t *testing.T) {
	cases := []struct {
		name, file string
		env        string // where the push deploys; "": nowhere, not even denied
		batches    int    // of the deploy's own strategy; 0: it has none
		status     string // the golden file of the ferry/config status; "": none
	}{
		{"no .ferry.yaml", "", "staging", 0, ""},
		{"a narrowed strategy", "environments:\n  staging:\n    strategy: {batches: [1, 100%]}\n", "staging", 2, ""},
		{"narrowed away", "environments:\n  staging: {branches: ['^main$']}\n", "", 0, ""},
		{"routed where ferry.yaml does not take it", "environments:\n  staging: {branches: ['^main$']}\n  review: {branches: ['^master$'], auto: true}\n", "", 0, ""},
		{"refused", "environments:\n  staging:\n    strategy: {bake: 1h}\n    deployers: [octo]\n", "", 0, "status-config-refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users, withRepo := repoConfigured("environments.*.branches", "environments.*.auto", "environments.staging.strategy.*")
			fg := fakegithub.New(t, apiToken)
			if c.file != "" {
				fg.SetFile(repo, after, ".ferry.yaml", c.file)
			}
			f := newFixtureWith(t, users, fg, withRepo)
			f.deliver("push", "d1", payload(t, "push.branch.json"))
			f.deliver("push", "d2", append(payload(t, "push.branch.json"), '\n')) // another event at the same commit
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
			case c.env != "" && c.batches == 0 && ds[0].Strategy != nil:
				t.Errorf("deploy keeps strategy %+v, want none of its own", ds[0].Strategy)
			case c.batches != 0 && (ds[0].Strategy == nil || len(ds[0].Strategy.Batches) != c.batches):
				t.Errorf("deploy's strategy = %+v, want %d batches", ds[0].Strategy, c.batches)
			}
			var config []fakegithub.Status
			for _, s := range fg.Statuses() {
				if s.Context == "ferry/config" {
					config = append(config, s)
				}
			}
			if c.status == "" {
				if len(config) != 0 {
					t.Errorf("config statuses = %+v, want none", config)
				}
				return
			}
			if len(config) == 0 || config[0].State != "error" || config[0].SHA != after {
				t.Fatalf("config statuses = %+v, want an error on %s", config, after)
			}
			golden(t, c.status, config[0].Description)
		})
	}
}

func TestLabelOptionalEnvironment(t *testing.T) {
	cases := []struct {
		name, file string
		golden     string // the answer's; "": not compared
		deployed   bool
	}{
		{"not added", "", "label-optional", false},
		{"added", "environments:\n  review: {}\n", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users, withRepo := repoConfigured()
			fg := fakegithub.New(t, apiToken)
			fg.Permissions["Codertocat"] = "write"
			if c.file != "" {
				fg.SetFile(repo, prHead, ".ferry.yaml", c.file)
			}
			f := newFixtureWith(t, users, fg, withRepo)
			f.deliver("pull_request", "d1", prEvent(t, "pull_request.labeled.json", "patch-2", "deploy/review", "deploy/review"))
			f.drain()
			cs := fg.Comments()
			if len(cs) != 1 {
				t.Fatalf("comments = %+v, want one answer", cs)
			}
			if c.golden != "" {
				golden(t, c.golden, cs[0].Body)
			}
			ds := f.deploys()
			if got := len(ds) == 1 && ds[0].Env == "review" && ds[0].State == pipeline.StateQueued; got != c.deployed {
				t.Errorf("deploys = %+v; want a queued deploy to review: %v", ds, c.deployed)
			}
		})
	}
}

func TestCommentDeployReadsRepoConfig(t *testing.T) {
	const refused = `environments:
  staging:
    deployers: [chen]
    auto: false
  canary:
    branches: ['^main$']
`
	cases := []struct {
		name, file string
		golden     string
		reaction   string
		batches    int // of a deploy's own strategy; 0: no deploy
	}{
		{"refused", refused, "comment-config-refused", "confused", 0},
		{"narrowed", "environments:\n  staging:\n    strategy: {batches: [1, 50%, 100%], continue: manual}\n", "", "rocket", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users, withRepo := repoConfigured("environments.*.branches", "environments.*.strategy.*")
			fg := fakegithub.New(t, apiToken)
			fg.Permissions[commenter] = "write"
			fg.PRs[3] = fakegithub.PR{State: "open", HeadRef: "master", HeadSHA: prHead}
			fg.SetFile(repo, prHead, ".ferry.yaml", c.file)
			f := newFixtureWith(t, users, fg, withRepo)
			f.deliver("issue_comment", "d1", prComment(t, "/ferry deploy staging", "open"))
			f.drain()
			cs := fg.Comments()
			if len(cs) != 1 {
				t.Fatalf("comments = %+v, want one answer", cs)
			}
			if c.golden != "" {
				golden(t, c.golden, cs[0].Body)
			}
			if rs := fg.Reactions(); len(rs) != 2 || rs[1].Content != c.reaction {
				t.Errorf("reactions = %+v, want eyes then %s", rs, c.reaction)
			}
			ds := f.deploys()
			if c.batches == 0 {
				if len(ds) != 0 {
					t.Errorf("deploys = %+v, want none", ds)
				}
				return
			}
			if len(ds) != 1 || ds[0].Strategy == nil || len(ds[0].Strategy.Batches) != c.batches || ds[0].Strategy.Continue != pipeline.ContinueManual {
				t.Errorf("deploys = %+v, want one with the .ferry.yaml's strategy", ds)
			}
		})
	}
}

// TestNewHeadChecksRepoConfig: a pull request whose new head has a refused
// .ferry.yaml is told so, before anyone asks ferry for anything; a good
// one, or none, costs one read and says nothing.
func TestNewHeadChecksRepoConfig(t *testing.T) {
	cases := []struct {
		name, file string
		golden     string // "": no comment
	}{
		{"refused", "environments:\n  preview:\n    approvals: 0\n    target: {type: local, root: /tmp}\n  review: {}\n", "pr-config-refused"},
		{"good", "environments:\n  review: {}\n", ""},
		{"none", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users, withRepo := repoConfigured("environments.*.approvals.required")
			fg := fakegithub.New(t, apiToken)
			if c.file != "" {
				fg.SetFile(repo, prHead, ".ferry.yaml", c.file)
			}
			f := newFixtureWith(t, users, fg, withRepo)
			f.deliver("pull_request", "d1", payload(t, "pull_request.synchronize.json"))
			f.deliver("pull_request", "d2", payload(t, "pull_request.labeled.json")) // a label other than deploy/*: the head did not change
			f.drain()
			cs := fg.Comments()
			if c.golden == "" {
				if len(cs) != 0 || !slices.Equal(fg.Calls(), []string{contents}) {
					t.Errorf("comments %+v, calls %v; want no comment and one read", cs, fg.Calls())
				}
				return
			}
			if len(cs) != 1 || cs[0].Number != 2 {
				t.Fatalf("comments = %+v, want one on #2", cs)
			}
			golden(t, c.golden, cs[0].Body)
		})
	}
}
