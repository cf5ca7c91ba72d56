package dingtalk

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// TestStreamDeploy deploys from a group over Stream: ferry answers in the
// message's session webhook, creates the deploy's card in the project's
// group once and updates it in place until it succeeded, and tells the
// requester in a 1:1 message.
func TestStreamDeploy(t *testing.T) {
	f := newFixture(t)
	var topics []string
	for _, s := range f.fake.Subscriptions() {
		if s.Type == "CALLBACK" {
			topics = append(topics, s.Topic)
		}
	}
	if !slices.Equal(topics, []string{topicMessage, topicCard}) && !slices.Equal(topics, []string{topicCard, topicMessage}) {
		t.Fatalf("callbacks subscribed = %v; want the robot's messages and card callbacks", topics)
	}
	answer := f.say(uAlice, "deploy demo to staging")
	if !strings.Contains(answer.Text, "#1") || answer.Conversation != demoGroup || len(answer.AtUserIDs) != 1 || answer.AtUserIDs[0] != uAlice {
		t.Fatalf("answer = %+v", answer)
	}
	f.waitDeploy(1, pipeline.StateSucceeded)
	card := f.card(1, pipeline.StateSucceeded)
	if card.Space != "dtv1.card//IM_GROUP."+demoGroup || card.TemplateID != template || card.Updates == 0 {
		t.Fatalf("card = %+v", card)
	}
	if n := f.fake.CallCount("/v1.0/card/instances/createAndDeliver"); n != 1 {
		t.Fatalf("createAndDeliver called %d times; want 1 (then updated in place)", n)
	}
	if card.Data["show_rollback"] != "false" || card.Data["requester"] != "alice" {
		t.Fatalf("card data = %v", card.Data)
	}
	f.until("the requester's message", func() bool { return len(f.fake.DirectMessages()) == 1 })
	dm := f.fake.DirectMessages()[0]
	if len(dm.UserIDs) != 1 || dm.UserIDs[0] != uAlice || !strings.Contains(dm.Param["text"].(string), "succeeded") {
		t.Fatalf("dm = %+v", dm)
	}
	if f.fake.TokensIssued() != 1 {
		t.Fatalf("tokens issued = %d; want one, cached", f.fake.TokensIssued())
	}
}

// TestHTTPMode takes a command by POST /chat/dingtalk, and refuses,
// before reading the body and storing anything, a request with a bad,
// missing or stale signature.
func TestHTTPMode(t *testing.T) {
	f := newFixture(t, setup{mode: ModeHTTP})
	if answer := f.send(f.message(uAlice, "whoami", false)); answer.Text != "You are alice (teams dev)." || answer.Conversation != "cidPRIVATE"+uAlice {
		t.Fatalf("answer = %+v", answer)
	}
	now := f.clock.Now()
	for name, header := range map[string][]string{
		"bad":     {"sign", "c2lnbmF0dXJl"},
		"missing": {"sign", ""},
		"stale":   {"timestamp", strconv.FormatInt(now.Add(-61*time.Minute).UnixMilli(), 10), "sign", signature([]byte(clientSecret), strconv.FormatInt(now.Add(-61*time.Minute).UnixMilli(), 10))},
		"future":  {"timestamp", strconv.FormatInt(now.Add(61*time.Minute).UnixMilli(), 10)},
	} {
		body := f.message(uAlice, "deploy demo to staging", true)
		if res := f.post(body, header...); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s signature: %d; want 401", name, res.StatusCode)
		}
		id := "msg:" + strings.Split(strings.Split(string(body), `"msgId":"`)[1], `"`)[0]
		if _, err := f.store.DeliveryOf(context.Background(), platform, id); !errors.Is(err, pipeline.ErrNotFound) {
			t.Errorf("%s signature: the delivery was stored (%v)", name, err)
		}
	}
	if got := f.adapter.Refusals(); len(got) == 0 {
		t.Fatal("no refusal counted")
	}
	if _, err := f.store.Deploy(context.Background(), 1); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("a refused request deployed: %v", err)
	}
}

// TestRedeliveryIgnored: a message DingTalk delivers again (over Stream
// under its msgId, or its body again over HTTP) is acknowledged and does
// nothing twice.
func TestRedeliveryIgnored(t *testing.T) {
	f := newFixture(t)
	body := f.message(uAlice, "deploy demo to staging", true)
	f.send(body)
	if ack, err := f.fake.SendBotMessage(f.ctx(), body); err != nil || ack.Code != 200 {
		t.Fatalf("redelivery: %+v %v", ack, err)
	}
	f.waitDeploy(1, pipeline.StateSucceeded)
	f.card(1, pipeline.StateSucceeded)
	if d, err := f.store.Deploy(context.Background(), 2); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("the redelivery made deploy %+v", d)
	}
	if n := len(f.fake.SessionMessages()); n != 1 {
		t.Fatalf("%d answers; want 1", n)
	}

	h := newFixture(t, setup{mode: ModeHTTP})
	body = h.message(uAlice, "deploy demo to staging", true)
	h.send(body)
	for range 2 {
		if res := h.post(body); res.StatusCode != http.StatusOK {
			t.Fatalf("HTTP redelivery: %d", res.StatusCode)
		}
	}
	h.waitDeploy(1, pipeline.StateSucceeded)
	if _, err := h.store.Deploy(context.Background(), 2); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatal("an HTTP redelivery deployed again")
	}
}

// TestApproveFromCard: the requester's own Approve and an unauthorized
// one are refused, each told on the card where only they see it, and the
// card does not change; a second user's Approve runs the deploy.
func TestApproveFromCard(t *testing.T) {
	f := newFixture(t)
	f.say(uAlice, "deploy demo v1.0.0 to prod")
	f.waitDeploy(1, pipeline.StateAwaitingApproval)
	card := f.card(1, pipeline.StateAwaitingApproval)
	if card.Data["show_approve"] != "true" || card.Data["show_reject"] != "true" {
		t.Fatalf("awaiting card = %v", card.Data)
	}
	if card.AtUsers[uBob] == "" {
		t.Fatalf("the approver is not @-mentioned: %v", card.AtUsers)
	}
	for _, who := range []string{uAlice, uDave} {
		f.press(who, 1, bot.ActionApprove)
		f.until("the private notice to "+who, func() bool { return f.fake.Cards()[card.OutTrackID].Private[who]["notice"] != "" })
	}
	got := f.fake.Cards()[card.OutTrackID]
	if !strings.Contains(got.Private[uAlice]["notice"], "someone else") || !strings.Contains(got.Private[uDave]["notice"], "ops") {
		t.Fatalf("notices = %v", got.Private)
	}
	if got.Updates != card.Updates+2 || got.Data["state"] != string(pipeline.StateAwaitingApproval) {
		t.Fatalf("a refused press changed the card: %d updates (%d before), %v", got.Updates, card.Updates, got.Data)
	}
	f.press(uBob, 1, bot.ActionApprove)
	f.waitDeploy(1, pipeline.StateSucceeded)
	done := f.card(1, pipeline.StateSucceeded)
	// The first release of prod has nothing to roll back to.
	if !strings.Contains(done.Data["body"], "1 of 1 (bob)") || done.Data["show_rollback"] != "false" || done.Data["rollback_confirm"] != "" {
		t.Fatalf("succeeded card = %v", done.Data)
	}
}

// TestUnknownUserIsToldHowToLink: someone ferry does not know is told how
// to link, and link sends the address to their 1:1 chat, not the group.
func TestUnknownUserIsToldHowToLink(t *testing.T) {
	f := newFixture(t)
	if a := f.say(uCarol, "deploy demo to staging"); !strings.Contains(a.Text, "does not know who you are in DingTalk") {
		t.Fatalf("answer = %+v", a)
	}
	if a := f.say(uCarol, "link"); !strings.Contains(a.Text, "direct message") || strings.Contains(a.Text, "/link/") {
		t.Fatalf("link in the group = %+v", a)
	}
	dms := f.fake.DirectMessages()
	if len(dms) != 1 || dms[0].UserIDs[0] != uCarol || !strings.Contains(dms[0].Param["text"].(string), "https://ferry.example.com/link/") {
		t.Fatalf("dms = %+v", dms)
	}
	if a := f.say(uCarol, "deplyo demo"); !strings.Contains(a.Text, `did you mean "deploy"`) {
		t.Fatalf("a parse error = %+v", a)
	}
}

// TestStreamReconnectsMidDeploy: DingTalk says disconnect while a deploy
// waits for approval; the SDK connects again and the approval pressed
// after that is taken.
func TestStreamReconnectsMidDeploy(t *testing.T) {
	f := newFixture(t)
	f.say(uAlice, "deploy demo v1.0.0 to prod")
	f.card(1, pipeline.StateAwaitingApproval)
	if err := f.fake.Disconnect(f.ctx()); err != nil {
		t.Fatal(err)
	}
	if err := f.fake.WaitConnections(f.ctx(), 2); err != nil {
		t.Fatalf("no new connection: %v", err)
	}
	f.press(uBob, 1, bot.ActionApprove)
	f.waitDeploy(1, pipeline.StateSucceeded)
	f.card(1, pipeline.StateSucceeded)
}

// TestActionCardWithoutTemplate: without a card template a deploy's card
// is an ActionCard message whose buttons open the web console, posted as
// its state changes.
func TestActionCardWithoutTemplate(t *testing.T) {
	f := newFixture(t, setup{noTemplate: true})
	f.say(uAlice, "deploy demo to staging")
	f.waitDeploy(1, pipeline.StateSucceeded)
	f.until("the succeeded card", func() bool {
		for _, m := range f.fake.GroupMessages() {
			if text, _ := m.Param["text"].(string); strings.Contains(text, "Succeeded") {
				return true
			}
		}
		return false
	})
	seen := map[string]bool{}
	for _, m := range f.fake.GroupMessages() {
		text, _ := m.Param["text"].(string)
		if m.Conversation != demoGroup || seen[text] {
			t.Fatalf("message %+v (posted twice, or elsewhere)", m)
		}
		seen[text] = true
	}
	if n := f.fake.CallCount("/v1.0/card/instances/createAndDeliver"); n != 0 {
		t.Fatalf("%d cards created without a template", n)
	}
}

// TestStreamPingAndDrop: DingTalk's ping is answered with its data; each
// frame is acknowledged once; a connection that dies is opened again
// after a backoff, and what comes then is handled.
func TestStreamPingAndDrop(t *testing.T) {
	f := newFixture(t)
	if _, err := f.fake.Ping(f.ctx()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	f.say(uAlice, "whoami")
	f.fake.Drop()
	if err := f.clock.BlockUntilContext(f.ctx(), 2); err != nil { // the outbox, and the stream's backoff
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	if err := f.fake.WaitConnections(f.ctx(), 2); err != nil {
		t.Fatalf("no new connection: %v", err)
	}
	if a := f.say(uBob, "whoami"); a.Title != "You are bob (teams ops)." {
		t.Fatalf("after the drop: %+v", a)
	}
	seen := map[string]int{}
	for _, ack := range f.fake.Acks() {
		seen[ack.MessageID]++
		if seen[ack.MessageID] > 1 || ack.Code != 200 {
			t.Fatalf("ack %+v (acknowledged %d times)", ack, seen[ack.MessageID])
		}
	}
	if len(seen) != 3 {
		t.Fatalf("%d frames acknowledged; want the ping and two messages", len(seen))
	}
}

// TestAccessTokenRenewed: the app's token is cached, fetched again before
// it expires, and at once when DingTalk no longer takes it.
func TestAccessTokenRenewed(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx()
	for range 2 {
		if _, err := f.adapter.api.accessToken(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.fake.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens; want 1, cached", n)
	}
	f.clock.Advance(2*time.Hour - tokenMargin)
	if _, err := f.adapter.api.accessToken(ctx); err != nil || f.fake.TokensIssued() != 2 {
		t.Fatalf("near its expiry: %d tokens, %v; want a new one", f.fake.TokensIssued(), err)
	}
	f.fake.ExpireTokens()
	if err := f.adapter.api.groupSend(ctx, clientID, demoGroup, markdownMessage("t", "x")); err != nil {
		t.Fatalf("after DingTalk dropped the token: %v", err)
	}
	if n := f.fake.TokensIssued(); n != 3 {
		t.Fatalf("%d tokens; want a third after the refusal", n)
	}
}

// TestHTTPCardCallback: in HTTP mode a card's button press comes to
// /chat/dingtalk, signed as every callback, and acts as who pressed it.
func TestHTTPCardCallback(t *testing.T) {
	f := newFixture(t, setup{mode: ModeHTTP})
	f.send(f.message(uAlice, "deploy demo v1.0.0 to prod", true))
	card := f.card(1, pipeline.StateAwaitingApproval)
	if card.CallbackType != "HTTP" {
		t.Fatalf("callbackType = %q; want HTTP in HTTP mode", card.CallbackType)
	}
	content := `{"cardPrivateData":{"actionIds":["approve"],"params":{"action":"approve"}}}`
	body := []byte(`{"outTrackId":"` + card.OutTrackID + `","userId":"` + uBob + `","corpId":"` + corp + `","type":"actionCallback","content":` + strconv.Quote(content) + `}`)
	if res := f.post(body, "sign", "forged"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an unsigned press: %d", res.StatusCode)
	}
	if res := f.post(body); res.StatusCode != http.StatusOK {
		t.Fatalf("the press: %d", res.StatusCode)
	}
	f.waitDeploy(1, pipeline.StateSucceeded)
	f.card(1, pipeline.StateSucceeded)
}

// TestAnswerAfterSessionExpired: a message handled after its session
// webhook expired (ferry was down) is answered through the OpenAPI, in the
// group it was said in.
func TestAnswerAfterSessionExpired(t *testing.T) {
	f := newFixture(t)
	body := f.message(uAlice, "whoami", true)
	f.clock.Advance(2 * time.Hour) // past sessionWebhookExpiredTime
	if ack, err := f.fake.SendBotMessage(f.ctx(), body); err != nil || ack.Code != 200 {
		t.Fatalf("%+v %v", ack, err)
	}
	f.until("the answer", func() bool { return len(f.fake.GroupMessages()) == 1 })
	m := f.fake.GroupMessages()[0]
	if m.Conversation != demoGroup || m.MsgKey != "sampleMarkdown" || !strings.Contains(m.Param["text"].(string), "You are alice") {
		t.Fatalf("answer = %+v", m)
	}
	if n := len(f.fake.SessionMessages()); n != 0 {
		t.Fatalf("%d answers to an expired session webhook", n)
	}
}

// TestCardsFollowAReload: once the configuration moves a project to
// another group, its next deploy's card goes there.
func TestCardsFollowAReload(t *testing.T) {
	f := newFixture(t)
	const moved = "cidMOVEDgroup000=="
	cfg := *f.users.Config()
	cfg.DingTalk.Groups = map[string]string{"demo": moved}
	f.users.Store(&cfg)
	f.say(uAlice, "deploy demo to staging")
	f.waitDeploy(1, pipeline.StateSucceeded)
	if card := f.card(1, pipeline.StateSucceeded); card.Space != "dtv1.card//IM_GROUP."+moved {
		t.Fatalf("the card went to %s, not the group the reload named", card.Space)
	}
}
