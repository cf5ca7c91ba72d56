package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/internal/logtest"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// TestGoldenBoardRuntime renders the board of a project whose staging
// target cannot say what it runs (as ssh), whose prod target can (as
// kubernetes) and whose qa target fails to: prod shows its runtime, qa
// says it is unavailable without the error, which goes to the log, and
// staging shows nothing more than before.
func TestGoldenBoardRuntime(t *testing.T) {
	prod := pipelinetest.NewBatchTarget("api/1", "api/2")
	prod.Restarts, prod.LastRestart, prod.Note = 2, t0.Add(-5*time.Minute), "rollout paused"
	qa := pipelinetest.NewBatchTarget("api/1")
	qa.FailReport = errors.New(`kubernetes: get deployments.apps "api": Unauthorized`)
	staging := pipelinetest.NewTarget("s1")
	main := []*regexp.Regexp{regexp.MustCompile(`^main$`)}
	api := pipeline.Project{Name: "api", Repo: "/srv/api.git", Envs: []pipeline.Environment{
		{Name: "staging", DefaultRef: "main", Branches: main, Strategy: pipeline.Strategy{Parallel: 1}},
		{Name: "qa", DefaultRef: "main", Branches: main, Target: pipeline.TargetSpec{Type: "kubernetes"}},
		{Name: "prod", DefaultRef: "main", Branches: main, Target: pipeline.TargetSpec{Type: "kubernetes"}},
	}}
	logs := &logtest.Buffer{}
	f := newFixture(t, setup{
		projects: []pipeline.Project{api},
		target: func(_ pipeline.Project, env pipeline.Environment) (pipeline.Target, error) {
			switch env.Name {
			case "prod":
				return prod, nil
			case "qa":
				return qa, nil
			}
			return staging, nil
		},
		log: slog.New(slog.NewTextHandler(logs, nil)),
	})
	alice := f.users.Actor("alice")
	ctx := t.Context()
	f.bot.Handle(ctx, alice, "deploy api to staging")
	f.wait(1, pipeline.StateSucceeded)
	f.bot.Handle(ctx, alice, "deploy api to prod")
	f.wait(2, pipeline.StateSucceeded)
	before := prod.Reports()

	v := &viewer{session: session{Name: "alice", Expires: t0.Add(sessionTTL), Nonce: "fixed-nonce"}, Actor: alice}
	v.CSRF = f.srv.csrf(v.session)
	rec := httptest.NewRecorder()
	f.srv.boardPage(rec, httptest.NewRequest(http.MethodGet, "/board", nil), v)
	if rec.Code != http.StatusOK {
		t.Fatalf("board: %d\n%s", rec.Code, rec.Body)
	}
	page := rec.Body.String()
	golden(t, "board_runtime.html", page)

	if n := prod.Reports() - before; n != 1 {
		t.Errorf("one board asked prod's target %d times what it runs, want once", n)
	}
	if strings.Contains(page, "Unauthorized") {
		t.Errorf("the board shows the target's error:\n%s", page)
	}
	if got := logs.String(); !strings.Contains(got, "board: runtime") || !strings.Contains(got, "env=qa") || !strings.Contains(got, "Unauthorized") {
		t.Errorf("the log does not say why qa's runtime is unavailable:\n%s", got)
	}
}
