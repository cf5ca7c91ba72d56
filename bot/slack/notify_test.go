package slack

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// TestRateLimitedUpdate answers chat.update with 429 and Retry-After: the
// card waits that long on the adapter's clock, then shows the deploy's
// latest state; the engine never waited.
func TestRateLimitedUpdate(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Now())
	f := newFixture(t, setup{clock: clock})
	f.slack.RateLimit("chat.update", 30, 30)
	target := f.targets["staging"]
	target.Set(func(tg *pipelinetest.Target) { tg.Hold = make(chan struct{}) })
	hold := target.Hold

	f.command(uAlice, "deploy demo to staging")
	f.slack.Until(t, "the card", func() bool { return len(f.slack.Messages()) > 0 })
	f.slack.Until(t, "a 429 from chat.update", func() bool { return f.slack.Count("chat.update") >= 1 })
	// The engine goes on while Slack makes ferry wait.
	close(hold)
	f.waitDeploy(1, pipeline.StateSucceeded)
	for range 2 { // two 429s, 30 s each, on the adapter's clock
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("the worker is not waiting out the rate limit: %v", err)
		}
		cancel()
		clock.Advance(30 * time.Second)
	}
	card := f.card(1, pipeline.StateSucceeded)
	if card.Updates < 1 || f.slack.Count("chat.update") < 3 {
		t.Fatalf("card %+v after %d chat.update calls", card, f.slack.Count("chat.update"))
	}
	if n := len(f.slack.Calls("chat.postMessage")); n < 1 {
		t.Fatal("no card")
	}
}

// TestCardSurvivesRestart edits the card a previous adapter posted: where
// it is comes from the database.
func TestCardSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	f.command(uAlice, "deploy demo to staging")
	f.waitDeploy(1, pipeline.StateSucceeded)
	first := f.card(1, pipeline.StateSucceeded)

	second, err := New(Config{Bot: f.bot, Engine: f.engine, Users: f.users, Store: f.store, BotToken: f.slack.BotToken,
		SigningSecret: signingSecret, UpdateEvery: -1, APIURL: f.slack.APIURL()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = second.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	d, _ := f.store.Deploy(ctx, 1)
	second.DeployChanged(ctx, d)
	f.slack.Until(t, "the restarted adapter's edit", func() bool {
		for _, m := range f.slack.Messages() {
			if m.TS == first.TS && m.Updates > first.Updates {
				return true
			}
		}
		return false
	})
	cards := 0
	for _, m := range f.slack.Messages() {
		if m.Channel == "CDEPLOYS" {
			cards++
		}
	}
	if cards != 1 {
		t.Fatalf("%d cards in the channel; the restarted adapter posted a new one", cards)
	}
}

// TestDeployChangedReturnsAtOnce: the notifier never waits for Slack.
func TestDeployChangedReturnsAtOnce(t *testing.T) {
	f := newFixture(t)
	f.slack.RateLimit("chat.postMessage", 3600)
	start := time.Now()
	for i := range 1000 {
		f.adapter.DeployChanged(context.Background(), pipeline.Deploy{ID: int64(i%10 + 1)})
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("1000 notifications took %v", took)
	}
	f.adapter.out.mu.Lock()
	n := len(f.adapter.out.items)
	f.adapter.out.mu.Unlock()
	if n > 10 {
		t.Fatalf("%d items for 10 deploys; changes were not coalesced", n)
	}
}
