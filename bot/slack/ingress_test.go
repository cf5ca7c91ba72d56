package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// TestSignatureVector checks verify against the test vector of Slack's
// docs: the exact bytes of slash_command.txt.
func TestSignatureVector(t *testing.T) {
	body := payload(t, "slash_command.txt")
	const ts, want = "1531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	now := time.Unix(1531420618, 0).Add(time.Minute)
	if got := sign([]byte(signingSecret), ts, body); got != want {
		t.Fatalf("sign = %s, want %s", got, want)
	}
	if err := verify([]byte(signingSecret), ts, want, body, now); err != nil {
		t.Fatalf("verify the vector: %v", err)
	}
	bad := []struct {
		name          string
		ts, sig, body string
		now           time.Time
	}{
		{"a changed body", ts, want, string(body) + "&x=1", now},
		{"a changed signature", ts, strings.Replace(want, "a2", "a3", 1), string(body), now},
		{"another secret's signature", ts, sign([]byte("other"), ts, body), string(body), now},
		{"a stale timestamp", ts, want, string(body), now.Add(5 * time.Minute)},
		{"a timestamp from the future", ts, want, string(body), time.Unix(1531420618, 0).Add(-6 * time.Minute)},
		{"no signature", ts, "", string(body), now},
		{"no timestamp", "", want, string(body), now},
		{"a timestamp that is not a number", "15314206l8", want, string(body), now},
	}
	for _, b := range bad {
		if err := verify([]byte(signingSecret), b.ts, b.sig, []byte(b.body), b.now); err == nil {
			t.Errorf("%s: verified", b.name)
		}
	}
}

// verify checks a request as the ingress does, with the body at once
// rather than as it arrives.
func verify(secret []byte, timestamp, signature string, body []byte, now time.Time) error {
	claimed, mac, err := signed(secret, timestamp, signature, now)
	if err != nil {
		return err
	}
	mac.Write(body)
	return verified(mac, claimed)
}

func TestRefusedRequestsStoreNothing(t *testing.T) {
	f := newFixture(t)
	body := f.commandBody(uAlice, "deploy demo to staging", "refused")
	now := time.Now()
	send := func(ts, sig string, b []byte) int {
		req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/chat/slack/commands", bytes.NewReader(b))
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	stamp := func(t time.Time) string { return strings.TrimSpace(t.Format("")) + itoa(t.Unix()) }
	cases := []struct {
		name, ts, sig string
		body          []byte
		want          int
	}{
		{"signature mismatch", stamp(now), sign([]byte("wrong secret"), stamp(now), body), body, http.StatusUnauthorized},
		{"stale timestamp", stamp(now.Add(-6 * time.Minute)), sign([]byte(signingSecret), stamp(now.Add(-6*time.Minute)), body), body, http.StatusUnauthorized},
		{"no signature", stamp(now), "", body, http.StatusUnauthorized},
		{"malformed signature", stamp(now), "v0=00", body, http.StatusUnauthorized},
		{"too large", stamp(now), sign([]byte(signingSecret), stamp(now), body), bytes.Repeat([]byte("x"), maxBody+1), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		if got := send(c.ts, c.sig, c.body); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	// Nothing was recorded: the same command, signed, is not a duplicate.
	if res := f.post("commands", body); res.StatusCode != http.StatusOK {
		t.Fatalf("signed: %d", res.StatusCode)
	}
	if r := f.response("refused"); !strings.Contains(r.Text, "#1 demo main@1111111 to staging: queued.") {
		t.Fatalf("signed command after refusals: %+v", r)
	}
	if ds, _ := f.store.Deploys(context.Background(), pipeline.DeployFilter{}); len(ds) != 1 {
		t.Fatalf("%d deploys; want the one signed command's", len(ds))
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestURLVerification answers the example of Slack's url_verification
// documentation (api.slack.com/events/url_verification) with the body it
// documents, key for key.
func TestURLVerification(t *testing.T) {
	f := newFixture(t)
	body := []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	ts := itoa(time.Now().Unix())
	req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/chat/slack/events", bytes.NewReader(body))
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sign([]byte(signingSecret), ts, body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	const want = `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`
	if err != nil || res.StatusCode != http.StatusOK || string(got) != want || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("url_verification: %d %s %q %v; want 200 application/json %s", res.StatusCode, res.Header.Get("Content-Type"), got, err, want)
	}
}

// TestSlashCommandEndToEnd deploys from a slash command on a real engine
// and SQLite store: the answer, the card posted and kept up to date, and
// the direct message to the requester at the end.
func TestSlashCommandEndToEnd(t *testing.T) {
	f := newFixture(t)
	r := f.command(uAlice, "deploy demo to staging")
	if r.ResponseType != "in_channel" || r.Text != "#1 demo main@1111111 to staging: queued." {
		t.Fatalf("answer: %+v", r)
	}
	f.waitDeploy(1, pipeline.StateSucceeded)
	card := f.card(1, pipeline.StateSucceeded)
	if card.Channel != "CDEPLOYS" || len(f.slack.Calls("chat.postMessage")) < 1 {
		t.Fatalf("card: %+v", card)
	}
	if got := buttons(t, card.Blocks); len(got) != 0 {
		t.Errorf("a first deploy's finished card has buttons %v; want none", got)
	}
	f.slack.Until(t, "the direct message to alice", func() bool {
		for _, c := range f.slack.Calls("chat.postMessage") {
			if c.Channel == "D"+uAlice && strings.Contains(c.Text, "Your deploy #1, deploy demo main@1111111 to staging, succeeded.") {
				return true
			}
		}
		return false
	})
	if n := len(f.slack.Calls("conversations.open")); n != 1 {
		t.Errorf("conversations.open called %d times; want 1", n)
	}
	// One card per deploy: every later change edited the first message.
	posts := 0
	for _, c := range f.slack.Calls("chat.postMessage") {
		if c.Channel == "CDEPLOYS" {
			posts++
		}
	}
	if posts != 1 || card.Updates == 0 {
		t.Errorf("%d cards posted and %d updates; want one card, updated", posts, card.Updates)
	}
	if r := f.command(uAlice, "deplyo demo to staging"); r.ResponseType != "ephemeral" || !strings.Contains(r.Text, `did you mean "deploy"?`) {
		t.Errorf("typo: %+v", r)
	}
	if r := f.command(uAlice, "status demo"); r.ResponseType != "in_channel" || !strings.Contains(string(r.Blocks), "main@1111111") {
		t.Errorf("status: %+v", r)
	}
}

func TestRetriedDelivery(t *testing.T) {
	f := newFixture(t)
	body := f.commandBody(uAlice, "deploy demo to staging", "once")
	for retry := range 3 {
		h := []string{}
		if retry > 0 {
			h = []string{"X-Slack-Retry-Num", itoa(int64(retry)), "X-Slack-Retry-Reason", "http_timeout"}
		}
		if res := f.post("commands", body, h...); res.StatusCode != http.StatusOK {
			t.Fatalf("delivery %d: %d", retry, res.StatusCode)
		}
	}
	f.response("once")
	f.waitDeploy(1, pipeline.StateSucceeded)
	f.card(1, pipeline.StateSucceeded)
	if ds, _ := f.store.Deploys(context.Background(), pipeline.DeployFilter{}); len(ds) != 1 {
		t.Fatalf("%d deploys from one command delivered three times", len(ds))
	}
	if n := len(f.slack.Calls("response_url")); n != 1 {
		t.Fatalf("%d answers; want 1", n)
	}
}

func TestAppMention(t *testing.T) {
	f := newFixture(t)
	var ev map[string]any
	if err := json.Unmarshal(payload(t, "event_callback.app_mention.json"), &ev); err != nil {
		t.Fatal(err)
	}
	inner := ev["event"].(map[string]any)
	inner["user"], inner["text"] = uBob, "<@U123> status"
	body, _ := json.Marshal(ev)
	for range 2 { // the second is Slack's retry of the same event
		if res := f.post("events", body, "X-Slack-Retry-Num", "1"); res.StatusCode != http.StatusOK {
			t.Fatalf("event: %d", res.StatusCode)
		}
	}
	f.slack.Until(t, "the answer in the thread", func() bool { return len(f.slack.Calls("chat.postMessage")) > 0 })
	c := f.slack.Calls("chat.postMessage")[0]
	if c.Channel != "C123" || c.Thread != "1583636399.000700" || !strings.Contains(string(c.Blocks), "staging") {
		t.Fatalf("answer to a mention: %+v", c)
	}
	inner["text"], ev["event_id"] = "<@U123> deploy", "Ev2"
	body, _ = json.Marshal(ev)
	f.post("events", body)
	f.slack.Until(t, "an ephemeral error", func() bool { return len(f.slack.Calls("chat.postEphemeral")) > 0 })
	if e := f.slack.Calls("chat.postEphemeral")[0]; e.User != uBob || !strings.Contains(e.Text, "deploy needs a project") {
		t.Fatalf("ephemeral: %+v", e)
	}
	time.Sleep(50 * time.Millisecond) // a retry would have been answered by now
	if n := len(f.slack.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d answers in the channel; the retried event was answered again", n)
	}
}

// A command handled after its response URL expired (ferry was down for
// longer) is still carried out, and the answer is a direct message saying
// why it comes there.
func TestLateCommandAnsweredDirectly(t *testing.T) {
	f := newFixture(t)
	reqs := []request{{kind: "command", user: uBob, channel: "C123", text: "deploy demo to staging", responseURL: f.slack.ResponseURL("late")}}
	body, err := json.Marshal(storedRequests(reqs))
	if err != nil {
		t.Fatal(err)
	}
	d := pipeline.Delivery{Platform: platform, ID: "command:late", Event: "command", Body: body,
		Received: f.clock.Now().Add(-responseURLTTL - time.Minute)}
	if got := f.adapter.handle(context.Background(), d); got != "answered 1 request(s)" {
		t.Fatalf("outcome %q", got)
	}
	f.waitDeploy(1, pipeline.StateSucceeded)
	if n := len(f.slack.Calls("response_url")); n != 0 {
		t.Errorf("%d answers to an expired response URL", n)
	}
	f.slack.Until(t, "the direct answer", func() bool {
		for _, c := range f.slack.Calls("chat.postMessage") {
			if strings.Contains(c.Text, "could not answer where you asked") && strings.Contains(c.Text, "#1") {
				return true
			}
		}
		return false
	})
}

// unread is a body that must not be read.
type unread struct{ t *testing.T }

func (u unread) Read([]byte) (int, error) {
	u.t.Error("the body of a request without a timely, well-formed signature was read")
	return 0, io.EOF
}

// TestUnsignedBodiesNotRead: a request without a timely, well-formed
// signature is refused from its headers, before its body is read.
func TestUnsignedBodiesNotRead(t *testing.T) {
	f := newFixture(t)
	now := itoa(time.Now().Unix())
	stale := itoa(time.Now().Add(-time.Hour).Unix())
	valid := "v0=" + strings.Repeat("0", 64)
	for _, h := range [][2]string{{now, ""}, {"", valid}, {now, "v0=00"}, {stale, valid}, {now, "v1=" + strings.Repeat("0", 64)}} {
		req := httptest.NewRequest(http.MethodPost, "/chat/slack/commands", io.NopCloser(unread{t}))
		req.ContentLength = 60 << 10
		req.Header.Set("X-Slack-Request-Timestamp", h[0])
		req.Header.Set("X-Slack-Signature", h[1])
		rec := httptest.NewRecorder()
		f.adapter.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("timestamp %q, signature %q: status %d; want 401", h[0], h[1], rec.Code)
		}
	}
}
