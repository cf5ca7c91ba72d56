package github

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// linked knows the payloads' pusher, Codertocat, as ferry user octo in ops.
func linked() *config.Config {
	return &config.Config{
		Users: []pipeline.User{{Name: "octo", Teams: []string{"ops"}, Forge: map[string]string{"github": "Codertocat"}}},
		Teams: []pipeline.Team{{Name: "ops", Members: []string{"octo"}}},
	}
}

// edited is a real payload with some top-level fields replaced.
func edited(t *testing.T, name string, set map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload(t, name), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPushDeploysAutoEnvironment(t *testing.T) {
	for _, c := range []struct {
		name      string
		users     *config.Config
		requester string
	}{
		{"unknown pusher", nil, SystemActor},
		{"linked pusher", linked(), "octo"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.users)
			if got := f.deliver("push", "d1", payload(t, "push.branch.json")); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			ds := f.deploys()
			if len(ds) != 1 {
				t.Fatalf("%d deploys, want 1: %+v", len(ds), ds)
			}
			d := ds[0]
			if d.Project != "hello" || d.Env != "staging" || d.Ref != "master" || d.Commit != after || d.Requester != c.requester {
				t.Errorf("deploy = %s/%s ref %s commit %s by %s; want hello/staging master %s by %s", d.Project, d.Env, d.Ref, d.Commit, d.Requester, after, c.requester)
			}
			if d.State == pipeline.StateDenied {
				t.Errorf("deploy denied: %s", d.Reason)
			}
		})
	}
}

func TestPushesThatDoNotDeploy(t *testing.T) {
	cases := map[string]struct {
		event string
		body  func(t *testing.T) []byte
	}{
		"a branch matching no rule": {"push", func(t *testing.T) []byte {
			return edited(t, "push.branch.json", map[string]any{"ref": "refs/heads/feature-x"})
		}},
		"a branch of an environment that is not auto": {"push", func(t *testing.T) []byte {
			return edited(t, "push.branch.json", map[string]any{"ref": "refs/heads/release-1"})
		}},
		"a deleted tag": {"push", func(t *testing.T) []byte { return payload(t, "push.tag-deleted.json") }},
		"a created tag (its push deploys it)": {"create", func(t *testing.T) []byte {
			return edited(t, "create.tag.json", map[string]any{"ref": "v1.2.0"})
		}},
		"another repository": {"push", func(t *testing.T) []byte {
			return edited(t, "push.branch.json", map[string]any{"repository": map[string]any{
				"full_name": "Codertocat/Other", "clone_url": "https://github.com/Codertocat/Other.git",
				"ssh_url": "git@github.com:Codertocat/Other.git", "html_url": "https://github.com/Codertocat/Other",
			}})
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, linked())
			if got := f.deliver(c.event, "d1", c.body(t)); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			if ds := f.deploys(); len(ds) != 0 {
				t.Errorf("deployed: %+v", ds)
			}
		})
	}
}

func TestTagPushRoutesTagRules(t *testing.T) {
	tagPush := func(t *testing.T) []byte {
		return edited(t, "push.branch.json", map[string]any{"ref": "refs/tags/v1.2.0", "after": created})
	}
	t.Run("an ops pusher deploys prod", func(t *testing.T) {
		f := newFixture(t, linked())
		f.deliver("push", "d1", tagPush(t))
		f.drain()
		ds := f.deploys()
		if len(ds) != 1 || ds[0].Env != "prod" || ds[0].Ref != "v1.2.0" || ds[0].Commit != created || ds[0].State == pipeline.StateDenied {
			t.Fatalf("deploys = %+v, want one of v1.2.0 to prod", ds)
		}
	})
	t.Run("an unknown pusher is refused by prod's deployers", func(t *testing.T) {
		f := newFixture(t, nil)
		f.deliver("push", "d1", tagPush(t))
		f.drain()
		ds := f.deploys()
		if len(ds) != 1 || ds[0].Env != "prod" || ds[0].State != pipeline.StateDenied || ds[0].Requester != SystemActor {
			t.Fatalf("deploys = %+v, want one denied request by %s", ds, SystemActor)
		}
	})
}

// gitRepo resolves the test project's repository in a real git
// repository on disk, as ferry resolves any repository.
type gitRepo struct {
	r    *workspace.Resolver
	path string
}

func (g gitRepo) Resolve(ctx context.Context, _, ref string) (pipeline.Commit, error) {
	return g.r.Resolve(ctx, g.path, ref)
}

func (g gitRepo) ResolveAt(ctx context.Context, _, ref, commit string) (pipeline.Commit, error) {
	return g.r.ResolveAt(ctx, g.path, ref, commit)
}

// TestPushDeploysThePushedCommit: between GitHub's push events and their
// handling, master moves on and the tag is moved. Each push deploys the
// commit it pushed, not what its ref points at by then; one whose commit
// ferry cannot fetch deploys nothing, and its commit status says so.
func TestPushDeploysThePushedCommit(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Branch(t, "master")
	pushed := repo.Commit(t, map[string]string{"README": "pushed"}, "pushed")
	repo.Tag(t, "v1.2.0")
	tagObject := repo.Git(t, "rev-parse", "refs/tags/v1.2.0") // a tag push's after names the tag object
	moved := repo.Commit(t, map[string]string{"README": "moved"}, "after the push")
	repo.Git(t, "tag", "--force", "--annotate", "--message", "moved", "v1.2.0")
	r, err := workspace.NewResolver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fg := fakegithub.New(t, apiToken)
	f := newFixtureResolving(t, linked(), fg, gitRepo{r: r, path: repo.Path()})
	missing := strings.Repeat("ab", 20)
	f.deliver("push", "d1", edited(t, "push.branch.json", map[string]any{"after": pushed}))
	f.deliver("push", "d2", edited(t, "push.branch.json", map[string]any{"ref": "refs/tags/v1.2.0", "after": tagObject}))
	f.deliver("push", "d3", edited(t, "push.branch.json", map[string]any{"after": missing}))
	f.drain()

	got := map[string]string{}
	for _, d := range f.deploys() {
		got[d.Env] = d.Commit + " " + d.Version
	}
	want := map[string]string{"staging": pushed + " master@" + pushed[:7], "prod": pushed + " v1.2.0"}
	if !maps.Equal(got, want) {
		t.Errorf("deployed %v, want %v (master and the tag are at %s now)", got, want, moved[:7])
	}
	var failed []fakegithub.Status
	for _, st := range fg.Statuses() {
		if st.SHA == missing {
			failed = append(failed, st)
		}
	}
	if len(failed) != 1 || failed[0].State != "failure" || failed[0].Context != "ferry/staging" ||
		!strings.HasPrefix(failed[0].Description, "not deployed: deploy hello master: commit "+missing[:20]) {
		t.Errorf("statuses of the commit ferry cannot fetch: %+v; want one failure saying so", failed)
	}
}
