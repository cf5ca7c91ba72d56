package forge_test

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/forge/forgetest"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

// The decisions of forge.Core, once for every forge, against the fake
// client of forgetest: each forge's package tests its wire format.

const (
	platform = "fake"
	mainSHA  = "1111111111111111111111111111111111111111"
	featSHA  = "2222222222222222222222222222222222222222"
	tagSHA   = "3333333333333333333333333333333333333333"
)

var (
	t0   = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	repo = forge.Repo{FullName: "acme/demo", CloneURL: "https://forge.example.com/acme/demo.git", HTMLURL: "https://forge.example.com/acme/demo"}
)

// project deploys main to staging (auto), tags v* to prod (auto, ops
// only) and feature-* branches to preview, with one approval from ops.
func project() pipeline.Project {
	re := regexp.MustCompile
	return pipeline.Project{Name: "demo", Repo: "https://forge.example.com/acme/demo.git", Envs: []pipeline.Environment{
		{Name: "staging", Auto: true, Branches: []*regexp.Regexp{re(`^main$`)}, URL: "https://staging.demo.example.com"},
		{Name: "prod", Auto: true, Tags: []*regexp.Regexp{re(`^v`)}, Deployers: []string{"ops"}},
		{Name: "preview", Branches: []*regexp.Regexp{re(`^feature-`)}, Approvals: pipeline.ApprovalPolicy{Required: 1, From: []string{"ops"}}},
	}}
}

// users links alice (in ops) and bob; carol is on the forge only.
func users() *config.Config {
	return &config.Config{
		Users: []pipeline.User{
			{Name: "alice", Teams: []string{"ops"}, Forge: map[string]string{platform: "alice-f"}},
			{Name: "bob", Forge: map[string]string{platform: "bob-f"}},
		},
		Teams: []pipeline.Team{{Name: "ops", Members: []string{"alice"}}},
	}
}

func repoOn(u string) (string, bool) {
	host, path, ok := strings.Cut(forge.RepoPath(u), "/")
	return path, ok && host == "forge.example.com"
}

type fixture struct {
	t      *testing.T
	core   *forge.Core
	client *forgetest.Client
	engine *pipeline.Engine
	store  *storage.Store
	clock  *clockwork.FakeClock
}

// newFixture is a Core over client (nil: no API) with a real engine on
// SQLite and a bot; mods change its configuration.
func newFixture(t *testing.T, client *forgetest.Client, mods ...func(*forge.Config)) *fixture {
	t.Helper()
	st, err := storage.Open(t.Context(), filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := clockwork.NewFakeClockAt(t0)
	eng, err := pipeline.New(pipeline.Config{
		Store: st, Projects: []pipeline.Project{project()}, Clock: clock,
		Subscribers: pipeline.Subscribers{forge.NewSubscriber(platform, pipelinetest.Projects{project()}, repoOn, true)},
		Target: func(pipeline.Project, pipeline.Environment) (pipeline.Target, error) {
			return pipelinetest.NewTarget("h1"), nil
		},
		Resolver: pipelinetest.Resolver{
			"main":        {Hash: mainSHA, Branch: "main"},
			"feature-one": {Hash: featSHA, Branch: "feature-one"},
			"v1.0.0":      {Hash: tagSHA, Tag: "v1.0.0"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(bot.Config{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	cfg := forge.Config{Platform: platform, Name: "Fake", Engine: eng, Users: users(), Store: st, RepoOn: repoOn, Bot: b,
		BaseURL: "https://ferry.example.com", Clock: clock}
	if client != nil {
		cfg.Client = client
	}
	for _, m := range mods {
		m(&cfg)
	}
	core, err := forge.NewCore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, core: core, client: client, engine: eng, store: st, clock: clock}
}

// deliver delivers what the outbox owes the forge, through the Core, until
// nothing is owed.
func (f *fixture) deliver() {
	f.t.Helper()
	ctx, cancel := context.WithCancel(f.t.Context())
	b, _ := bot.New(bot.Config{Engine: f.engine})
	d, err := bot.NewDispatcher(bot.DispatcherConfig{Store: f.store, Bot: b, Sinks: map[string]bot.Sink{platform: f.core}, Wake: f.store.Noticed()})
	if err != nil {
		f.t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = d.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		owed, err := f.store.OutboxBacklogs(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		pending := 0
		for _, o := range owed {
			pending += o.Pending
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("still owed after 10 s: %+v", owed)
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *fixture) deploys() []pipeline.Deploy {
	f.t.Helper()
	ds, err := f.engine.Deploys(f.t.Context(), pipeline.DeployFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}

func writer() map[string]forge.Access {
	may := forge.Access{MayAsk: true, Has: "write", Needs: "write permission"}
	return map[string]forge.Access{"alice-f": may, "bob-f": may, "carol-f": may}
}

func TestPushDeploysAutoEnvironments(t *testing.T) {
	c := &forgetest.Client{}
	f := newFixture(t, c)
	f.core.Push(t.Context(), "d1", forge.Push{Repo: repo, Ref: "refs/heads/main", After: mainSHA, Pusher: "alice-f"})
	f.core.Push(t.Context(), "d2", forge.Push{Repo: repo, Ref: "refs/tags/v1.0.0", After: tagSHA, Pusher: "nobody"})
	f.core.Push(t.Context(), "d3", forge.Push{Repo: repo, Ref: "refs/heads/feature-one", After: featSHA, Pusher: "alice-f"}) // not auto
	f.core.Push(t.Context(), "d4", forge.Push{Repo: repo, Ref: "refs/heads/main", Deleted: true})
	f.core.Push(t.Context(), "d5", forge.Push{Repo: forge.Repo{FullName: "acme/other"}, Ref: "refs/heads/main", After: mainSHA})
	ds := f.deploys()
	var got []string
	for _, d := range ds {
		got = append(got, d.Env+" "+d.Requester+" "+string(d.State))
	}
	slices.Sort(got)
	// The tag's pusher is not linked: it acts as the platform, which prod's
	// deployers refuse.
	if want := []string{"prod fake denied", "staging alice queued"}; !slices.Equal(got, want) {
		t.Fatalf("deploys = %v, want %v", got, want)
	}
	f.deliver()
	sts := c.Statuses()
	if len(sts) != 1 || sts[0].Context != "ferry/staging" || sts[0].State != forge.StatusPending || sts[0].SHA != mainSHA ||
		sts[0].TargetURL != "https://ferry.example.com/deploys/"+strconv.FormatInt(staging(ds).ID, 10) {
		t.Errorf("statuses = %+v, want staging's, pending, linking its deploy", sts)
	}
	deps := c.Deployments()
	if len(deps) != 1 || deps[0].Ref != "" || deps[0].EnvURL != "https://staging.demo.example.com" || deps[0].Production {
		t.Errorf("deployments = %+v, want staging's, created once", deps)
	}
}

func staging(ds []pipeline.Deploy) pipeline.Deploy {
	for _, d := range ds {
		if d.Env == "staging" {
			return d
		}
	}
	return pipeline.Deploy{}
}

// TestPushOfAnUnknownCommitIsMarked: a pushed commit ferry cannot fetch is
// not deployed, and its status says so.
func TestPushOfAnUnknownCommitIsMarked(t *testing.T) {
	c := &forgetest.Client{}
	f := newFixture(t, c)
	const gone = "9999999999999999999999999999999999999999"
	f.core.Push(t.Context(), "d1", forge.Push{Repo: repo, Ref: "refs/heads/main", After: gone, Pusher: "alice-f"})
	if ds := f.deploys(); len(ds) != 0 {
		t.Fatalf("deploys = %+v, want none", ds)
	}
	sts := c.Statuses()
	if len(sts) != 1 || sts[0].State != forge.StatusFailure || sts[0].SHA != gone || !strings.HasPrefix(sts[0].Description, "not deployed: ") {
		t.Errorf("statuses = %+v, want one failure saying it was not deployed", sts)
	}
}

func TestWithoutClientPushesStillDeploy(t *testing.T) {
	f := newFixture(t, nil)
	f.core.Push(t.Context(), "d1", forge.Push{Repo: repo, Ref: "refs/heads/main", After: mainSHA, Pusher: "alice-f"})
	f.core.Comment(t.Context(), "d2", forge.Comment{Repo: repo, Number: 1, ID: 5, Body: "/ferry deploy staging", Author: forge.User{Login: "alice-f"}, Open: true})
	if ds := f.deploys(); len(ds) != 1 || ds[0].Env != "staging" {
		t.Fatalf("deploys = %+v, want the push's only", ds)
	}
	// What the subscriber owes the forge is given up at once: trying again
	// cannot mend a missing token.
	f.deliver()
	owed, err := f.store.OutboxBacklogs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(owed) != 1 || owed[0].Dead != 2 {
		t.Errorf("outbox = %+v, want the status and deployment given up", owed)
	}
	if _, err := f.core.Deliver(t.Context(), bot.Outgoing{Notice: pipeline.Notice{Kind: forge.KindStatus}}, ""); err == nil || !strings.Contains(err.Error(), "set fake.token") {
		t.Errorf("Deliver without a client = %v, want an error naming fake.token", err)
	}
}

func TestCommentFromSomeoneWhoMayNotAsk(t *testing.T) {
	c := &forgetest.Client{Logins: map[string]forge.Access{"carol-f": {Has: "read", Needs: "write permission"}}}
	f := newFixture(t, c)
	f.core.Comment(t.Context(), "d1", forge.Comment{Repo: repo, Number: 4, ID: 77, Body: "/ferry deploy staging", Author: forge.User{Login: "carol-f"}, Open: true})
	if calls := c.Calls(); !slices.Equal(calls, []string{"Access carol-f", "React confused"}) {
		t.Errorf("calls = %q, want the access asked and one reaction", calls)
	}
	if cs, ds := c.Comments(), f.deploys(); len(cs) != 0 || len(ds) != 0 {
		t.Errorf("comments %+v, deploys %+v: want none", cs, ds)
	}
	// Comments not addressed to ferry cost nothing.
	f.core.Comment(t.Context(), "d2", forge.Comment{Repo: repo, Number: 4, ID: 78, Body: "looks good", Author: forge.User{Login: "carol-f"}, Open: true})
	if n := len(c.Calls()); n != 2 {
		t.Errorf("%d calls after a comment not for ferry, want still 2", n)
	}
}

func TestCommentDeploysAndAnswersInTheStickyComment(t *testing.T) {
	c := &forgetest.Client{Logins: writer(), PullRequests: map[int]forge.PullRequest{
		4: {Number: 4, Head: "feature-one", HeadRepo: "acme/demo", HeadSHA: featSHA, Open: true},
	}}
	f := newFixture(t, c)
	f.core.Comment(t.Context(), "d1", forge.Comment{Repo: repo, Number: 4, ID: 77, Body: "/ferry deploy preview", Author: forge.User{Login: "bob-f"}, Open: true})
	ds := f.deploys()
	if len(ds) != 1 || ds[0].Env != "preview" || ds[0].Commit != featSHA || ds[0].Requester != "bob" || ds[0].State != pipeline.StateAwaitingApproval {
		t.Fatalf("deploys = %+v, want preview of the head, awaiting approval", ds)
	}
	if rs := c.Reactions(); len(rs) != 2 || rs[0].Reaction != forge.ReactionSeen || rs[1].Reaction != forge.ReactionDone {
		t.Errorf("reactions = %+v, want eyes then rocket", rs)
	}
	cs := c.Comments()
	if len(cs) != 1 || !strings.HasPrefix(cs[0].Body, forge.StickyMarker+"\n@bob-f\n```\n") {
		t.Fatalf("comments = %+v, want one sticky answer with the card", cs)
	}
	// A second command edits the same comment.
	f.core.Comment(t.Context(), "d2", forge.Comment{Repo: repo, Number: 4, ID: 78, Body: "/ferry whoami", Author: forge.User{Login: "bob-f"}, Open: true})
	if cs := c.Comments(); len(cs) != 1 || cs[0].Edits != 1 || cs[0].Body != forge.StickyMarker+"\n@bob-f You are bob." {
		t.Errorf("comments = %+v, want the one comment edited", cs)
	}
	// A review by someone who may approve approves the head's deploy.
	f.core.Review(t.Context(), "d3", forge.Review{Repo: repo, Number: 4, Head: "feature-one", HeadSHA: featSHA, State: forge.ReviewApproved, Reviewer: forge.User{Login: "alice-f"}})
	if ds := f.deploys(); ds[0].State != pipeline.StateQueued {
		t.Errorf("after alice's review the deploy is %s, want queued", ds[0].State)
	}
	if cs := c.Comments(); !strings.Contains(cs[0].Body, "your approving review, for deploy #1:") {
		t.Errorf("sticky comment = %q, want the review's answer", cs[0].Body)
	}
}

func TestReviewOfAnotherCommitApprovesNothing(t *testing.T) {
	c := &forgetest.Client{Logins: writer(), PullRequests: map[int]forge.PullRequest{
		4: {Number: 4, Head: "feature-one", HeadRepo: "acme/demo", HeadSHA: featSHA, Open: true},
	}}
	f := newFixture(t, c)
	f.core.Comment(t.Context(), "d1", forge.Comment{Repo: repo, Number: 4, ID: 77, Body: "/ferry deploy preview", Author: forge.User{Login: "bob-f"}, Open: true})
	before := len(c.Calls())
	f.core.Review(t.Context(), "d2", forge.Review{Repo: repo, Number: 4, Head: "feature-one", HeadSHA: mainSHA, State: forge.ReviewApproved, Reviewer: forge.User{Login: "alice-f"}})
	f.core.Review(t.Context(), "d3", forge.Review{Repo: repo, Number: 4, Head: "feature-one", HeadSHA: featSHA, State: "commented", Reviewer: forge.User{Login: "alice-f"}})
	if ds := f.deploys(); ds[0].State != pipeline.StateAwaitingApproval {
		t.Errorf("deploy is %s, want still awaiting approval", ds[0].State)
	}
	if n := len(c.Calls()); n != before {
		t.Errorf("reviews that approve nothing made %d calls", n-before)
	}
}

func TestLabels(t *testing.T) {
	pr := forge.PullRequest{Repo: repo, Number: 9, Action: forge.PRLabeled, Label: "deploy/preview", Head: "feature-one", HeadRepo: "acme/demo",
		HeadSHA: featSHA, Sender: forge.User{Login: "bob-f"}, Open: true}
	t.Run("a deploy label deploys the head", func(t *testing.T) {
		c := &forgetest.Client{Logins: writer()}
		f := newFixture(t, c)
		f.core.PullRequest(t.Context(), "d1", pr)
		if ds := f.deploys(); len(ds) != 1 || ds[0].Env != "preview" || ds[0].Commit != featSHA || ds[0].Ref != "feature-one" {
			t.Fatalf("deploys = %+v", ds)
		}
		if cs := c.Comments(); len(cs) != 1 || !strings.HasPrefix(cs[0].Body, forge.StickyMarker+"\n@bob-f label deploy/preview:\n```") {
			t.Errorf("comments = %+v", cs)
		}
	})
	t.Run("on a closed pull request nothing is done", func(t *testing.T) {
		c := &forgetest.Client{Logins: writer()}
		f := newFixture(t, c)
		closed := pr
		closed.Open = false
		f.core.PullRequest(t.Context(), "d1", closed)
		if ds, calls := f.deploys(), c.Calls(); len(ds) != 0 || len(calls) != 0 {
			t.Errorf("deploys %+v, calls %v: want none", ds, calls)
		}
	})
	t.Run("other labels and removals do nothing", func(t *testing.T) {
		c := &forgetest.Client{Logins: writer()}
		f := newFixture(t, c)
		other, removed := pr, pr
		other.Label = "bug"
		removed.Action = forge.PRUnlabeled
		f.core.PullRequest(t.Context(), "d1", other)
		f.core.PullRequest(t.Context(), "d2", removed)
		if ds, calls := f.deploys(), c.Calls(); len(ds) != 0 || len(calls) != 0 {
			t.Errorf("deploys %+v, calls %v: want none", ds, calls)
		}
	})
	t.Run("a fork's branch is refused", func(t *testing.T) {
		c := &forgetest.Client{Logins: writer()}
		f := newFixture(t, c)
		fork := pr
		fork.HeadRepo = "mallory/demo"
		f.core.PullRequest(t.Context(), "d1", fork)
		cs := c.Comments()
		if ds := f.deploys(); len(ds) != 0 || len(cs) != 1 || !strings.Contains(cs[0].Body, "this pull request's branch is in mallory/demo, a fork") {
			t.Errorf("deploys %+v, comments %+v: want a refusal", ds, cs)
		}
	})
	t.Run("an update deploys again while the label is there", func(t *testing.T) {
		c := &forgetest.Client{Logins: writer()}
		f := newFixture(t, c)
		updated := pr
		updated.Action, updated.Label, updated.Labels = forge.PRUpdated, "", []string{"bug", "deploy/preview"}
		f.core.PullRequest(t.Context(), "d1", updated)
		if ds := f.deploys(); len(ds) != 1 || ds[0].Env != "preview" {
			t.Errorf("deploys = %+v, want preview", ds)
		}
	})
}

// TestAccessIsKeptBriefly: a user's access is asked once a minute at most.
func TestAccessIsKeptBriefly(t *testing.T) {
	c := &forgetest.Client{Logins: writer()}
	f := newFixture(t, c)
	whoami := forge.Comment{Repo: repo, Number: 4, ID: 77, Body: "/ferry whoami", Author: forge.User{Login: "bob-f", ID: 2}, Open: true}
	count := func() int {
		n := 0
		for _, call := range c.Calls() {
			if call == "Access bob-f" {
				n++
			}
		}
		return n
	}
	f.core.Comment(t.Context(), "d1", whoami)
	f.clock.Advance(59 * time.Second)
	f.core.Comment(t.Context(), "d2", whoami)
	if n := count(); n != 1 {
		t.Fatalf("access asked %d times within a minute, want 1", n)
	}
	f.clock.Advance(2 * time.Second)
	f.core.Comment(t.Context(), "d3", whoami)
	if n := count(); n != 2 {
		t.Errorf("access asked %d times in all, want 2 after the minute", n)
	}
}

// TestWhatAForgeCannotDoIsNotOwed: a forge without reactions or statuses
// answers ErrNotSupported; ferry goes on, and the outbox owes nothing.
func TestWhatAForgeCannotDoIsNotOwed(t *testing.T) {
	c := &forgetest.Client{Logins: writer(), Fail: map[string]error{"React": forge.ErrNotSupported, "SetStatus": forge.ErrNotSupported, "Deployment": forge.ErrNotSupported}}
	f := newFixture(t, c)
	f.core.Push(t.Context(), "d1", forge.Push{Repo: repo, Ref: "refs/heads/main", After: mainSHA, Pusher: "alice-f"})
	f.core.Comment(t.Context(), "d2", forge.Comment{Repo: repo, Number: 4, ID: 77, Body: "/ferry whoami", Author: forge.User{Login: "bob-f"}, Open: true})
	f.deliver() // fails the test if anything stays owed
	if cs := c.Comments(); len(cs) != 1 || cs[0].Body != forge.StickyMarker+"\n@bob-f You are bob." {
		t.Errorf("comments = %+v, want the answer", cs)
	}
	dead, err := f.store.OutboxBacklogs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range dead {
		if o.Dead > 0 {
			t.Errorf("%+v: notices given up, want none", o)
		}
	}
}

// TestStickyCommentIsFoundByItsMarker: a ferry that lost what it stored
// finds its comment among the pull request's and edits it.
func TestStickyCommentIsFoundByItsMarker(t *testing.T) {
	c := &forgetest.Client{Logins: writer()}
	first := newFixture(t, c)
	whoami := forge.Comment{Repo: repo, Number: 4, ID: 77, Body: "/ferry whoami", Author: forge.User{Login: "bob-f"}, Open: true}
	first.core.Comment(t.Context(), "d1", whoami)
	again := newFixture(t, c) // a new store
	whoami.Author.Login = "alice-f"
	again.core.Comment(t.Context(), "d2", whoami)
	if cs := c.Comments(); len(cs) != 1 || cs[0].Edits != 1 || cs[0].Body != forge.StickyMarker+"\n@alice-f You are alice (teams ops)." {
		t.Errorf("comments = %+v, want the one comment found and edited", cs)
	}
}

// TestRefusedRepoConfigDeploysNothing: a .ferry.yaml that asks for what it
// may not marks a pushed commit and answers a label with its problems.
func TestRefusedRepoConfigDeploysNothing(t *testing.T) {
	rules := users()
	rules.GitHub.RepoConfig = &config.RepoConfig{Allow: []string{"environments.*.branches"}}
	bad := "environments:\n  staging:\n    deployers: [bob]\n"
	c := &forgetest.Client{Logins: writer(), Files: map[string]string{".ferry.yaml@" + mainSHA: bad, ".ferry.yaml@" + featSHA: bad}}
	f := newFixture(t, c, func(cfg *forge.Config) { cfg.RepoConfig = rules.RepoRules("github") })
	f.core.Push(t.Context(), "d1", forge.Push{Repo: repo, Ref: "refs/heads/main", After: mainSHA, Pusher: "alice-f"})
	f.core.PullRequest(t.Context(), "d2", forge.PullRequest{Repo: repo, Number: 9, Action: forge.PRLabeled, Label: "deploy/preview", Head: "feature-one",
		HeadRepo: "acme/demo", HeadSHA: featSHA, Sender: forge.User{Login: "bob-f"}, Open: true})
	if ds := f.deploys(); len(ds) != 0 {
		t.Fatalf("deploys = %+v, want none", ds)
	}
	sts := c.Statuses()
	if len(sts) != 1 || sts[0].Context != "ferry/config" || sts[0].State != forge.StatusError || sts[0].SHA != mainSHA ||
		!strings.Contains(sts[0].Description, "deployers is set only in ferry's own configuration") {
		t.Errorf("statuses = %+v, want ferry/config refusing the file", sts)
	}
	cs := c.Comments()
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "ferry cannot use this repository's `.ferry.yaml` at 2222222, so nothing was done:") ||
		!strings.Contains(cs[0].Body, "(`fake.repo_config`)") {
		t.Errorf("comments = %+v, want the problems and the forge's setting", cs)
	}
	// Each commit's file is read once.
	n := 0
	for _, call := range c.Calls() {
		if strings.HasPrefix(call, "File ") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("files read %d times, want once per commit (2)", n)
	}
}

// TestStatusOfARemovedProject: a reload removes the project of a running
// deploy, which runs to its end; its commit status still says how it
// ended.
func TestStatusOfARemovedProject(t *testing.T) {
	c := &forgetest.Client{}
	f := newFixture(t, c)
	d := pipeline.Deploy{ID: 7, Project: "demo", Env: "staging", Commit: mainSHA, Version: "main@1111111", State: pipeline.StateRunning}
	ref, err := f.core.Deliver(t.Context(), bot.Outgoing{Notice: pipeline.Notice{Kind: forge.KindStatus, DeployID: d.ID, State: d.State}, Deploy: d}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Reconfigure(nil, nil); err != nil {
		t.Fatal(err)
	}
	d.State = pipeline.StateSucceeded
	if _, err := f.core.Deliver(t.Context(), bot.Outgoing{Notice: pipeline.Notice{Kind: forge.KindStatus, DeployID: d.ID, State: d.State}, Deploy: d}, ref); err != nil {
		t.Fatal(err)
	}
	var states []forge.StatusState
	for _, st := range c.Statuses() {
		states = append(states, st.State)
	}
	if !slices.Equal(states, []forge.StatusState{forge.StatusRunning, forge.StatusSuccess}) {
		t.Errorf("statuses %v, want running then success after the project was removed", states)
	}
}

// TestStatusSaidOnceAState: a deploy's notices come at each unit's
// progress too; the commit status is set again only when what it says
// changes, by the ref the outbox keeps for it.
func TestStatusSaidOnceAState(t *testing.T) {
	c := &forgetest.Client{}
	f := newFixture(t, c)
	d := pipeline.Deploy{ID: 7, Project: "demo", Env: "staging", Commit: mainSHA, Version: "main@1111111", State: pipeline.StateRunning}
	deliver := func(d pipeline.Deploy, ref string) string {
		t.Helper()
		ref, err := f.core.Deliver(t.Context(), bot.Outgoing{Notice: pipeline.Notice{Kind: forge.KindStatus, DeployID: d.ID, State: d.State}, Deploy: d}, ref)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	ref := deliver(d, "")
	if again := deliver(d, ref); again != ref {
		t.Errorf("ref %q after the same status, want %q kept", again, ref)
	}
	d.State = pipeline.StateSucceeded
	deliver(d, ref)
	var states []forge.StatusState
	for _, st := range c.Statuses() {
		states = append(states, st.State)
	}
	if !slices.Equal(states, []forge.StatusState{forge.StatusRunning, forge.StatusSuccess}) {
		t.Errorf("statuses %v, want running then success, each once", states)
	}
}
