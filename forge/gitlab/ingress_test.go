package gitlab

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// assertNothingStored fails unless the inbox holds no delivery of keys.
func (f *fixture) assertNothingStored(keys ...string) {
	f.t.Helper()
	for _, k := range keys {
		if _, err := f.store.DeliveryOf(f.t.Context(), platform, k); !errors.Is(err, pipeline.ErrNotFound) {
			f.t.Errorf("delivery %q was stored (%v)", k, err)
		}
	}
	known, err := f.store.KnownDeliveries(f.t.Context(), platform, keys)
	if err != nil || len(known) != 0 {
		f.t.Errorf("the inbox knows %v (%v), want none", known, err)
	}
	if b, err := f.store.InboxBacklog(f.t.Context()); err != nil || len(b) != 0 {
		f.t.Errorf("inbox backlog %+v (%v), want none", b, err)
	}
}

func TestRefusedTokensStoreNothing(t *testing.T) {
	f := newFixture(t, nil, nil)
	body := edited(t, "push.json")
	cases := []struct {
		name  string
		token string
		body  []byte
		want  int
	}{
		{"no token", "", body, http.StatusUnauthorized},
		{"another token", "It's a Secret to Everybody!", body, http.StatusUnauthorized},
		{"the token's prefix", secret[:10], body, http.StatusUnauthorized},
		{"too large", secret, bytes.Repeat([]byte(" "), maxBody+1), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		if got := f.post(c.body, headers{"X-Gitlab-Event": "Push Hook", tokenHeader: c.token, idempotencyKey: "k-refused"}); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	f.assertNothingStored("k-refused")
	if got := fmt.Sprint(f.adapter.Refusals()); got != "[{body too large 1} {invalid token: mismatch 2} {invalid token: missing 1}]" {
		t.Errorf("refusals counted %s", got)
	}
	f.drain()
	if ds := f.deploys(); len(ds) != 0 {
		t.Errorf("refused deliveries deployed: %+v", ds)
	}
}

// TestSignedDeliveries: with a signing token, a delivery's
// webhook-signature must verify over its ID, timestamp and body, and its
// timestamp be within five minutes of ferry's clock, besides the secret
// token.
func TestSignedDeliveries(t *testing.T) {
	f := newFixture(t, linked(), nil, func(c *Config) { c.SigningToken = signingToken })
	body := edited(t, "push.json")
	now := f.clock.Now().Unix()
	good := signed(t, "msg_1", now, body)
	with := func(h headers, set ...string) headers {
		out := headers{"X-Gitlab-Event": "Push Hook", idempotencyKey: "k-signed"}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i+1 < len(set); i += 2 {
			out[set[i]] = set[i+1]
		}
		return out
	}
	other := signed(t, "msg_1", now, append(bytes.Clone(body), ' '))[webhookSignature]
	cases := []struct {
		name string
		h    headers
		want int
	}{
		{"no signature", with(nil), http.StatusUnauthorized},
		{"no timestamp", with(good, webhookTimestamp, ""), http.StatusUnauthorized},
		{"a bad signature", with(good, webhookSignature, other), http.StatusUnauthorized},
		{"another message's ID", with(good, webhookID, "msg_2"), http.StatusUnauthorized},
		{"a stale timestamp", with(signed(t, "msg_1", now-int64((5*time.Minute+time.Second)/time.Second), body)), http.StatusUnauthorized},
		{"a timestamp from the future", with(signed(t, "msg_1", now+int64((5*time.Minute+time.Second)/time.Second), body)), http.StatusUnauthorized},
		{"a malformed signature", with(good, webhookSignature, "v1,not-base64!"), http.StatusUnauthorized},
		{"the right signature without the token", with(good, tokenHeader, ""), http.StatusUnauthorized},
	}
	for _, c := range cases {
		if got := f.post(body, c.h); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	f.assertNothingStored("k-signed")
	want := "[{invalid signature: malformed 1} {invalid signature: mismatch 2} {invalid signature: missing 2} {invalid signature: stale timestamp 2} {invalid token: missing 1}]"
	if got := fmt.Sprint(f.adapter.Refusals()); got != want {
		t.Errorf("refusals counted %s, want %s", got, want)
	}
	// A rotated key: GitLab signs with each, and one must verify.
	rotated := with(good, webhookSignature, "v1,"+strings.Repeat("A", 43)+"= "+good[webhookSignature])
	if got := f.post(body, rotated); got != http.StatusOK {
		t.Fatalf("a signed delivery: status %d", got)
	}
	f.drain()
	if ds := f.deploys(); len(ds) != 1 || ds[0].Env != "staging" {
		t.Errorf("deploys = %+v, want the signed push's", ds)
	}
}

func TestUnknownEventsAndMissingIDs(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, event := range []string{"Pipeline Hook", "Job Hook", "Confidential Note Hook", "System Hook"} {
		if got := f.post([]byte(`{"object_kind":"pipeline"}`), headers{"X-Gitlab-Event": event, idempotencyKey: "k-" + event}); got != http.StatusOK {
			t.Errorf("%s: status %d, want 200", event, got)
		}
		f.assertNothingStored("k-" + event)
	}
	body := edited(t, "push.json")
	if got := f.post(body, headers{"X-Gitlab-Event": "Push Hook"}); got != http.StatusBadRequest {
		t.Errorf("no Idempotency-Key nor X-Gitlab-Event-UUID: status %d, want 400", got)
	}
	if got := f.post(body, headers{"X-Gitlab-Event": "", idempotencyKey: "k1"}); got != http.StatusBadRequest {
		t.Errorf("no X-Gitlab-Event: status %d, want 400", got)
	}
	if got := f.post(body, headers{"X-Gitlab-Event": "Push Hook", eventUUIDHeader: "a4d7ea0d-1c5c-4f4b-9d6b-3e0a1b2c3d4e"}); got != http.StatusOK {
		t.Errorf("an X-Gitlab-Event-UUID only: status %d, want 200", got)
	}
	f.drain()
	if r, err := f.store.DeliveryOf(t.Context(), platform, "a4d7ea0d-1c5c-4f4b-9d6b-3e0a1b2c3d4e"); err != nil || r.Event != "Push Hook" {
		t.Errorf("the delivery under its event UUID = %+v, %v", r, err)
	}
}

// TestRetriesAndReplays: GitLab's retry keeps its Idempotency-Key, and is
// acknowledged and ignored; the same body under a new key is a captured
// delivery replayed, refused and counted. Neither deploys again.
func TestRetriesAndReplays(t *testing.T) {
	f := newFixture(t, linked(), nil)
	body := edited(t, "push.json")
	for i, key := range []string{"k1", "k1", "k2"} {
		if got := f.deliver("Push Hook", key, body); got != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i, got)
		}
	}
	f.drain()
	if ds := f.deploys(); len(ds) != 1 {
		t.Fatalf("a push delivered three times made %d deploys, want 1", len(ds))
	}
	if got := fmt.Sprint(f.adapter.Refusals()); got != "[{replayed body 1}]" {
		t.Errorf("refusals counted %s", got)
	}
	r, err := f.store.DeliveryOf(t.Context(), platform, "k2")
	if err != nil || !strings.HasPrefix(r.Outcome, "replay of delivery") {
		t.Errorf("the replay = %+v, %v; want it kept as a replay", r, err)
	}
}

func TestSignatureParts(t *testing.T) {
	if _, err := signingKey("c2VjcmV0"); err == nil {
		t.Error("a signing token without whsec_ was taken")
	}
	if _, err := signingKey("whsec_%%%"); err == nil {
		t.Error("a signing token that is not base64 was taken")
	}
	if _, err := New(Config{Engine: nopEngine{}, Users: nopUsers{}, Store: nopStore{}, WebhookSecret: secret, SigningToken: "whsec_!"}); err == nil || strings.Contains(err.Error(), "whsec_!") {
		t.Errorf("New with a bad signing token: %v; want an error that does not show it", err)
	}
	if err := tokenOK(digest(secret), secret); err != nil {
		t.Errorf("the secret: %v", err)
	}
	if err := tokenOK(digest(secret), strings.ToUpper(secret)); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("another token: %v", err)
	}
}
