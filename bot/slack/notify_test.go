package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/bot/slack/fakeslack"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// TestRateLimitedUpdate answers chat.update with 429 and Retry-After: the
// card's notice waits that long in the store, on the dispatcher's clock,
// then the card shows the deploy's latest state; the engine never waited.
func TestRateLimitedUpdate(t *testing.T) {
	start := time.Now()
	clock := clockwork.NewFakeClockAt(start)
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
	f.slack.Until(t, "the card's notice held 30 s", func() bool {
		ns, err := f.store.Notices(t.Context(), pipeline.NoticeFilter{Platform: platform})
		return err == nil && len(ns) > 0 && !ns[0].NotBefore.Before(start.Add(30*time.Second))
	})
	for i := 0; f.slack.Count("chat.update") < 3; i++ { // two 429s, 30 s each
		if i == 100 {
			t.Fatalf("%d chat.update calls after %v on the dispatcher's clock", f.slack.Count("chat.update"), clock.Since(start))
		}
		clock.Advance(5 * time.Second)
		time.Sleep(5 * time.Millisecond) // let the dispatcher look
	}
	if waited := clock.Since(start); waited < 60*time.Second {
		t.Errorf("the card was edited after %v on the dispatcher's clock; Retry-After asked for 60 s", waited)
	}
	card := f.card(1, pipeline.StateSucceeded)
	if card.Updates < 1 {
		t.Fatalf("card %+v after %d chat.update calls", card, f.slack.Count("chat.update"))
	}
}

// TestCardSurvivesRestart edits the card a previous ferry posted: where it
// is comes from the database.
func TestCardSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	f.command(uAlice, "deploy demo to staging")
	f.waitDeploy(1, pipeline.StateSucceeded)
	first := f.card(1, pipeline.StateSucceeded)
	f.stopOutbox()

	second, err := New(Config{Bot: f.bot, Projects: f.engine, Users: f.users, Store: f.store, Accounts: f.accounts, BotToken: f.slack.BotToken,
		SigningSecret: signingSecret, UpdateEvery: -1, APIURL: f.slack.APIURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.dispatch(second)()
	d, _ := f.store.Deploy(t.Context(), 1)
	if err := f.store.AddNotices(t.Context(), Subscriber{}.Notices(d)[:1]); err != nil {
		t.Fatal(err)
	}
	f.slack.Until(t, "the restarted ferry's edit", func() bool {
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
		t.Fatalf("%d cards in the channel; the restarted ferry posted a new one", cards)
	}
}

// TestAnnouncementInChannel: news of a project is posted in its channel,
// once.
func TestAnnouncementInChannel(t *testing.T) {
	f := newFixture(t)
	an := pipeline.Announcement{Key: "lock demo prod 1 expired demo", Project: "demo", Env: "prod", Text: "The lock of demo prod by bob expired: prod takes deploys again."}
	for range 2 {
		if _, err := f.store.Announce(context.Background(), an, Subscriber{}.Announce(an)); err != nil {
			t.Fatal(err)
		}
	}
	said := func() []fakeslack.Message {
		var out []fakeslack.Message
		for _, m := range f.slack.Messages() {
			if strings.Contains(m.Text, "lock of demo prod") {
				out = append(out, m)
			}
		}
		return out
	}
	f.slack.Until(t, "the announcement", func() bool { return len(said()) > 0 })
	if ms := said(); len(ms) != 1 || ms[0].Channel != "CDEPLOYS" {
		t.Fatalf("announcements = %+v", ms)
	}
}

// TestCardsFollowAReload: once the configuration moves a project to
// another channel, its next deploy's card is posted there.
func TestCardsFollowAReload(t *testing.T) {
	f := newFixture(t)
	p := demoProject()
	p.Channel = "#releases"
	if err := f.engine.Reconfigure([]pipeline.Project{p}, nil); err != nil {
		t.Fatal(err)
	}
	f.command(uAlice, "deploy demo to staging")
	f.waitDeploy(1, pipeline.StateSucceeded)
	if card := f.card(1, pipeline.StateSucceeded); card.Channel != "CRELEASES" {
		t.Fatalf("the card went to %s, not #releases", card.Channel)
	}
}
