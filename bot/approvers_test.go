package bot_test

import (
	"slices"
	"testing"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
)

func TestWaitingFor(t *testing.T) {
	dir := &config.Config{
		Users: []pipeline.User{{Name: "alice"}, {Name: "bob"}, {Name: "carol"}, {Name: "dave"}},
		Teams: []pipeline.Team{{Name: "ops", Members: []string{"bob", "carol", "alice"}}},
	}
	projects := []pipeline.Project{{Name: "demo", Envs: []pipeline.Environment{
		{Name: "prod", Approvals: pipeline.ApprovalPolicy{Required: 1, From: []string{"ops", "dave", "bob"}}},
		{Name: "staging", Approvals: pipeline.ApprovalPolicy{Required: 1}},
	}}}
	card := bot.Card{Project: "demo", Env: "prod", State: pipeline.StateAwaitingApproval, Requester: "alice", Approvals: bot.Approvals{By: []string{"carol"}}}
	if users, anyone := bot.WaitingFor(projects, dir, card); !slices.Equal(users, []string{"bob", "dave"}) || anyone {
		t.Fatalf("prod waits for %v (anyone %v); want bob and dave: not the requester, not who approved, each once", users, anyone)
	}
	card.Env = "staging"
	if users, anyone := bot.WaitingFor(projects, dir, card); users != nil || !anyone {
		t.Fatalf("staging: %v %v; want anyone but the requester", users, anyone)
	}
	card.State = pipeline.StateRunning
	if users, anyone := bot.WaitingFor(projects, dir, card); users != nil || anyone {
		t.Fatal("a running deploy waits for approvers")
	}
}
