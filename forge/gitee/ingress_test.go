package gitee

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// The vector of SIGNING.md (drone/go-scm's TestWebhookValid and
// TestWebhookInvalid).
const (
	vectorTimestamp = "1633679083918"
	vectorToken     = "Xvh4YPVe6l31XpDRL9J2yeaEXabsckIoUUschpXiVck="
)

func TestSignMatchesTheVector(t *testing.T) {
	if got := sign([]byte(secret), vectorTimestamp); got != vectorToken {
		t.Errorf("sign = %s, want %s", got, vectorToken)
	}
	if got := sign([]byte(secret), "1633679083917"); got == vectorToken {
		t.Error("the token of one timestamp signs another")
	}
}

// refusals is the adapter's refusals by reason.
func refusals(a *Adapter) map[string]uint64 {
	out := map[string]uint64{}
	for _, r := range a.Refusals() {
		out[r.Reason] = r.Count
	}
	return out
}

func TestTokensRefusedBeforeAnythingIsStored(t *testing.T) {
	f := newFixture(t, nil, nil)
	body := payload(t, "push_hooks.json")
	now := t0.UnixMilli()
	stamp := func(d time.Duration) string { return strconv.FormatInt(now+d.Milliseconds(), 10) }
	cases := []struct {
		name, token, timestamp, reason string
	}{
		{"no token", "", "", "missing X-Gitee-Token"},
		{"no token, a timestamp", "", stamp(0), "missing X-Gitee-Token"},
		{"a wrong password", "not the secret", "", "invalid token"},
		{"the secret with a byte more", secret + "x", "", "invalid token"},
		{"another key's signature", sign([]byte("another key"), stamp(0)), stamp(0), "invalid token"},
		{"the signature of another timestamp", sign([]byte(secret), stamp(time.Millisecond)), stamp(0), "invalid token"},
		{"a malformed timestamp", sign([]byte(secret), "+"+stamp(0)), "+" + stamp(0), "invalid token"},
		{"an hour and a millisecond old", sign([]byte(secret), stamp(-time.Hour-time.Millisecond)), stamp(-time.Hour - time.Millisecond), "stale timestamp"},
		{"a day old", sign([]byte(secret), stamp(-24*time.Hour)), stamp(-24 * time.Hour), "stale timestamp"},
		{"an hour and a millisecond ahead", sign([]byte(secret), stamp(time.Hour+time.Millisecond)), stamp(time.Hour + time.Millisecond), "stale timestamp"},
	}
	want := map[string]uint64{}
	for _, c := range cases {
		if got := f.send("Push Hook", c.token, c.timestamp, body); got != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", c.name, got)
		}
		want[c.reason]++
	}
	f.drain()
	if n := f.inbox.received.Load(); n != 0 {
		t.Errorf("%d deliveries given to the store, want none", n)
	}
	if backlog, err := f.store.InboxBacklog(context.Background()); err != nil || len(backlog) != 0 {
		t.Errorf("inbox backlog %+v, %v; want none", backlog, err)
	}
	if ds := f.deploys(); len(ds) != 0 {
		t.Errorf("deploys = %+v", ds)
	}
	if got := refusals(f.adapter); len(got) != len(want) || got["invalid token"] != want["invalid token"] ||
		got["stale timestamp"] != want["stale timestamp"] || got["missing X-Gitee-Token"] != want["missing X-Gitee-Token"] {
		t.Errorf("refusals = %v, want %v", got, want)
	}
}

// TestSignedWithinTheHour: a signature an hour old, or an hour ahead of
// ferry's clock, is still good.
func TestSignedWithinTheHour(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, d := range []time.Duration{-time.Hour, time.Hour} {
		ts := strconv.FormatInt(t0.Add(d).UnixMilli(), 10)
		if got := f.send("Tag Push Hook", sign([]byte(secret), ts), ts, edit(t, "tag_push_hooks.create.json", map[string]any{"timestamp": ts})); got != http.StatusOK {
			t.Errorf("%v: status %d", d, got)
		}
	}
	f.drain()
	if n := f.inbox.received.Load(); n != 2 {
		t.Errorf("%d deliveries stored, want 2", n)
	}
}

func TestTheVectorAtItsTime(t *testing.T) {
	f := newFixtureAt(t, time.UnixMilli(1633679083918), nil, nil)
	body := payload(t, "push_hooks.json")
	if got := f.send("Push Hook", vectorToken, "1633679083917", body); got != http.StatusUnauthorized {
		t.Errorf("the vector's token a millisecond off: status %d, want 401", got)
	}
	if got := f.send("Push Hook", vectorToken, vectorTimestamp, body); got != http.StatusOK {
		t.Errorf("the vector: status %d, want 200", got)
	}
	f.drain()
	if _, err := f.store.DeliveryOf(context.Background(), platform, vectorTimestamp); err != nil {
		t.Errorf("the vector's delivery is not stored under its timestamp: %v", err)
	}
	if n := f.inbox.received.Load(); n != 1 {
		t.Errorf("%d deliveries stored, want 1", n)
	}
	if ds := f.deploys(); len(ds) != 1 || ds[0].Env != "staging" || ds[0].Commit != pushed {
		t.Errorf("deploys = %+v, want the push to staging", ds)
	}
}

// TestTheVectorAnHourLater: the vector's token is refused once its hour
// is over.
func TestTheVectorAnHourLater(t *testing.T) {
	f := newFixtureAt(t, time.UnixMilli(1633679083918).Add(time.Hour+time.Millisecond), nil, nil)
	if got := f.send("Push Hook", vectorToken, vectorTimestamp, payload(t, "push_hooks.json")); got != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", got)
	}
	f.drain()
	if n := f.inbox.received.Load(); n != 0 || refusals(f.adapter)["stale timestamp"] != 1 {
		t.Errorf("stored %d, refusals %v", n, refusals(f.adapter))
	}
}

func TestPasswordMode(t *testing.T) {
	f := newFixture(t, nil, nil)
	body := payload(t, "push_hooks.json")
	if got := f.send("Push Hook", secret, "", body); got != http.StatusOK {
		t.Fatalf("the password: status %d", got)
	}
	// A hook that sends its password with a timestamp too.
	tag := payload(t, "tag_push_hooks.create.json")
	if got := f.send("Tag Push Hook", secret, strconv.FormatInt(t0.Add(-48*time.Hour).UnixMilli(), 10), tag); got != http.StatusOK {
		t.Fatalf("the password with a timestamp: status %d", got)
	}
	// The captured body again: the same delivery.
	if got := f.send("Push Hook", secret, "", body); got != http.StatusOK {
		t.Fatalf("the password again: status %d", got)
	}
	f.drain()
	sum := sha256.Sum256(body)
	d, err := f.store.DeliveryOf(context.Background(), platform, "sha256:"+hex.EncodeToString(sum[:]))
	if err != nil || d.Event != "Push Hook" || d.Outcome != "processed Push Hook" {
		t.Errorf("delivery = %+v, %v; want the push, processed", d, err)
	}
	var staging, prod int
	for _, d := range f.deploys() {
		switch d.Env {
		case "staging":
			staging++
		case "prod":
			prod++
		}
	}
	// prod takes ops only: the unknown pusher is denied, once.
	if staging != 1 || prod != 1 {
		t.Errorf("deploys to staging %d, prod %d; want one each: %+v", staging, prod, f.deploys())
	}
}

// TestReplays: the signature covers no body, so ferry knows a request by
// its timestamp and its body: a body sent again under a new timestamp is
// a replay, and a timestamp is spent once, whatever body comes with it.
func TestReplays(t *testing.T) {
	f := newFixture(t, nil, nil)
	body := payload(t, "push_hooks.json")
	first := f.deliver("Push Hook", body)
	f.deliver("Push Hook", body) // a new timestamp, the same body
	// The first timestamp with a tag push of its own.
	if got := f.send("Tag Push Hook", sign([]byte(secret), first), first, payload(t, "tag_push_hooks.create.json")); got != http.StatusOK {
		t.Errorf("a spent timestamp: status %d, want 200 (acknowledged, not acted on)", got)
	}
	// The same body in password mode.
	if got := f.send("Push Hook", secret, "", body); got != http.StatusOK {
		t.Errorf("the body as a password-mode delivery: status %d", got)
	}
	f.drain()
	ds := f.deploys()
	if len(ds) != 1 || ds[0].Env != "staging" {
		t.Fatalf("deploys = %+v, want the first push's only", ds)
	}
	got := refusals(f.adapter)
	if got["replayed body"] != 2 || got["timestamp already used"] != 1 || len(got) != 2 {
		t.Errorf("refusals = %v, want 2 replayed bodies and 1 timestamp already used", got)
	}
	d, err := f.store.DeliveryOf(context.Background(), platform, first)
	if err != nil || d.Event != "Push Hook" {
		t.Errorf("delivery %s = %+v, %v; want the first push", first, d, err)
	}
}

func TestEventsFerryDoesNotActOn(t *testing.T) {
	f := newFixture(t, nil, nil)
	ts := strconv.FormatInt(t0.UnixMilli(), 10)
	if got := f.send("Issue Hook", sign([]byte(secret), ts), ts, []byte(`{"hook_name":"issue_hooks"}`)); got != http.StatusOK {
		t.Errorf("Issue Hook: status %d, want 200", got)
	}
	if got := f.send("", sign([]byte(secret), ts), ts, []byte(`{}`)); got != http.StatusBadRequest {
		t.Errorf("no X-Gitee-Event: status %d, want 400", got)
	}
	f.drain()
	if n := f.inbox.received.Load(); n != 0 {
		t.Errorf("%d deliveries stored, want none", n)
	}
}

func TestBodyTooLarge(t *testing.T) {
	f := newFixture(t, nil, nil)
	ts := strconv.FormatInt(t0.UnixMilli(), 10)
	if got := f.send("Push Hook", sign([]byte(secret), ts), ts, make([]byte, maxBody+1)); got != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", got)
	}
	f.drain()
	if n := f.inbox.received.Load(); n != 0 {
		t.Errorf("%d deliveries stored, want none", n)
	}
}

// TestURLEncodedSignature: a signature URL-encoded, as Gitee's own
// documentation computes one, is the same signature.
func TestURLEncodedSignature(t *testing.T) {
	now := time.UnixMilli(1633679083918)
	h := http.Header{}
	h.Set("X-Gitee-Token", url.QueryEscape(vectorToken))
	h.Set("X-Gitee-Timestamp", vectorTimestamp)
	if m, id, err := verify([]byte(secret), h, now); err != nil || m != modeSignature || id != vectorTimestamp {
		t.Errorf("verify = %v, %q, %v", m, id, err)
	}
}

// TestPasswordNotStored: Gitee writes the WebHook's password into the
// body too; the inbox keeps the body without it, and knows the body by
// what Gitee sent.
func TestPasswordNotStored(t *testing.T) {
	f := newFixture(t, nil, nil)
	body := edit(t, "push_hooks.json", map[string]any{"password": secret})
	if !bytes.Contains(body, []byte(secret)) {
		t.Fatal("the body does not hold the password")
	}
	if got := f.send("Push Hook", secret, "", body); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	f.drain()
	sum := sha256.Sum256(body)
	d, err := f.store.DeliveryOf(context.Background(), platform, "sha256:"+hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(d.Body, []byte(secret)) {
		t.Error("the stored body holds the password")
	}
	if want := edit(t, "push_hooks.json", map[string]any{"password": "", "sign": ""}); !bytes.Equal(d.Body, want) {
		t.Errorf("stored body differs from the body without its password and sign:\n%s", d.Body)
	}
}

func TestWithoutSecrets(t *testing.T) {
	for in, want := range map[string]string{
		`{"password": "pa\"ss", "a": 1, "sign": "c2lnbg==", "b": {"password": "kept"}}`: `{"password": "", "a": 1, "sign": "", "b": {"password": "kept"}}`,
		`{"password":"","sign":""}`:           `{"password":"","sign":""}`,
		`{"a":[{"sign":"x"}],"password":"p"}`: `{"a":[{"sign":"x"}],"password":""}`,
		`{"password": 7}`:                     `{"password": 7}`,
		`[{"password": "p"}]`:                 `[{"password": "p"}]`,
		`{"password": "p"`:                    `{"password": ""`,
		`not json`:                            `not json`,
	} {
		if got := string(withoutSecrets([]byte(in))); got != want {
			t.Errorf("withoutSecrets(%s) = %s, want %s", in, got, want)
		}
	}
}
