package gitlab

import (
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/gitlab/fakegitlab"
	"github.com/ferrybot/ferry/pipeline"
)

// calls counts the calls to the fake by "METHOD /path".
func calls(fg *fakegitlab.Server) map[string]int {
	got := map[string]int{}
	for _, c := range fg.Calls() {
		got[c]++
	}
	return got
}

// api is a call to the fake about the test project.
func api(method, rest string) string {
	return method + " /api/v4/projects/lkysow-test%2Fsubgroup%2Fsub-subgroup%2Fatlantis-example" + rest
}

// TestTagPushDeploysWithStatusAndDeployment: a tag pushed deploys to prod,
// an auto environment; its commit status ferry/prod and a GitLab
// deployment in environment prod, whose external_url is prod's URL,
// follow the deploy from queued to running to succeeded.
func TestTagPushDeploysWithStatusAndDeployment(t *testing.T) {
	fg := withFake(t)
	f := newFixture(t, linked(), fg, func(c *Config) { c.BaseURL = "https://ferry.example.com" })
	hold, started := make(chan struct{}), make(chan string)
	f.target.Hold, f.target.Started = hold, started
	if got := f.deliver("Tag Push Hook", "k1", edited(t, "tag_push.json")); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	f.settle()
	ds := f.deploys()
	if len(ds) != 1 || ds[0].Env != "prod" || ds[0].Ref != "v1.0.0" || ds[0].Commit != tagged || ds[0].Requester != "octo" || ds[0].State != pipeline.StateQueued {
		t.Fatalf("deploys = %+v, want v1.0.0 to prod by octo, queued", ds)
	}
	status := func(state, desc string) fakegitlab.Status {
		return fakegitlab.Status{Project: projectPath, SHA: tagged, Name: "ferry/prod", State: state, Description: "#1 v1.0.0: " + desc,
			TargetURL: "https://ferry.example.com/deploys/1"}
	}
	want := []fakegitlab.Status{status("pending", "queued")}
	if got := fg.Statuses(); !slices.Equal(got, want) {
		t.Errorf("statuses = %+v, want %+v", got, want)
	}
	if got := fg.Deployments(); len(got) != 0 {
		t.Errorf("deployments of a queued deploy = %+v, want none: GitLab's API creates none that has not run", got)
	}

	f.startEngine()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the deploy did not start")
	}
	f.waitState(1, pipeline.StateRunning)
	f.settle()
	want = append(want, status("running", "running"))
	if got := fg.Statuses(); !slices.Equal(got, want) {
		t.Errorf("statuses = %+v, want %+v", got, want)
	}
	deployment := fakegitlab.Deployment{ID: 1, Project: projectPath, Env: "prod", Ref: "v1.0.0", SHA: tagged, Tag: true, Statuses: []string{"running"}}
	if got := fg.Deployments(); len(got) != 1 || !equalDeployment(got[0], deployment) {
		t.Errorf("deployments = %+v, want %+v", got, deployment)
	}

	close(hold)
	f.waitState(1, pipeline.StateSucceeded)
	f.settle()
	want = append(want, status("success", "succeeded"))
	if got := fg.Statuses(); !slices.Equal(got, want) {
		t.Errorf("statuses = %+v, want %+v", got, want)
	}
	deployment.Statuses = []string{"running", "success"}
	if got := fg.Deployments(); len(got) != 1 || !equalDeployment(got[0], deployment) {
		t.Errorf("deployments = %+v, want %+v", got, deployment)
	}
	envs := fg.Environments()
	if len(envs) != 1 || envs[0].Name != "prod" || envs[0].ExternalURL != "https://hello.example.com" || len(envs[0].URLs) != 1 {
		t.Errorf("environments = %+v, want prod with its external_url set once", envs)
	}
	wantCalls := map[string]int{
		api("POST", "/statuses/"+tagged): 3, api("POST", "/deployments"): 1, api("PUT", "/deployments/1"): 1,
		api("PUT", "/environments/701"): 1,
	}
	if got := calls(fg); !maps.Equal(got, wantCalls) {
		t.Errorf("calls = %v, want %v", got, wantCalls)
	}
}

func equalDeployment(a, b fakegitlab.Deployment) bool {
	return a.ID == b.ID && a.Project == b.Project && a.Env == b.Env && a.Ref == b.Ref && a.SHA == b.SHA && a.Tag == b.Tag && slices.Equal(a.Statuses, b.Statuses)
}

func TestBranchPushDeploysAutoEnvironment(t *testing.T) {
	for _, c := range []struct {
		name      string
		users     *config.Config
		requester string
	}{
		{"unknown pusher", nil, SystemActor},
		{"linked pusher", linked(), "octo"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fg := withFake(t)
			f := newFixture(t, c.users, fg)
			if got := f.deliver("Push Hook", "k1", edited(t, "push.json")); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			ds := f.deploys()
			if len(ds) != 1 {
				t.Fatalf("%d deploys, want 1: %+v", len(ds), ds)
			}
			d := ds[0]
			if d.Project != "hello" || d.Env != "staging" || d.Ref != "master" || d.Commit != pushed || d.Requester != c.requester || d.State != pipeline.StateQueued {
				t.Errorf("deploy = %s/%s ref %s commit %s by %s, %s; want hello/staging master %s by %s, queued", d.Project, d.Env, d.Ref, d.Commit, d.Requester, d.State, pushed, c.requester)
			}
			want := []fakegitlab.Status{{Project: projectPath, SHA: pushed, Name: "ferry/staging", State: "pending", Description: "#1 master@da15608: queued"}}
			if got := fg.Statuses(); !slices.Equal(got, want) {
				t.Errorf("statuses = %+v, want %+v", got, want)
			}
		})
	}
}

func TestPushesThatDoNotDeploy(t *testing.T) {
	cases := map[string]func(m map[string]any){
		"a branch matching no rule":                   func(m map[string]any) { m["ref"] = "refs/heads/feature-x" },
		"a branch of an environment that is not auto": func(m map[string]any) { m["ref"] = "refs/heads/release-1" },
		"a deleted branch":                            func(m map[string]any) { m["after"] = "0000000000000000000000000000000000000000" },
		"another project": func(m map[string]any) {
			m["project"] = map[string]any{"id": 15, "path_with_namespace": "mike/diaspora", "web_url": "http://example.com/mike/diaspora",
				"git_http_url": "http://example.com/mike/diaspora.git", "git_ssh_url": "git@example.com:mike/diaspora.git"}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			fg := withFake(t)
			f := newFixture(t, linked(), fg)
			if got := f.deliver("Push Hook", "k1", edited(t, "push.json", edit)); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			if ds := f.deploys(); len(ds) != 0 {
				t.Errorf("deployed: %+v", ds)
			}
			if c := fg.Calls(); len(c) != 0 {
				t.Errorf("called GitLab: %v", c)
			}
		})
	}
}

// TestWithoutTokenPushDeploysAndCallsNothing: without an API token ferry
// deploys from the webhooks, and neither a push nor a command calls
// GitLab.
func TestWithoutTokenPushDeploysAndCallsNothing(t *testing.T) {
	fg := withFake(t)
	fg.SetMember(commenter, fakegitlab.Developer)
	f := newFixture(t, linked(), fg, func(c *Config) { c.Token = "" })
	f.deliver("Push Hook", "k1", edited(t, "push.json"))
	f.deliver("Note Hook", "k2", note(t, "/ferry deploy staging", "opened"))
	f.drain()
	if ds := f.deploys(); len(ds) != 1 || ds[0].Env != "staging" || ds[0].Requester != "octo" {
		t.Errorf("deploys = %+v, want the push's to staging", ds)
	}
	if c := fg.Calls(); len(c) != 0 {
		t.Errorf("called GitLab without a token: %v", c)
	}
}
