package bot

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

func newTestBot(t *testing.T, freezes ...pipeline.Freeze) (*Bot, *storage.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Now = func() time.Time { return time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC) }
	project := pipeline.Project{Name: "demo", Repo: "/srv/demo", Envs: []pipeline.Environment{
		{Name: "staging", DefaultRef: "main", Branches: []*regexp.Regexp{regexp.MustCompile(`^main$`)}},
		{Name: "prod", Tags: []*regexp.Regexp{regexp.MustCompile(`^v`)}, Approvals: pipeline.ApprovalPolicy{Required: 1}},
	}}
	targets := map[string]pipeline.Target{"staging": pipelinetest.NewTarget("s1", "s2"), "prod": pipelinetest.NewTarget("p1")}
	e, err := pipeline.New(pipeline.Config{
		Store: st, Projects: []pipeline.Project{project},
		Target: func(_ pipeline.Project, env pipeline.Environment) (pipeline.Target, error) {
			return targets[env.Name], nil
		},
		Resolver: pipelinetest.Resolver{"main": {Hash: "1111111aaaa", Branch: "main"}, "v1.0.0": {Hash: "2222222bbbb", Tag: "v1.0.0"}},
		Clock:    clockwork.NewFakeClockAt(time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)),
		Freezes:  freezes,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	b, err := New(Config{Engine: e, BaseURL: "http://ferry.test"})
	if err != nil {
		t.Fatal(err)
	}
	return b, st
}

func waitDeploy(t *testing.T, st *storage.Store, id int64, want pipeline.State) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if d, err := st.Deploy(context.Background(), id); err == nil && d.State == want {
			return
		}
	}
	t.Fatalf("deploy %d never reached %s", id, want)
}

func TestBotConversation(t *testing.T) {
	b, st := newTestBot(t)
	ctx := context.Background()
	alice := pipeline.Actor{Name: "alice", Admin: true, Teams: []string{"ops"}}
	bob := pipeline.Actor{Name: "bob"}

	r := b.Handle(ctx, alice, "deploy demo to staging")
	if r.Error || len(r.Cards) != 1 || r.Text != "#1 demo main@1111111 to staging: queued." {
		t.Fatalf("deploy: %+v", r)
	}
	waitDeploy(t, st, 1, pipeline.StateSucceeded)

	r = b.Handle(ctx, alice, "deploy demo v1.0.0 to prod")
	if r.Error || r.Cards[0].State != pipeline.StateAwaitingApproval {
		t.Fatalf("prod: %+v", r)
	}
	cases := []struct {
		actor pipeline.Actor
		text  string
		want  string
		kind  ErrorKind
	}{
		{alice, "deplyo demo to staging", `unknown command "deplyo"; did you mean "deploy"?`, KindInvalid},
		{alice, "approve 2", "you requested deploy 2, so someone else must approve it", KindForbidden},
		{alice, "approve 99", "deploy 99 not found", KindNotFound},
		{alice, "deploy demo nope to staging", `ref "nope" not found in /srv/demo`, KindNotFound},
		{alice, "deploy nope to staging", `project "nope" does not exist; projects: demo`, KindNotFound},
		{bob, "unlock demo prod", "demo prod is not locked", KindNotFound},
		{pipeline.Actor{}, "deploy demo to staging", "you are not signed in as anyone ferry knows", KindForbidden},
	}
	for _, c := range cases {
		r := b.Handle(ctx, c.actor, c.text)
		if !r.Error || !r.Ephemeral || !strings.Contains(r.Text, c.want) || r.Kind != c.kind {
			t.Errorf("%s: %+v; want a %s error saying %q", c.text, r, c.kind, c.want)
		}
	}
	if r := b.Handle(ctx, bob, "approve #2"); r.Error || r.Text != "bob approved #2 (1 of 1 approvals)." {
		t.Errorf("approve: %+v", r)
	}
	if r := b.Handle(ctx, bob, "approve 2"); !r.Error || !strings.Contains(r.Text, "deploy 2 is") || r.Kind != KindConflict {
		t.Errorf("approve twice: %+v", r)
	}
	waitDeploy(t, st, 2, pipeline.StateSucceeded)
	if r := b.Handle(ctx, bob, "lock demo staging for 1h migrating"); r.Error || r.Text != "demo staging is locked by bob until 2026-11-02 11:00 UTC: migrating." {
		t.Errorf("lock: %+v", r)
	}
	if r := b.Handle(ctx, alice, "deploy demo to staging"); !r.Error || r.Kind != KindLocked || !strings.Contains(r.Text, "locked by bob") {
		t.Errorf("deploy to a locked environment: %+v", r)
	}
	golden(t, "reply_status.txt", RenderReply(b.Handle(ctx, alice, "status")))
	golden(t, "reply_history.txt", RenderReply(b.Handle(ctx, alice, "history demo")))
	if r := b.Handle(ctx, alice, "whoami"); r.Text != "You are alice (admin; teams ops)." {
		t.Errorf("whoami: %q", r.Text)
	}
	if r := b.Handle(ctx, alice, "help"); r.Error || !strings.Contains(r.Text, "deploy <project> [<ref>] to <env>") {
		t.Errorf("help: %+v", r)
	}
}

func TestRequestWithOverride(t *testing.T) {
	b, _ := newTestBot(t)
	ctx := context.Background()
	alice := pipeline.Actor{Name: "alice"}
	prod := pipeline.Environment{Name: "prod", Tags: []*regexp.Regexp{regexp.MustCompile(`^v`)}, Approvals: pipeline.ApprovalPolicy{Required: 2}}
	r := b.Request(ctx, alice, pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.0.0", Override: &prod})
	if r.Error || len(r.Cards) != 1 || r.Cards[0].Approvals.Required != 2 {
		t.Fatalf("Request = %+v; want a card awaiting the 2 approvals of the override", r)
	}
	prod.Approvals.Required = 0
	r = b.Request(ctx, alice, pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.0.0", Override: &prod})
	if !r.Error || !strings.Contains(r.Text, "fewer than the 1 configured") {
		t.Errorf("Request with fewer approvals = %+v; want it refused", r)
	}
}
