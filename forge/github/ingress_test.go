package github

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

// TestSignatureVector checks sign and verify against the test vector of
// GitHub's docs (../shared/testdata/payloads/SIGNING.md).
func TestSignatureVector(t *testing.T) {
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	body := []byte("Hello, World!")
	if got := sign([]byte(secret), body); got != want {
		t.Fatalf("sign = %s, want %s", got, want)
	}
	if err := verify([]byte(secret), want, body); err != nil {
		t.Fatalf("verify the vector: %v", err)
	}
	for name, c := range map[string]struct{ sig, body string }{
		"a changed body":             {want, "Hello, World?"},
		"a changed signature":        {strings.Replace(want, "75", "76", 1), "Hello, World!"},
		"no signature":               {"", "Hello, World!"},
		"the bare hex":               {strings.TrimPrefix(want, "sha256="), "Hello, World!"},
		"another secret's signature": {sign([]byte("other"), body), "Hello, World!"},
	} {
		if err := verify([]byte(secret), c.sig, []byte(c.body)); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

// verify checks a body against its X-Hub-Signature-256 as serve does,
// with the body at once rather than as it arrives.
func verify(secret []byte, header string, body []byte) error {
	claimed, err := signed(secret, header)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return verified(mac, claimed)
}

func TestRefusedDeliveriesStoreNothing(t *testing.T) {
	f := newFixture(t, nil)
	body := payload(t, "push.branch.json")
	cases := []struct {
		name, sig string
		body      []byte
		want      int
	}{
		{"no signature", "", body, http.StatusUnauthorized},
		{"another secret", sign([]byte("wrong"), body), body, http.StatusUnauthorized},
		{"a changed body", sign([]byte(secret), body), append(bytes.Clone(body), ' '), http.StatusUnauthorized},
		{"a malformed signature", "sha256=00", body, http.StatusUnauthorized},
		{"too large", sign([]byte(secret), body), bytes.Repeat([]byte(" "), maxBody+1), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		if got := f.send("push", "d-refused", c.sig, c.body); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	// Nothing was stored.
	if _, err := f.store.DeliveryOf(t.Context(), platform, "d-refused"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("a refused delivery was stored: %v", err)
	}
	if got := fmt.Sprint(f.adapter.Refusals()); got != "[{body too large 1} {invalid signature: malformed 1} {invalid signature: mismatch 2} {invalid signature: missing 1}]" {
		t.Errorf("refusals counted %s", got)
	}
	f.drain()
	if ds := f.deploys(); len(ds) != 0 {
		t.Errorf("refused deliveries deployed: %+v", ds)
	}
}

func TestPingAndUnknownEvents(t *testing.T) {
	f := newFixture(t, nil)
	if got := f.deliver("ping", "d-ping", payload(t, "ping.json")); got != http.StatusOK {
		t.Errorf("ping: status %d", got)
	}
	if got := f.deliver("check_run", "d-check", []byte(`{"action":"completed"}`)); got != http.StatusOK {
		t.Errorf("unknown event: status %d", got)
	}
	for _, id := range []string{"d-ping", "d-check"} {
		if _, err := f.store.DeliveryOf(t.Context(), platform, id); !errors.Is(err, pipeline.ErrNotFound) {
			t.Errorf("%s was stored (%v)", id, err)
		}
	}
	if got := f.deliver("push", "", payload(t, "push.branch.json")); got != http.StatusBadRequest {
		t.Errorf("no delivery id: status %d, want 400", got)
	}
}

func TestRedeliveryIsIgnored(t *testing.T) {
	f := newFixture(t, nil)
	body := payload(t, "push.branch.json")
	for i := range 2 {
		if got := f.deliver("push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", body); got != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i, got)
		}
	}
	f.drain()
	if ds := f.deploys(); len(ds) != 1 {
		t.Fatalf("a delivered twice push made %d deploys, want 1", len(ds))
	}
}

// A redelivery keeps its ID and a captured delivery replayed gets a new
// one: both are acknowledged, and neither deploys again.
func TestRedeliveryAndReplay(t *testing.T) {
	f := newFixture(t, nil)
	body := payload(t, "push.branch.json")
	for _, id := range []string{"d1", "d1", "d-replayed"} {
		if got := f.deliver("push", id, body); got != http.StatusOK {
			t.Fatalf("%s: status %d, want 200", id, got)
		}
	}
	f.drain()
	if ds := f.deploys(); len(ds) != 1 {
		t.Fatalf("%d deploys, want 1: %+v", len(ds), ds)
	}
	rec, err := f.store.DeliveryOf(t.Context(), platform, "d-replayed")
	if err != nil || rec.Outcome != "replay of delivery d1" {
		t.Errorf("the replay is stored as %+v, %v; want processed as a replay of d1", rec, err)
	}
	if got := fmt.Sprint(f.adapter.Refusals()); got != "[{replayed body 1}]" {
		t.Errorf("refusals %s; want the replay counted", got)
	}
}

// A delivery about a repository no project deploys is processed by its
// repository alone, and says so.
func TestDeliveryOfAnotherRepository(t *testing.T) {
	f := newFixture(t, nil)
	body := bytes.Replace(payload(t, "push.branch.json"), []byte(`"Codertocat/Hello-World"`), []byte(`"Codertocat/Other"`), 1)
	if got := f.deliver("push", "d-other", body); got != http.StatusOK {
		t.Fatalf("status %d, want 200", got)
	}
	f.drain()
	rec, err := f.store.DeliveryOf(t.Context(), platform, "d-other")
	if err != nil || rec.Outcome != "ignored: no project deploys Codertocat/Other" {
		t.Errorf("outcome %q, %v", rec.Outcome, err)
	}
	if ds := f.deploys(); len(ds) != 0 {
		t.Errorf("%d deploys of another repository", len(ds))
	}
}

// repositoryOf reads the one top-level repository of the real payloads,
// and declines where it cannot be sure.
func TestRepositoryOf(t *testing.T) {
	for _, c := range []struct{ event, file string }{
		{"push", "push.branch.json"}, {"pull_request", "pull_request.opened.json"}, {"issue_comment", "issue_comment.created.on-pr.json"},
	} {
		r, ok := repositoryOf(c.event, payload(t, c.file))
		if !ok || r.FullName == "" || r.CloneURL == "" {
			t.Errorf("%s: %+v, %v; want its repository", c.file, r, ok)
		}
	}
	for _, c := range []struct{ name, event, body string }{
		{"another event", "installation", `{"repository": {"full_name": "a/b"}}`},
		{"twice", "push", `{"x": {"repository": {"full_name": "c/d"}}, "repository": {"full_name": "a/b"}}`},
		{"only in a string", "push", `{"body": "\"repository\": {\"full_name\": \"a/b\"}"}`},
		{"not JSON", "push", `{"repository": {"full_name": `},
	} {
		if r, ok := repositoryOf(c.event, []byte(c.body)); ok {
			t.Errorf("%s: %+v; want no answer", c.name, r)
		}
	}
}

// unread is a body that must not be read.
type unread struct{ t *testing.T }

func (u unread) Read([]byte) (int, error) {
	u.t.Error("the body of a request without a well-formed signature was read")
	return 0, io.EOF
}

// TestUnsignedBodiesNotRead: a delivery without a well-formed signature is
// refused from its headers, before a byte of its body is read.
func TestUnsignedBodiesNotRead(t *testing.T) {
	f := newFixture(t, nil)
	for _, sig := range []string{"", "sha256=00", "sha1=" + strings.Repeat("0", 40), strings.Repeat("0", 64)} {
		req := httptest.NewRequest(http.MethodPost, "/hooks/github", io.NopCloser(unread{t}))
		req.ContentLength = 24 << 20
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "d-unsigned")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		rec := httptest.NewRecorder()
		f.adapter.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("signature %q: status %d; want 401", sig, rec.Code)
		}
	}
}
