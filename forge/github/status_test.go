package github

import (
	"strings"
	"testing"

	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
)

func TestPushDeploySetsCommitStatus(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	f := newFixtureWith(t, linked(), fg, func(c *Config) { c.BaseURL = "https://ferry.example.com/" })
	f.deliver("push", "d1", payload(t, "push.branch.json"))
	f.drain()
	sts := fg.Statuses()
	if len(sts) == 0 {
		t.Fatalf("no commit status; calls %v", fg.Calls())
	}
	want := fakegithub.Status{Repo: "Codertocat/Hello-World", SHA: after, State: "pending", Context: "ferry/staging",
		Description: "#1 master@199eddf: queued", TargetURL: "https://ferry.example.com/deploys/1"}
	if got := sts[len(sts)-1]; got != want {
		t.Errorf("status = %+v\nwant %+v", got, want)
	}
}

func TestRepoOfProject(t *testing.T) {
	ps := []pipeline.Project{
		{Name: "https", Repo: "https://github.com/Acme/Demo.git"}, {Name: "ssh", Repo: "git@github.com:Acme/Demo.git"},
		{Name: "short", Repo: "Acme/Demo"}, {Name: "ghes", Repo: "https://github.example.com/Acme/Demo.git"},
		{Name: "gitlab", Repo: "git@gitlab.com:Acme/Demo.git"}, {Name: "local", Repo: "/srv/git/demo.git"},
	}
	for host, want := range map[string][]string{
		"":                   {"https", "ssh", "short"},
		"github.example.com": {"short", "ghes"},
	} {
		var got []string
		for _, p := range ps {
			if r, ok := repoOn(p.Repo, host); ok {
				if r != "Acme/Demo" {
					t.Errorf("host %q: %s is %q", host, p.Name, r)
				}
				got = append(got, p.Name)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("host %q: on GitHub %v, want %v", host, got, want)
		}
	}
}
