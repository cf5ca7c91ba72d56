package slack

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot"
	goldenfile "github.com/ferrybot/ferry/internal/golden"
	"github.com/ferrybot/ferry/pipeline"
)

// golden compares a message, as the JSON ferry sends, with testdata/name,
// or rewrites the file with -update.
func golden(t *testing.T, name string, m message) {
	t.Helper()
	got, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, filepath.Join("testdata", name), append(got, '\n'))
}

// goldenCards are deploys in the states people see, at fixed times.
func goldenCards() map[string]cardInput {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	prod := pipeline.Deploy{
		ID: 7, Project: "demo", Env: "prod", Kind: pipeline.KindDeploy, Ref: "v1.2.0",
		Commit: "4444444ddddddddddddddddddddddddddddddddd", Version: "v1.2.0", Release: "7",
		PreviousVersion: "v1.1.0", PreviousRelease: "5", Requester: "alice",
		ApprovalsRequired: 1, CreatedAt: at(0), UpdatedAt: at(0),
	}
	units := func(states ...pipeline.UnitState) []pipeline.Unit {
		var us []pipeline.Unit
		for i, st := range states {
			u := pipeline.Unit{DeployID: 7, Name: []string{"web-1", "web-2", "web-3", "web-4"}[i], Batch: []int{0, 1, 2, 2}[i], State: st, Previous: "5"}
			switch st {
			case pipeline.UnitDone, pipeline.UnitRolledBack:
				u.Step, u.Started, u.Finished = "check", at(2), at(2).Add(72*time.Second)
			case pipeline.UnitRunning:
				u.Step, u.Started = "switch", at(4)
			case pipeline.UnitFailed:
				u.Step, u.Started, u.Finished, u.Error = "check", at(4), at(5), "health check: GET http://web-2/health: 503 Service Unavailable"
			}
			us = append(us, u)
		}
		return us
	}
	logs := []pipeline.LogEntry{
		{Step: "build", Text: "building v1.2.0 at 4444444"},
		{Unit: "web-1", Step: "switch", Text: "current -> releases/7"},
		{Unit: "web-2", Step: "check", Text: "GET /health <503> & retrying"},
	}
	approvals := []pipeline.Approval{{DeployID: 7, Approver: "bob", At: at(3)}}
	card := func(d pipeline.Deploy, us []pipeline.Unit, now time.Time) bot.Card {
		return bot.NewCard(bot.CardInput{Deploy: d, Units: us, Approvals: approvals, Logs: logs, BaseURL: "https://ferry.example.com", Now: now})
	}

	awaiting := prod
	awaiting.State, awaiting.Reason, awaiting.ApprovalDeadline = pipeline.StateAwaitingApproval, "waiting for 1 approval(s)", at(60)
	awaitingCard := bot.NewCard(bot.CardInput{Deploy: awaiting, Logs: nil, BaseURL: "https://ferry.example.com", Now: at(1)})

	running := prod
	running.State, running.Batch, running.Batches, running.StartedAt, running.UpdatedAt = pipeline.StateRunning, 1, 3, at(1), at(5)

	paused := running
	paused.State, paused.Reason, paused.Batch = pipeline.StatePaused, "manual gate: continue when batch 1 looks good", 1

	succeeded := running
	succeeded.State, succeeded.Reason, succeeded.Batch, succeeded.FinishedAt, succeeded.UpdatedAt = pipeline.StateSucceeded, "4 units updated in 9m0s", 2, at(10), at(10)

	rolledBack := running
	rolledBack.State, rolledBack.Reason, rolledBack.FinishedAt, rolledBack.UpdatedAt = pipeline.StateRolledBack, "rolled back by bob", at(8), at(8)

	interrupted := running
	interrupted.State, interrupted.Reason = pipeline.StateInterrupted, "ferry restarted in the middle of this deploy and its target cannot resume safely: resume it or roll it back"

	return map[string]cardInput{
		"card_awaiting_approval.json":          {Card: awaitingCard, Requester: "<@UALICE>", Approvers: []string{"<@UBOB>", "<@UCAROL>"}},
		"card_awaiting_approval_anyone.json":   {Card: awaitingCard, Requester: "alice", AnyoneBut: true},
		"card_running_canary_failed_host.json": {Card: card(running, units(pipeline.UnitDone, pipeline.UnitFailed, pipeline.UnitPending, pipeline.UnitPending), at(5)), Requester: "<@UALICE>"},
		"card_paused.json":                     {Card: card(paused, units(pipeline.UnitDone, pipeline.UnitPending, pipeline.UnitPending, pipeline.UnitPending), at(5)), Requester: "<@UALICE>"},
		"card_succeeded.json":                  {Card: card(succeeded, units(pipeline.UnitDone, pipeline.UnitDone, pipeline.UnitDone, pipeline.UnitDone), at(10)), Requester: "<@UALICE>"},
		"card_rolled_back.json":                {Card: card(rolledBack, units(pipeline.UnitRolledBack, pipeline.UnitRolledBack, pipeline.UnitPending, pipeline.UnitPending), at(8)), Requester: "<@UALICE>"},
		"card_interrupted.json":                {Card: card(interrupted, units(pipeline.UnitDone, pipeline.UnitRunning, pipeline.UnitPending, pipeline.UnitPending), at(5)), Requester: "<@UALICE>"},
	}
}

func TestGoldenCards(t *testing.T) {
	for name, in := range goldenCards() {
		golden(t, name, cardMessage(in))
	}
	dm := goldenCards()["card_succeeded.json"].Card
	golden(t, "dm_succeeded.json", dmMessage(dm))
	failed := goldenCards()["card_running_canary_failed_host.json"].Card
	failed.State, failed.Reason = pipeline.StateFailed, "batch 2 of 3 failed: 1 unit failed (max 0)"
	golden(t, "dm_failed.json", dmMessage(failed))
}

func TestGoldenReplies(t *testing.T) {
	link := bot.Reply{Text: bot.LinkText("https://ferry.example.com/link/TOKEN"), Ephemeral: true}
	for name, r := range map[string]bot.Reply{
		"reply_error_parse.json":     {Text: `unknown command "deplyo"; did you mean "deploy"? usage: deploy <project> [<ref>] to <env>`, Error: true, Ephemeral: true},
		"reply_error_forbidden.json": {Text: "only ops may approve deploys to prod", Error: true, Ephemeral: true},
		"reply_error_self.json":      {Text: "you requested deploy 7, so someone else must approve it", Error: true, Ephemeral: true},
		"reply_unknown_user.json":    unknownReply(true),
		"reply_link.json":            link,
		"reply_link_off.json":        (&Adapter{accounts: &bot.Accounts{}}).linkReply(request{user: "U123"}),
		"reply_deploy.json":          {Text: "#7 demo v1.2.0 to prod: awaiting approval."},
		"reply_status.json": {Table: &bot.Table{Title: "status", Columns: []string{"project", "env", "version", "by", "when", "now", "lock"},
			Rows: [][]string{{"demo", "staging", "main@1111111", "alice", "2026-11-02 10:00", "", ""}, {"demo", "prod", "v1.1.0", "bob", "2026-11-01 09:00", "#7 v1.2.0 awaiting approval", "locked by bob"}}}},
		"reply_help_deploy.json": {Text: bot.Help("deploy"), Ephemeral: true},
	} {
		golden(t, name, replyMessage(r))
	}
	golden(t, "announce_freeze.json", announceMessage("Freeze year-end (year-end change freeze): demo prod frozen until Mon 4 Jan 2027 00:00 CET. Deploys and promotions into it are refused; an admin may force."))
	golden(t, "confirm_rollback.json", confirmMessage(bot.Command{Verb: bot.VerbRollback, Project: "demo", Env: "prod"}))
	golden(t, "confirm_force.json", confirmMessage(bot.Command{Verb: bot.VerbDeploy, Project: "demo", Ref: "main", Env: "staging", Force: true}))
}
