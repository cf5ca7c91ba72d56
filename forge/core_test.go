package forge

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/internal/golden"
	"github.com/ferrybot/ferry/pipeline"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func TestRepoKey(t *testing.T) {
	want := "github.com/codertocat/hello-world"
	for _, u := range []string{
		"https://github.com/Codertocat/Hello-World.git",
		"https://github.com/Codertocat/Hello-World",
		"https://x-access-token:abc@github.com/Codertocat/Hello-World.git",
		"git@github.com:Codertocat/Hello-World.git",
		"ssh://git@github.com/Codertocat/Hello-World.git",
		"github.com/Codertocat/Hello-World/",
	} {
		if got := RepoKey(u); got != want {
			t.Errorf("RepoKey(%q) = %q, want %q", u, got, want)
		}
	}
	if got := RepoKey("Codertocat/Hello-World"); got != "codertocat/hello-world" {
		t.Errorf("owner/name: %q", got)
	}
	if got := RepoPath("git@gitlab.example.com:Group/Sub/Demo.git"); got != "gitlab.example.com/Group/Sub/Demo" {
		t.Errorf("a GitLab subgroup's path: %q", got)
	}
}

// projects is an Engine with projects only.
type projects struct {
	Engine
	ps []pipeline.Project
}

func (p projects) Projects() []pipeline.Project { return p.ps }

func TestProjectsOfMatchesEveryAddress(t *testing.T) {
	repo := Repo{FullName: "Codertocat/Hello-World", CloneURL: "https://github.com/Codertocat/Hello-World.git",
		SSHURL: "git@github.com:Codertocat/Hello-World.git", HTMLURL: "https://github.com/Codertocat/Hello-World"}
	var ps []pipeline.Project
	for i, r := range []string{"git@github.com:Codertocat/Hello-World.git", "https://github.com/codertocat/hello-world", "Codertocat/Hello-World",
		"ssh://git@github.com/Codertocat/Hello-World.git", "https://github.com/Codertocat/Other.git", "git@gitlab.com:Codertocat/Hello-World.git"} {
		ps = append(ps, pipeline.Project{Name: fmt.Sprint(i), Repo: r})
	}
	c := &Core{engine: projects{ps: ps}}
	var got []string
	for _, p := range c.ProjectsOf(repo) {
		got = append(got, p.Name)
	}
	if want := []string{"0", "1", "2", "3"}; !slices.Equal(got, want) {
		t.Errorf("ProjectsOf = %v, want %v", got, want)
	}
}

// TestAccessKeptIsBounded: however many people comment, a Core keeps
// maxAccess entries at most, dropping the expired ones first, then the one
// that expires first.
func TestAccessKeptIsBounded(t *testing.T) {
	a := accessCache{entries: map[string]accessEntry{}}
	for i := range maxAccess {
		a.keep(fmt.Sprint("acme/demo/", i), accessEntry{access: Access{Has: "read"}, expires: t0.Add(time.Duration(i+1) * time.Second)}, t0)
	}
	a.keep("acme/demo/new", accessEntry{access: Access{MayAsk: true}, expires: t0.Add(accessTTL)}, t0)
	if _, ok := a.entries["acme/demo/0"]; len(a.entries) != maxAccess || ok {
		t.Errorf("%d kept, the first to expire kept %v; want %d, not", len(a.entries), ok, maxAccess)
	}
	later := t0.Add(10 * time.Second) // 0 to 9 expired by then
	a.keep("acme/demo/newer", accessEntry{access: Access{MayAsk: true}, expires: later.Add(accessTTL)}, later)
	if len(a.entries) != maxAccess-8 || !a.entries["acme/demo/newer"].access.MayAsk || a.entries["acme/demo/10"].access.Has != "read" {
		t.Errorf("%d kept after the expired went; want %d", len(a.entries), maxAccess-8)
	}
}

func TestProduction(t *testing.T) {
	for env, want := range map[string]bool{
		"prod": true, "production": true, "Prod": true, "prod-eu": true, "production_2": true,
		"staging": false, "preprod": false, "products": false, "preview": false, "": false,
	} {
		if got := Production(env); got != want {
			t.Errorf("Production(%q) = %v, want %v", env, got, want)
		}
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
		switch StatusOf(s) {
		case StatusFailure, StatusError:
			d.Reason = "web2: health check failed: GET http://web2/healthz: 503 Service Unavailable"
		}
		fmt.Fprintf(&b, "%-8s %s\n", StatusOf(s), StatusDescription(d))
	}
	long := pipeline.Deploy{ID: 13, Version: "main@abcdef1", State: pipeline.StateFailed, Reason: strings.Repeat("a unit failed; ", 20)}
	fmt.Fprintf(&b, "%-8s %s\n", StatusOf(long.State), StatusDescription(long))
	refused := &refusedConfig{sha: "199eddf46df50de8d02e99bf1c5fdb4101338224", problems: errors.New(".ferry.yaml:3: environments.staging.deployers is set only in ferry's own configuration: a repository cannot change who may deploy\n" +
		".ferry.yaml:7: environment canary is not one of project hello's in ferry's configuration")}
	fmt.Fprintf(&b, "%-8s %s\n", "error", configDescription(refused))
	golden.CheckString(t, filepath.Join("testdata", "statuses.golden"), b.String())
}

func TestOriginRoundTrips(t *testing.T) {
	for _, pr := range []prRef{
		{platform: "github", repo: "Codertocat/Hello-World", number: 3, login: "octocat"},
		{platform: "gitlab", repo: "group/sub/demo", number: 12, login: "root"},
	} {
		got, ok := parseOrigin(pr.platform, pr.origin())
		if !ok || got != pr {
			t.Errorf("parseOrigin(%q) = %+v, %v", pr.origin(), got, ok)
		}
		if _, ok := parseOrigin("gitee", pr.origin()); ok {
			t.Errorf("gitee read %q, another forge's origin", pr.origin())
		}
	}
	for _, o := range []string{"", "github:", "github:acme/demo", "github:#3 x", "github:acme/demo#x y", "web:alice"} {
		if pr, ok := parseOrigin("github", o); ok {
			t.Errorf("parseOrigin(%q) = %+v, want none", o, pr)
		}
	}
}

// TestSubscriberFollowsTheProjects: what a forge is owed of a deploy
// follows where its project's repository is now, as a reload of the
// configuration says.
func TestSubscriberFollowsTheProjects(t *testing.T) {
	src := &projects{ps: []pipeline.Project{{Name: "demo", Repo: "https://github.com/acme/demo.git"}}}
	s := NewSubscriber("github", src, func(u string) (string, bool) { return u, strings.Contains(u, "github.com") }, false)
	d := pipeline.Deploy{ID: 1, Project: "demo", Commit: "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", State: pipeline.StateRunning}
	if ns := s.Notices(d); len(ns) != 1 || ns[0].Kind != KindStatus {
		t.Fatalf("on GitHub: %+v", ns)
	}
	src.ps = []pipeline.Project{{Name: "demo", Repo: "https://gitlab.com/acme/demo.git"}, {Name: "api", Repo: "https://github.com/acme/api.git"}}
	if ns := s.Notices(d); len(ns) != 0 {
		t.Errorf("moved to GitLab: %+v", ns)
	}
	if ns := s.Notices(pipeline.Deploy{ID: 2, Project: "api", Commit: d.Commit}); len(ns) != 1 {
		t.Errorf("a project added on GitHub: %+v", ns)
	}
	src.ps = nil // a reload removes api while its deploy runs to its end
	if ns := s.Notices(pipeline.Deploy{ID: 2, Project: "api", Commit: d.Commit, State: pipeline.StateSucceeded}); len(ns) != 1 {
		t.Errorf("a deploy of a project a reload removed: %+v; want its status still owed", ns)
	}
	if ns := s.Notices(pipeline.Deploy{ID: 3, Project: "never", Commit: d.Commit}); len(ns) != 0 {
		t.Errorf("a project never configured: %+v", ns)
	}
}
