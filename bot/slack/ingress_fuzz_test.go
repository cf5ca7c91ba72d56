package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/pipeline"
)

// FuzzSignature: a request verifies only under the MAC of "v0:",
// timestamp, ":" and its body with the secret, within five minutes of its
// timestamp. Whatever the headers, verify does not panic; what it accepts
// is Slack's own signature but for the case of its hex digits, at a
// timestamp close to now; that signature refuses the body changed by a
// byte, another timestamp and another secret; and Slack's signature of a
// request sent now always verifies.
func FuzzSignature(f *testing.F) {
	body := payload(f, "slash_command.txt")
	const ts, vector = "1531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	f.Add([]byte(signingSecret), ts, vector, body, int64(60))
	f.Add([]byte(signingSecret), ts, strings.ToUpper(vector), body, int64(-299))
	f.Add([]byte(signingSecret), "+"+ts, vector, body, int64(0))
	f.Add([]byte(signingSecret), ts, vector, body, int64(301))
	f.Add([]byte(""), ts, vector, body, int64(0))
	f.Fuzz(func(t *testing.T, key []byte, timestamp, signature string, body []byte, skew int64) {
		stamp, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil {
			stamp = 1531420618
		}
		now := time.Unix(stamp, 0).Add(time.Duration(skew) * time.Second)
		if len(key) > 0 {
			ts := strconv.FormatInt(now.Unix(), 10)
			if err := verify(key, ts, sign(key, ts, body), body, now); err != nil {
				t.Fatalf("Slack's signature of %q at %s does not verify: %v", body, ts, err)
			}
		}
		if verify(key, timestamp, signature, body, now) != nil {
			return
		}
		if d := now.Sub(time.Unix(stamp, 0)); d > maxSkew || d < -maxSkew {
			t.Fatalf("timestamp %q verifies at %v, %v away", timestamp, now, d)
		}
		if !strings.EqualFold(signature, sign(key, timestamp, body)) || !strings.HasPrefix(signature, "v0=") {
			t.Fatalf("signature %q verifies %q at %q; Slack would send %q", signature, body, timestamp, sign(key, timestamp, body))
		}
		if verify(key, timestamp, signature, append(bytes.Clone(body), 'x'), now) == nil {
			t.Fatalf("signature %q verifies %q and the same with a byte more", signature, body)
		}
		if verify(key, "0"+timestamp, signature, body, now) == nil {
			t.Fatalf("signature %q verifies %q at %q and at another timestamp", signature, body, timestamp)
		}
		if verify(append(bytes.Clone(key), 'x'), timestamp, signature, body, now) == nil {
			t.Fatalf("signature %q verifies %q under two secrets", signature, body)
		}
	})
}

// parsed is what a route's parse made of a body.
type parsed struct {
	reqs     []request
	delivery string
	reply    []byte
	err      error
}

func parseWith(parse ingressFunc, body []byte) parsed {
	reqs, delivery, reply, err := parse(body)
	return parsed{reqs, delivery, reply, err}
}

// checkParsed checks what every route's parse makes of a body: the same
// twice; a delivery ID for requests; and requests that the inbox keeps as
// they are (stored as JSON, read back by handle).
func checkParsed(t *testing.T, parse ingressFunc, body []byte) parsed {
	t.Helper()
	p := parseWith(parse, body)
	if again := parseWith(parse, body); !reflect.DeepEqual(again, p) {
		t.Fatalf("parsed twice: %+v, then %+v", p, again)
	}
	if p.err != nil {
		return p
	}
	if len(p.reqs) > 0 && p.delivery == "" {
		t.Fatalf("requests %+v without a delivery ID", p.reqs)
	}
	stored, err := json.Marshal(storedRequests(p.reqs))
	if err != nil {
		t.Fatal(err)
	}
	var back []storedRequest
	if err := json.Unmarshal(stored, &back); err != nil || len(back) != len(p.reqs) {
		t.Fatalf("stored %s reads back as %+v, %v", stored, back, err)
	}
	for i, s := range back {
		r := p.reqs[i]
		if r.late || !valid(r) {
			continue // handle sets late; JSON keeps no invalid UTF-8, which Slack does not send
		}
		if got := s.request(); got != r {
			t.Fatalf("request %+v is stored as %s and read back as %+v", r, stored, got)
		}
	}
	return p
}

func valid(r request) bool {
	for _, s := range []string{r.kind, r.user, r.team, r.channel, r.text, r.responseURL, r.threadTS} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// addForms adds each form-encoded body, and each form built from the
// JSON objects of the socket mode envelopes' payloads with a key of
// their own, as seeds.
func addForms(f *testing.F, bodies ...[]byte) {
	for _, b := range bodies {
		f.Add(b)
	}
	for _, name := range []string{"socket_mode.envelope.slash_commands.json", "socket_mode.envelope.interactive.shortcut.json"} {
		var env struct {
			Payload map[string]any `json:"payload"`
		}
		if err := json.Unmarshal(payload(f, name), &env); err != nil {
			f.Fatal(err)
		}
		v := url.Values{}
		for k, x := range env.Payload {
			if s, ok := x.(string); ok {
				v.Set(k, s)
			}
		}
		f.Add([]byte(v.Encode()))
	}
}

// FuzzCommand: a slash command's form becomes one command request of the
// user in the channel, with Slack's escaping of its text undone, keyed by
// its trigger ID (or its body when it has none).
func FuzzCommand(f *testing.F) {
	addForms(f, payload(f, "slash_command.txt"), []byte("text=deploy+demo+to+staging&user_id=U1&trigger_id=t1"),
		[]byte("text=%26lt%3B%40U1%26gt%3B+%26amp%3Bamp%3B"), []byte("text=%zz"), []byte("a=1&a=2;b"))
	a := &Adapter{}
	f.Fuzz(func(t *testing.T, body []byte) {
		p := checkParsed(t, a.serveCommand, body)
		v, err := url.ParseQuery(string(body))
		switch {
		case (p.err != nil) != (err != nil):
			t.Fatalf("parse error %v; url.ParseQuery says %v", p.err, err)
		case err != nil:
			return
		case len(p.reqs) != 1 || p.reply != nil:
			t.Fatalf("%d requests and a reply %q; want one request", len(p.reqs), p.reply)
		}
		r := p.reqs[0]
		if r.kind != "command" || r.user != v.Get("user_id") || r.channel != v.Get("channel_id") || r.text != unescape(v.Get("text")) || r.responseURL != v.Get("response_url") {
			t.Fatalf("request %+v of form %v", r, v)
		}
		if trigger := v.Get("trigger_id"); trigger != "" && p.delivery != "command:"+trigger || trigger == "" && p.delivery != "command:"+hashOf(body) {
			t.Fatalf("delivery %q of trigger %q", p.delivery, trigger)
		}
	})
}

// FuzzInteraction: an interaction's payload becomes a request for each
// click on one of ferry's buttons that carries a command, and nothing for
// anything else.
func FuzzInteraction(f *testing.F) {
	form := func(b []byte) []byte { return []byte(url.Values{"payload": {string(b)}}.Encode()) }
	addForms(f, form(payload(f, "block_actions.button.message.json")), form(payload(f, "view_submission.json")),
		form([]byte(`{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"C1"},"trigger_id":"t1","actions":[{"action_id":"ferry_approve","value":"approve 1"},{"action_id":"ferry_confirm","value":"rollback demo prod"},{"action_id":"other","value":"x"},{"action_id":"ferry_x","value":""}]}`)),
		form([]byte(`{"type":"block_actions","actions":"nope"}`)), []byte("payload=%zz"))
	a := &Adapter{}
	f.Fuzz(func(t *testing.T, body []byte) {
		p := checkParsed(t, a.serveInteraction, body)
		if p.err != nil {
			return
		}
		for _, r := range p.reqs {
			if r.kind != "action" || r.text == "" {
				t.Fatalf("request %+v; want a click on a button with a command", r)
			}
		}
		if len(p.reqs) > 0 && !strings.HasPrefix(p.delivery, "interaction:") {
			t.Fatalf("delivery %q", p.delivery)
		}
	})
}

// FuzzEvent: an Events API body is answered, for url_verification, with
// exactly {"challenge": …} of its challenge; an app_mention from a person
// becomes one mention request; anything else asks nothing.
func FuzzEvent(f *testing.F) {
	f.Add(payload(f, "event_callback.app_mention.json"))
	var env struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(payload(f, "socket_mode.envelope.events_api.app_mention.json"), &env); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(env.Payload))
	f.Add([]byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`))
	f.Add([]byte(`{"type":"url_verification","challenge":"<\u2028&>"}`))
	f.Add([]byte(`{"type":"event_callback","event":{"type":"app_mention","bot_id":"B1","user":"U1","text":"<@U0> hi"}}`))
	a := &Adapter{}
	f.Fuzz(func(t *testing.T, body []byte) {
		p := checkParsed(t, a.serveEvent, body)
		if p.err != nil {
			return
		}
		var outer struct {
			Type      string `json:"type"`
			Challenge string `json:"challenge"`
		}
		_ = json.Unmarshal(body, &outer)
		if outer.Type != "url_verification" {
			if p.reply != nil {
				t.Fatalf("reply %q to a %q event", p.reply, outer.Type)
			}
			if len(p.reqs) > 1 || len(p.reqs) == 1 && (p.reqs[0].kind != "mention" || p.reqs[0].user == "" || !strings.HasPrefix(p.delivery, "event:")) {
				t.Fatalf("requests %+v, delivery %q", p.reqs, p.delivery)
			}
			return
		}
		var reply map[string]any
		if err := json.Unmarshal(p.reply, &reply); err != nil || len(reply) != 1 || reply["challenge"] != outer.Challenge || len(p.reqs) > 0 {
			t.Fatalf("url_verification of %q answered %q (%v), with requests %+v", outer.Challenge, p.reply, err, p.reqs)
		}
	})
}

// inbox is a Store that keeps what the handlers store, and does nothing
// else.
type inbox struct {
	Store // nil: the handlers call nothing else of it
	mu    sync.Mutex
	got   []pipeline.Delivery
}

func (in *inbox) Receive(_ context.Context, d pipeline.Delivery, _ time.Duration) (pipeline.Receipt, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.got = append(in.got, d)
	return pipeline.Received, nil
}

func (in *inbox) take() []pipeline.Delivery {
	in.mu.Lock()
	defer in.mu.Unlock()
	got := in.got
	in.got = nil
	return got
}

// FuzzIngress posts bodies to the adapter's three routes. Whatever the
// body, one without Slack's signature of it at a timestamp near now is
// refused with 401 and stores nothing; a signed one is answered 200, or
// 400 when it cannot be read, and stores once what the route's parse
// makes of it, under its delivery ID.
func FuzzIngress(f *testing.F) {
	fx := newFixture(f)
	store := &inbox{}
	clock := clockwork.NewFakeClockAt(t0)
	a, err := New(Config{Bot: fx.bot, Projects: fx.engine, Users: fx.users, Store: store, Accounts: fx.accounts,
		BotToken: "xoxb-fuzz", SigningSecret: signingSecret, Clock: clock})
	if err != nil {
		f.Fatal(err)
	}
	routes := []struct {
		path, kind string
		parse      ingressFunc
	}{
		{"commands", "command", a.serveCommand}, {"interactions", "interaction", a.serveInteraction}, {"events", "event", a.serveEvent},
	}
	f.Add(uint8(0), payload(f, "slash_command.txt"), uint8(0))
	f.Add(uint8(1), []byte(url.Values{"payload": {string(payload(f, "block_actions.button.message.json"))}}.Encode()), uint8(0))
	f.Add(uint8(2), payload(f, "event_callback.app_mention.json"), uint8(0))
	f.Add(uint8(2), []byte(`{"type":"url_verification","challenge":"c"}`), uint8(0))
	for how := range uint8(4) {
		f.Add(uint8(0), []byte("text=deploy+demo+to+staging&user_id=U1"), how)
	}
	handler := a.Handler()
	f.Fuzz(func(t *testing.T, route uint8, body []byte, how uint8) {
		r := routes[int(route)%len(routes)]
		now := clock.Now()
		ts := strconv.FormatInt(now.Unix(), 10)
		sig := sign([]byte(signingSecret), ts, body)
		switch how % 4 {
		case 1: // another secret's
			sig = sign([]byte("another secret"), ts, body)
		case 2: // six minutes old
			ts = strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
			sig = sign([]byte(signingSecret), ts, body)
		case 3: // of another body
			sig = sign([]byte(signingSecret), ts, append(bytes.Clone(body), 'x'))
		}
		req := httptest.NewRequest(http.MethodPost, "/chat/slack/"+r.path, bytes.NewReader(body))
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		got := store.take()
		if how%4 != 0 {
			if rec.Code != http.StatusUnauthorized || len(got) > 0 {
				t.Fatalf("unsigned: status %d, stored %d; want 401 and nothing", rec.Code, len(got))
			}
			return
		}
		p := parseWith(r.parse, body)
		switch {
		case p.err != nil:
			if rec.Code != http.StatusBadRequest || len(got) > 0 {
				t.Fatalf("unreadable (%v): status %d, stored %d; want 400 and nothing", p.err, rec.Code, len(got))
			}
			return
		case rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), p.reply):
			t.Fatalf("status %d %q; want 200 %q", rec.Code, rec.Body, p.reply)
		case len(p.reqs) == 0 && len(got) > 0 || len(p.reqs) > 0 && len(got) != 1:
			t.Fatalf("%d requests stored as %d deliveries", len(p.reqs), len(got))
		case len(got) == 0:
			return
		}
		want, _ := json.Marshal(storedRequests(p.reqs))
		if d := got[0]; d.ID != p.delivery || d.Event != r.kind || !bytes.Equal(d.Body, want) {
			t.Fatalf("stored %s %s %s; want %s %s %s", d.ID, d.Event, d.Body, p.delivery, r.kind, want)
		}
	})
}
