package bot

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
)

// TestOperations runs scale, restart and config through the bot, on an
// environment whose target offers them (as kubernetes does) and on one
// whose target does not.
func TestOperations(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return now }
	prod := pipelinetest.NewBatchTarget("api/1", "api/2")
	project := pipeline.Project{Name: "api", Repo: "/srv/api", Envs: []pipeline.Environment{
		{Name: "staging", Target: pipeline.TargetSpec{Type: "local"}, Deployers: []string{"dev"}},
		{Name: "prod", Target: pipeline.TargetSpec{Type: "kubernetes"}, Deployers: []string{"dev"}},
	}}
	e, err := pipeline.New(pipeline.Config{
		Store: st, Projects: []pipeline.Project{project},
		Target: func(_ pipeline.Project, env pipeline.Environment) (pipeline.Target, error) {
			if env.Name == "prod" {
				return prod, nil
			}
			return pipelinetest.NewTarget("s1"), nil
		},
		Resolver: pipelinetest.Resolver{"v1.0.0": {Hash: "2222222bbbb", Tag: "v1.0.0"}},
		Clock:    clockwork.NewFakeClockAt(now),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	b, _ := New(Config{Engine: e})
	alice := pipeline.Actor{Name: "alice", Teams: []string{"dev"}}

	if r := b.Handle(ctx, alice, "deploy api v1.0.0 to prod"); r.Error {
		t.Fatal(r.Text)
	}
	waitDeploy(t, st, 1, pipeline.StateSucceeded)
	for text, want := range map[string]string{
		"scale api prod 3":                      "api prod: scaled to 3 (by alice).",
		"restart api prod":                      "api prod: restarted (by alice).",
		`config api prod set "GREETING=hi you"`: "api prod: set GREETING (by alice).",
	} {
		if r := b.Handle(ctx, alice, text); r.Error || r.Text != want {
			t.Errorf("%s: %+v, want %q", text, r, want)
		}
	}
	if len(prod.Configs) != 1 || prod.Configs[0] != "GREETING=hi you" {
		t.Errorf("configs set: %q", prod.Configs)
	}
	cases := []struct {
		actor      pipeline.Actor
		text, want string
		kind       ErrorKind
	}{
		{alice, "scale api staging 2", "scale is not supported by the local target of api staging", KindInvalid},
		{alice, "restart api staging", "restart is not supported by the local target of api staging", KindInvalid},
		{pipeline.Actor{Name: "eve"}, "restart api prod", "only dev may deploy to prod", KindForbidden},
	}
	for _, c := range cases {
		if r := b.Handle(ctx, c.actor, c.text); !r.Error || r.Kind != c.kind || !strings.Contains(r.Text, c.want) {
			t.Errorf("%s: %+v; want a %s error saying %q", c.text, r, c.kind, c.want)
		}
	}
	golden(t, "reply_status_runtime.txt", RenderReply(b.Handle(ctx, alice, "status")))
}
