package github

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
)

func TestPushDeployCreatesDeployment(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	f := newFixtureWith(t, linked(), fg, func(c *Config) { c.BaseURL = "https://ferry.example.com" })
	f.deliver("push", "d1", payload(t, "push.branch.json"))
	f.drain()
	ds := fg.Deployments()
	if len(ds) != 1 {
		t.Fatalf("deployments = %+v, want 1", ds)
	}
	d := ds[0]
	if d.Repo != "Codertocat/Hello-World" || d.SHA != after || d.Env != "staging" || d.Task != deploymentTask || d.Payload["ferry_deploy"] != float64(1) || d.Production {
		t.Errorf("deployment = %+v", d)
	}
	if !slices.Equal(d.States, []string{"queued"}) || d.LogURLs[0] != "https://ferry.example.com/deploys/1" || d.Descriptions[0] != "#1 master@199eddf: queued" {
		t.Errorf("statuses = %v %v %v", d.States, d.Descriptions, d.LogURLs)
	}

	// After a restart a new adapter finds the deployment by its payload
	// instead of creating another.
	b, err := New(Config{Engine: f.engine, Users: linked(), Store: f.store, WebhookSecret: secret, Token: apiToken, APIURL: fg.BaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := f.engine.Deploys(context.Background(), pipeline.DeployFilter{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := b.api.deploymentOf(context.Background(), b.api.token, "Codertocat", "Hello-World", forge.Deployment{Deploy: dep[0]})
	if err != nil || id != 1 || len(fg.Deployments()) != 1 {
		t.Errorf("deploymentOf after a restart = %d, %v; %d deployments, want the first found", id, err, len(fg.Deployments()))
	}
}

func TestDeniedDeployHasNoDeployment(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	f := newFixtureWith(t, &config.Config{}, fg)
	f.deliver("push", "d1", edited(t, "push.branch.json", map[string]any{"ref": "refs/tags/v1.2.0", "after": created}))
	f.drain()
	if ds := fg.Deployments(); len(ds) != 0 {
		t.Errorf("deployments = %+v, want none for a denied request", ds)
	}
	// Refused before its commit was resolved, it has no commit to mark.
	if sts := fg.Statuses(); len(sts) != 0 {
		t.Errorf("statuses = %+v, want none", sts)
	}
}

// TestDeploymentEnvironments records the Deployments of a push to staging
// (a URL), a tag to prod (production) and a label to preview (a URL per
// branch: transient) in testdata/deployments.golden.
func TestDeploymentEnvironments(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	fg.Permissions["Codertocat"] = "write"
	const base = "https://ferry.example.com"
	f := newFixtureWith(t, linked(), fg, func(c *Config) { c.BaseURL = base })
	f.deliver("push", "d1", payload(t, "push.branch.json"))
	f.deliver("push", "d2", edited(t, "push.branch.json", map[string]any{"ref": "refs/tags/v1.2.0", "after": created}))
	f.deliver("pull_request", "d3", prEvent(t, "pull_request.labeled.json", "patch-2", "deploy/preview", "deploy/preview"))
	f.drain()
	var lines []string
	for _, d := range fg.Deployments() {
		id := int64(d.Payload["ferry_deploy"].(float64))
		for _, u := range d.LogURLs {
			if u != bot.DeployURL(base, id) {
				t.Errorf("%s: log_url %s, want the page of deploy %d", d.Env, u, id)
			}
		}
		lines = append(lines, fmt.Sprintf("%-8s production=%-5v transient=%-5v states=%v environment_url=%v", d.Env, d.Production, d.Transient, d.States, d.EnvURLs))
	}
	slices.Sort(lines)
	goldenAt(t, filepath.Join("testdata", "deployments.golden"), strings.Join(lines, "\n")+"\n")
}

// TestDeploymentStatusOnceAState: a deploy's notices come at each unit's
// progress too; a Deployment status is posted again only when its state
// changes, by the ref the outbox keeps ("<ID> <state>").
func TestDeploymentStatusOnceAState(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	f := newFixtureWith(t, linked(), fg)
	d := pipeline.Deploy{ID: 3, Project: "hello", Env: "staging", Commit: after, Version: "master@199eddf", State: pipeline.StateRunning}
	r := forge.Repo{FullName: "Codertocat/Hello-World"}
	ref, err := f.adapter.api.Deployment(t.Context(), r, "", forge.Deployment{Deploy: d})
	if err != nil || ref != "1 in_progress" {
		t.Fatalf("Deployment = %q, %v; want 1 in_progress", ref, err)
	}
	if again, err := f.adapter.api.Deployment(t.Context(), r, ref, forge.Deployment{Deploy: d}); err != nil || again != ref {
		t.Errorf("the same state again = %q, %v; want %q kept", again, err, ref)
	}
	d.State = pipeline.StateSucceeded
	if ref, err = f.adapter.api.Deployment(t.Context(), r, ref, forge.Deployment{Deploy: d}); err != nil || ref != "1 success" {
		t.Errorf("Deployment = %q, %v; want 1 success", ref, err)
	}
	if ds := fg.Deployments(); len(ds) != 1 || !slices.Equal(ds[0].States, []string{"in_progress", "success"}) {
		t.Errorf("deployments = %+v, want one, in_progress then success", ds)
	}
}
