package dingtalk

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/dashboards/dashboardstest"
	goldenfile "github.com/ferrybot/ferry/internal/golden"
	"github.com/ferrybot/ferry/pipeline"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

// goldenJSON compares v, as the JSON ferry sends, with testdata/name.
func goldenJSON(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, filepath.Join("testdata", name), append(got, '\n'))
}

// goldenCards are deploys in the states people see, at fixed times, with
// names, reasons and log lines in Chinese.
func goldenCards() map[string]cardInput {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	prod := pipeline.Deploy{
		ID: 7, Project: "demo", Env: "prod", Kind: pipeline.KindDeploy, Ref: "v1.2.0",
		Commit: "4444444ddddddddddddddddddddddddddddddddd", Version: "v1.2.0", Release: "7",
		PreviousVersion: "v1.1.0", PreviousRelease: "5", Requester: "张三",
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
				u.Step, u.Started, u.Finished, u.Error = "check", at(4), at(5), "健康检查失败: GET http://web-2/health: 503"
			}
			us = append(us, u)
		}
		return us
	}
	logs := []pipeline.LogEntry{
		{Step: "build", Text: "building v1.2.0 at 4444444: 修复登录页 *bug* [#12]"},
		{Unit: "web-1", Step: "switch", Text: "current -> releases/7"},
		{Unit: "web-2", Step: "check", Text: "GET /health <503> & retrying"},
	}
	approvals := []pipeline.Approval{{DeployID: 7, Approver: "李四", At: at(3)}}
	card := func(d pipeline.Deploy, us []pipeline.Unit, now time.Time) bot.Card {
		return bot.NewCard(bot.CardInput{Deploy: d, Units: us, Approvals: approvals, Logs: logs, BaseURL: "https://ferry.example.com", Now: now})
	}
	awaiting := prod
	awaiting.State, awaiting.Reason, awaiting.ApprovalDeadline = pipeline.StateAwaitingApproval, "waiting for 1 approval(s)", at(60)
	awaitingCard := bot.NewCard(bot.CardInput{Deploy: awaiting, BaseURL: "https://ferry.example.com", Now: at(1)})
	running := prod
	running.State, running.Batch, running.Batches, running.StartedAt, running.UpdatedAt = pipeline.StateRunning, 1, 3, at(1), at(5)
	paused := running
	paused.State, paused.Reason = pipeline.StatePaused, "manual gate: 第一批看起来没问题再继续"
	succeeded := running
	succeeded.State, succeeded.Reason, succeeded.Batch, succeeded.FinishedAt, succeeded.UpdatedAt = pipeline.StateSucceeded, "4 units updated in 9m0s", 2, at(10), at(10)
	rolledBack := running
	rolledBack.State, rolledBack.Reason, rolledBack.FinishedAt, rolledBack.UpdatedAt = pipeline.StateRolledBack, "rolled back by 李四: 页面白屏", at(8), at(8)
	return map[string]cardInput{
		"card_awaiting_approval":   {Card: awaitingCard, Requester: "张三", Approvers: []string{"0420297", "0990001"}},
		"card_awaiting_anyone":     {Card: awaitingCard, Requester: "张三", AnyoneBut: true},
		"card_running_failed_host": {Card: card(running, units(pipeline.UnitDone, pipeline.UnitFailed, pipeline.UnitPending, pipeline.UnitPending), at(5)), Requester: "张三"},
		"card_paused":              {Card: card(paused, units(pipeline.UnitDone, pipeline.UnitPending, pipeline.UnitPending, pipeline.UnitPending), at(5)), Requester: "张三"},
		"card_succeeded":           {Card: card(succeeded, units(pipeline.UnitDone, pipeline.UnitDone, pipeline.UnitDone, pipeline.UnitDone), at(10)), Requester: "张三"},
		"card_rolled_back":         {Card: card(rolledBack, units(pipeline.UnitRolledBack, pipeline.UnitRolledBack, pipeline.UnitPending, pipeline.UnitPending), at(8)), Requester: "张三"},
	}
}

// TestGoldenCards renders each card three ways: the template's variables,
// the ActionCard message without a template, and its markdown.
func TestGoldenCards(t *testing.T) {
	for name, in := range goldenCards() {
		goldenJSON(t, name+".data.json", cardData(in))
		in.Links = true
		goldenJSON(t, name+".actioncard.json", actionCardMessage(actionCard(in)))
		_, text := cardMarkdown(in)
		goldenfile.CheckString(t, filepath.Join("testdata", name+".md"), text)
	}
	failed := goldenCards()["card_running_failed_host"].Card
	failed.State, failed.Reason = pipeline.StateFailed, "batch 2 of 3 failed: 1 unit failed (max 0)"
	title, text := dmMarkdown(failed)
	goldenfile.CheckString(t, "testdata/dm_failed.md", title+"\n\n"+text+"\n")
}

func TestGoldenReplies(t *testing.T) {
	for name, r := range map[string]bot.Reply{
		"reply_error_parse":    {Text: `unknown command "deplyo"; did you mean "deploy"? usage: deploy <project> [<ref>] to <env>`, Error: true},
		"reply_unknown_user":   unknownReply(true),
		"reply_unknown_nolink": unknownReply(false),
		"reply_link":           {Text: bot.LinkText("https://ferry.example.com/link/TOKEN")},
		"reply_deploy":         {Text: "#7 demo v1.2.0 to prod: awaiting approval.", Cards: []bot.Card{goldenCards()["card_awaiting_approval"].Card}},
		"reply_status": {Table: &bot.Table{Title: "status", Columns: []string{"project", "env", "version", "by", "when", "now", "lock"},
			Rows: [][]string{{"demo", "staging", "main@1111111", "张三", "2026-11-02 10:00", "", ""}, {"demo", "prod", "v1.1.0", "李四", "2026-11-01 09:00", "#7 v1.2.0 awaiting approval", "locked by 李四: 封版"}}}},
		"reply_help": {Text: bot.Help("")},
	} {
		title, text := replyMarkdown(r)
		goldenfile.CheckString(t, filepath.Join("testdata", name+".md"), title+"\n\n"+text+"\n")
	}
}

func TestGoldenAnnouncement(t *testing.T) {
	b, _ := json.Marshal(pipeline.Announcement{Key: "k", Project: "demo", Env: "prod", Text: "The promotion of v1.2.0 from staging to prod is cancelled: the health check of staging failed: web-2: GET /health: 503 (页面白屏)."})
	_, m, err := announcement(b)
	if err != nil {
		t.Fatal(err)
	}
	goldenfile.CheckString(t, "testdata/announce_cancelled.md", m.Markdown.Title+"\n\n"+m.Markdown.Text+"\n")
}

func TestGoldenDigest(t *testing.T) {
	g := dashboardstest.Digest(t)
	title, text := digestMarkdown(g)
	goldenfile.CheckString(t, "testdata/digest.md", title+"\n\n"+text+"\n")
}

// TestCardTemplate keeps cards/deploy.json and the variables ferry sends
// in step: every variable sent is in the template, and every button of
// the template has its show_ variable.
func TestCardTemplate(t *testing.T) {
	b, err := os.ReadFile("cards/deploy.json")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Variables []struct{ Name string } `json:"variables"`
	}
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatalf("cards/deploy.json: %v", err)
	}
	var names []string
	for _, v := range tpl.Variables {
		names = append(names, v.Name)
	}
	for _, in := range goldenCards() {
		for k := range cardData(in) {
			if !slices.Contains(names, k) {
				t.Errorf("ferry sends %s, which cards/deploy.json does not declare", k)
			}
		}
	}
	for _, id := range cardActions {
		if !strings.Contains(string(b), `"action": "`+string(id)+`"`) {
			t.Errorf("cards/deploy.json has no button for %s", id)
		}
	}
}

// TestEscape keeps markdown out of what people wrote and any Unicode in.
func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"修复 *登录* [bug]":  `修复 \*登录\* \[bug\]`,
		"a_b `c` <d>\ne": `a\_b 'c' &lt;d&gt; e`,
		"# 标题":           `\# 标题`,
		"见 #12":          "见 #12",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q; want %q", in, got, want)
		}
	}
	if got := cut("部署到生产环境", 4); got != "部署到…" {
		t.Errorf("cut = %q", got)
	}
}
