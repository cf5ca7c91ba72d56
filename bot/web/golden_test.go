package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot"
	goldenfile "github.com/ferrybot/ferry/internal/golden"
	"github.com/ferrybot/ferry/pipeline"
)

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.CheckString(t, filepath.Join("testdata", name), got)
}

// goldenCards are deploys in the states people see most, at fixed times.
func goldenCards() map[string]bot.CardInput {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	prod := pipeline.Deploy{
		ID: 7, Project: "demo", Env: "prod", Kind: pipeline.KindDeploy, Ref: "v1.2.0",
		Commit: "4444444ddddddddddddddddddddddddddddddddd", Version: "v1.2.0", Release: "7",
		PreviousVersion: "v1.1.0", PreviousRelease: "5", Requester: "alice",
		ApprovalsRequired: 2, CreatedAt: at(0), UpdatedAt: at(0),
	}
	units := func(states ...pipeline.UnitState) []pipeline.Unit {
		var us []pipeline.Unit
		for i, st := range states {
			u := pipeline.Unit{DeployID: 7, Name: []string{"p1", "p2", "p3", "p4"}[i], Batch: min(i, 2), State: st, Previous: "5"}
			switch st {
			case pipeline.UnitDone:
				u.Step, u.Started, u.Finished = "check", at(2), at(2).Add(12*time.Second)
			case pipeline.UnitRunning:
				u.Step, u.Started = "switch", at(4)
			case pipeline.UnitFailed:
				u.Step, u.Started, u.Finished, u.Error = "check", at(4), at(5), "health check: GET http://p2/health: 503 Service Unavailable"
			}
			us = append(us, u)
		}
		return us
	}
	logs := []pipeline.LogEntry{
		{Step: "build", Text: "building v1.2.0 at 4444444"},
		{Unit: "p1", Step: "switch", Text: "current -> releases/7"},
		{Unit: "p2", Step: "copy", Text: "copying <release> & \"friends\""},
	}

	awaiting := prod
	awaiting.State, awaiting.Reason, awaiting.ApprovalDeadline = pipeline.StateAwaitingApproval, "waiting for 2 approval(s)", at(60)

	running := prod
	running.State, running.Batch, running.Batches, running.StartedAt, running.UpdatedAt = pipeline.StateRunning, 1, 3, at(1), at(4)

	failed := running
	failed.State, failed.Reason, failed.FinishedAt, failed.UpdatedAt = pipeline.StateFailed, "batch 2 of 3 failed: 1 unit failed (max 0)", at(5), at(5)

	succeeded := prod
	succeeded.ID, succeeded.Env, succeeded.Ref, succeeded.Version, succeeded.Commit = 3, "staging", "main", "main@1111111", "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	succeeded.PreviousVersion, succeeded.PreviousRelease, succeeded.ApprovalsRequired = "main@0000000", "2", 0
	succeeded.State, succeeded.Reason, succeeded.Batches, succeeded.StartedAt, succeeded.FinishedAt, succeeded.UpdatedAt =
		pipeline.StateSucceeded, "2 units updated in 1m0s", 1, at(1), at(2), at(2)

	approvals := []pipeline.Approval{{DeployID: 7, Approver: "bob", At: at(3)}}
	return map[string]bot.CardInput{
		"card_awaiting_approval.html": {Deploy: awaiting, Approvals: approvals, Now: at(10)},
		"card_running.html":           {Deploy: running, Units: units(pipeline.UnitDone, pipeline.UnitRunning, pipeline.UnitPending, pipeline.UnitPending), Approvals: approvals, Logs: logs, Now: at(4).Add(30 * time.Second)},
		"card_failed.html":            {Deploy: failed, Units: units(pipeline.UnitDone, pipeline.UnitFailed, pipeline.UnitPending, pipeline.UnitPending), Approvals: approvals, Logs: logs, Now: at(6)},
		"card_succeeded.html":         {Deploy: succeeded, Units: units(pipeline.UnitDone, pipeline.UnitDone)[:2], Now: at(10)},
	}
}

func TestGoldenCards(t *testing.T) {
	f := newFixture(t)
	for name, in := range goldenCards() {
		html, err := f.srv.cardHTML(cardView{Card: bot.NewCard(in), CSRF: "csrf-token", Back: "/deploys/7"})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name, html)
	}
}

func TestGoldenReplies(t *testing.T) {
	f := newFixture(t)
	alice := f.users.Actor("alice")
	ctx := t.Context()
	f.bot.Handle(ctx, alice, "deploy demo to staging")
	f.wait(1, pipeline.StateSucceeded)
	for _, c := range []struct{ name, text string }{
		{"reply_deploy.html", "deploy demo v1.0.0 to prod"},
		{"reply_error.html", "deploy demo main to prod"},
		{"reply_status.html", "status"},
	} {
		rec := httptest.NewRecorder()
		f.srv.renderPart(rec, "reply", f.srv.replyView(c.text, f.bot.Handle(ctx, alice, c.text), "csrf-token"))
		golden(t, c.name, rec.Body.String())
	}
}

// TestGoldenPages renders the pages of an engine whose clock stands still,
// as alice with a fixed session.
func TestGoldenPages(t *testing.T) {
	p := demoProject("/srv/demo.git")
	api := pipeline.Project{Name: "api", Repo: "/srv/api.git", Envs: []pipeline.Environment{p.Envs[0], {Name: "qa", DefaultRef: "main", Strategy: p.Envs[0].Strategy}}}
	f := newFixture(t, setup{projects: []pipeline.Project{p, api}})
	alice, bob := f.users.Actor("alice"), f.users.Actor("bob")
	ctx := t.Context()
	f.bot.Handle(ctx, alice, "deploy demo to staging")
	f.wait(1, pipeline.StateSucceeded)
	f.bot.Handle(ctx, alice, "deploy demo v1.0.0 to prod")
	f.bot.Handle(ctx, bob, "lock demo prod for 2h release freeze")
	f.bot.Handle(ctx, bob, "deploy api to qa")
	f.wait(3, pipeline.StateSucceeded)

	v := &viewer{session: session{Name: "alice", Expires: t0.Add(sessionTTL), Nonce: "fixed-nonce"}, Actor: alice}
	v.CSRF = f.srv.csrf(v.session)
	f.srv.flashes.put(v.Nonce, flash{command: "approve 2", reply: f.bot.Handle(ctx, alice, "approve 2")}, t0)
	for _, c := range []struct {
		name, path string
		serve      func(http.ResponseWriter, *http.Request, *viewer)
	}{
		{"console.html", "/", f.srv.console}, // shows the flash, once
		{"board.html", "/board", f.srv.boardPage},
		{"deploy.html", "/deploys/1", f.srv.deployPage},
		{"history.html", "/history?project=demo", f.srv.historyPage},
	} {
		req := httptest.NewRequest(http.MethodGet, c.path, nil)
		if c.name == "deploy.html" {
			req.SetPathValue("id", "1")
		}
		rec := httptest.NewRecorder()
		c.serve(rec, req, v)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", c.path, rec.Code)
		}
		golden(t, c.name, rec.Body.String())
	}
	rec := httptest.NewRecorder()
	f.srv.renderPage(rec, httptest.NewRequest(http.MethodPost, "/login", nil), http.StatusUnauthorized, "login",
		pageData{Title: "Sign in"}, loginForm{Name: "alice", Next: "/board", Error: "Wrong name or password."})
	golden(t, "login_failed.html", rec.Body.String())

	// What signInFrom's guesser is told, as a page.
	for i := range maxAddrFailures {
		f.signInFrom("203.0.113.7:1", fmt.Sprint("guess-", i), "guess")
	}
	f.clock.Advance(failureWindow - 40*time.Second)
	rec = f.signInFrom("203.0.113.7:1", "alice", alicePassword)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("throttled sign-in: %d", rec.Code)
	}
	golden(t, "login_throttled.html", rec.Body.String())
}
