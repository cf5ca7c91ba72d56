package slack

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// awaitingProd has alice ask for v1.0.0 in prod, which awaits ops.
func awaitingProd(t *testing.T, f *fixture) {
	t.Helper()
	if r := f.command(uAlice, "deploy demo v1.0.0 to prod"); r.Text != "#1 demo v1.0.0 to prod: awaiting approval." {
		t.Fatalf("deploy: %+v", r)
	}
	card := f.card(1, pipeline.StateAwaitingApproval)
	if got := buttons(t, card.Blocks); !slices.Equal(got, []string{"ferry_approve", "ferry_reject", "ferry_cancel"}) {
		t.Fatalf("buttons %v", got)
	}
	if !strings.Contains(string(card.Blocks), `Waiting for approval from \u003c@UBOB\u003e`) {
		t.Fatalf("the card does not mention bob, the approver with a Slack ID:\n%s", card.Blocks)
	}
}

func TestButtonFromUnauthorizedUser(t *testing.T) {
	f := newFixture(t)
	awaitingProd(t, f)
	before := f.card(1, pipeline.StateAwaitingApproval)
	r := f.click(uDave, bot.ActionApprove, "approve 1")
	if r.ResponseType != "ephemeral" || r.ReplaceOriginal || !strings.Contains(r.Text, "only ops may approve deploys to prod") {
		t.Fatalf("answer to dave: %+v", r)
	}
	time.Sleep(50 * time.Millisecond) // a card edit would have come by now
	after := f.card(1, pipeline.StateAwaitingApproval)
	if after.Updates != before.Updates || string(after.Blocks) != string(before.Blocks) {
		t.Fatalf("the card changed after a refused click")
	}
	if d := f.waitDeploy(1, pipeline.StateAwaitingApproval); d.State != pipeline.StateAwaitingApproval {
		t.Fatal(d.State)
	}
}

func TestSelfApprovalFromSlack(t *testing.T) {
	f := newFixture(t)
	awaitingProd(t, f)
	r := f.click(uAlice, bot.ActionApprove, "approve 1")
	if r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "you requested deploy 1, so someone else must approve it") {
		t.Fatalf("answer to alice: %+v", r)
	}
	f.waitDeploy(1, pipeline.StateAwaitingApproval)
}

func TestApproveFromSlack(t *testing.T) {
	f := newFixture(t)
	awaitingProd(t, f)
	r := f.click(uBob, bot.ActionApprove, "approve 1")
	if r.ResponseType != "ephemeral" || r.Text != "bob approved #1 (1 of 1 approvals)." {
		t.Fatalf("answer to bob: %+v", r)
	}
	f.waitDeploy(1, pipeline.StateSucceeded)
	card := f.card(1, pipeline.StateSucceeded)
	if got := buttons(t, card.Blocks); len(got) != 0 {
		t.Errorf("buttons %v on a finished first deploy", got)
	}
}

func TestApprovalAfterExpiry(t *testing.T) {
	f := newFixture(t)
	awaitingProd(t, f)
	f.engClock.Advance(2 * time.Hour)
	r := f.click(uBob, bot.ActionApprove, "approve 1")
	if r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "the approval request of deploy 1 expired") {
		t.Fatalf("answer to bob: %+v", r)
	}
	card := f.card(1, pipeline.StateExpired)
	if got := buttons(t, card.Blocks); len(got) != 0 {
		t.Errorf("an expired card keeps buttons %v", got)
	}
}

func TestUnknownSlackUser(t *testing.T) {
	f := newFixture(t)
	r := f.command("UNOBODY", "deploy demo to staging")
	if r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "ferry does not know who you are in Slack yet") || !strings.Contains(string(r.Blocks), "/ferry link") {
		t.Fatalf("answer to a stranger: %+v", r)
	}
	r = f.click("UNOBODY", bot.ActionCancel, "cancel 1")
	if r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "ferry does not know who you are") {
		t.Fatalf("a stranger's click: %+v", r)
	}
	if r := f.command("UNOBODY", "help"); r.ResponseType != "ephemeral" || !strings.Contains(string(r.Blocks), "link your chat account") {
		t.Fatalf("help for a stranger: %+v", r)
	}
}

// TestConfirmDangerous asks before a typed rollback of prod, and runs it
// from the confirmation button.
func TestConfirmDangerous(t *testing.T) {
	f := newFixture(t)
	awaitingProd(t, f)
	f.click(uBob, bot.ActionApprove, "approve 1")
	f.waitDeploy(1, pipeline.StateSucceeded)
	r := f.command(uBob, "rollback demo prod")
	if r.ResponseType != "ephemeral" || !strings.Contains(string(r.Blocks), `"action_id":"ferry_confirm"`) || !strings.Contains(string(r.Blocks), `"confirm":`) {
		t.Fatalf("no confirmation asked: %+v", r)
	}
	r = f.command(uAlice, "deploy demo to staging force")
	if !strings.Contains(r.Text, "Confirm: deploy demo main to staging force") && !strings.Contains(r.Text, "Confirm: deploy demo to staging force") {
		t.Fatalf("a forced command was not confirmed first: %+v", r)
	}
	r = f.click(uBob, "confirm", "rollback demo prod")
	if !strings.Contains(r.Text, "has no earlier release") {
		t.Fatalf("confirmed rollback: %+v", r)
	}
}
