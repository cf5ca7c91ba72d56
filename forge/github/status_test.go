package github

import (
	"errors"
	"fmt"
	"path/filepath"
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

// TestStatusDescriptions renders the status of a deploy in every state
// into testdata/statuses.golden.
func TestStatusDescriptions(t *testing.T) {
	var b strings.Builder
	for _, s := range []pipeline.State{
		pipeline.StateRequested, pipeline.StateAwaitingApproval, pipeline.StateQueued, pipeline.StateRunning, pipeline.StatePaused,
		pipeline.StateSucceeded, pipeline.StateFailed, pipeline.StateRollingBack, pipeline.StateRolledBack,
		pipeline.StateDenied, pipeline.StateRejected, pipeline.StateExpired, pipeline.StateCancelled,
	} {
		d := pipeline.Deploy{ID: 12, Version: "v1.2.0", State: s, ApprovalsRequired: 2}
		switch statusState(s) {
		case "failure", "error":
			d.Reason = "web2: health check failed: GET http://web2/healthz: 503 Service Unavailable"
		}
		fmt.Fprintf(&b, "%-8s %s\n", statusState(s), statusDescription(d))
	}
	long := pipeline.Deploy{ID: 13, Version: "main@abcdef1", State: pipeline.StateFailed, Reason: strings.Repeat("a unit failed; ", 20)}
	fmt.Fprintf(&b, "%-8s %s\n", statusState(long.State), statusDescription(long))
	refused := &refusedConfig{sha: after, problems: errors.New(".ferry.yaml:3: environments.staging.deployers is set only in ferry's own configuration: a repository cannot change who may deploy\n" +
		".ferry.yaml:7: environment canary is not one of project hello's in ferry's configuration")}
	fmt.Fprintf(&b, "%-8s %s\n", "error", configDescription(refused))
	goldenAt(t, filepath.Join("testdata", "statuses.golden"), b.String())
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
		a := &Adapter{engine: projects{ps: ps}, host: host}
		var got []string
		for _, p := range ps {
			if r, ok := a.repoOfProject(p.Name); ok {
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
