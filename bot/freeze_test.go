package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// TestFreezeInChat: in a freeze, a deploy asked in chat is refused with
// the window's name, reason and end, status shows the window, and an
// admin's forced deploy goes through.
func TestFreezeInChat(t *testing.T) {
	b, st := newTestBot(t, pipeline.Freeze{Name: "year-end", Envs: []string{"prod"}, Reason: "year-end change freeze",
		From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC)})
	ctx := context.Background()
	bob := pipeline.Actor{Name: "bob"}
	r := b.Handle(ctx, bob, "deploy demo v1.0.0 to prod")
	if !r.Error || r.Kind != KindForbidden || !strings.Contains(r.Text, "demo/prod is frozen by year-end until Mon 4 Jan 2027 00:00 UTC (year-end change freeze); an admin may force it") {
		t.Fatalf("deploy in a freeze: %+v", r)
	}
	if r := b.Handle(ctx, bob, "deploy demo to staging"); r.Error {
		t.Fatalf("staging is not frozen: %+v", r)
	}
	r = b.Handle(ctx, bob, "status demo")
	if r.Text != "Freeze year-end [prod]: open until Mon 4 Jan 2027 00:00 UTC (year-end change freeze)" || r.Table == nil || len(r.Table.Rows) != 2 || r.Table.Rows[1][6] != "frozen by year-end until 2027-01-04 00:00" || r.Table.Rows[0][6] != "" {
		t.Fatalf("status: %+v", r.Table)
	}
	admin := pipeline.Actor{Name: "alice", Admin: true}
	r = b.Handle(ctx, admin, "deploy demo v1.0.0 to prod force")
	if r.Error || len(r.Cards) != 1 {
		t.Fatalf("a forced deploy: %+v", r)
	}
	waitDeploy(t, st, r.Cards[0].DeployID, pipeline.StateAwaitingApproval)
}
