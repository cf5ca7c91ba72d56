package github

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
)

// FuzzSignature: a body verifies only under the MAC of that body with the
// secret. Whatever the header, verify does not panic; a header it accepts
// is GitHub's own signature of the body, but for the case of its hex
// digits; that header refuses the body changed by a byte, and under
// another secret; and GitHub's signature always verifies.
func FuzzSignature(f *testing.F) {
	vector := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	f.Add([]byte(secret), vector, []byte("Hello, World!"))
	f.Add([]byte(secret), strings.ToUpper(vector), []byte("Hello, World!"))
	f.Add([]byte(secret), "sha256=00", []byte("{}"))
	f.Add([]byte(""), vector, []byte("Hello, World!"))
	f.Add([]byte(secret), "sha1="+strings.Repeat("0", 40), payload(f, "ping.json"))
	f.Fuzz(func(t *testing.T, key []byte, header string, body []byte) {
		if len(key) > 0 {
			if err := verify(key, sign(key, body), body); err != nil {
				t.Fatalf("GitHub's signature of %q does not verify: %v", body, err)
			}
		}
		if verify(key, header, body) != nil {
			return
		}
		if !strings.EqualFold(header, sign(key, body)) || !strings.HasPrefix(header, "sha256=") {
			t.Fatalf("header %q verifies %q; GitHub would send %q", header, body, sign(key, body))
		}
		if verify(key, header, append(bytes.Clone(body), 'x')) == nil {
			t.Fatalf("header %q verifies %q and the same with a byte more", header, body)
		}
		if verify(append(bytes.Clone(key), 'x'), header, body) == nil {
			t.Fatalf("header %q verifies %q under two secrets", header, body)
		}
	})
}

// inbox is a Store that keeps what serve stores, and does nothing else.
type inbox struct {
	Store // nil: serve calls nothing else of it
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

// Signatures FuzzServe sends a body with.
const (
	sigGitHub    = iota // GitHub's
	sigUpper            // GitHub's, its hex digits upper case
	sigOther            // of another secret
	sigNone             // none
	sigTruncated        // of the body less its last byte
	sigKinds
)

func signature(how uint8, body []byte) string {
	switch how % sigKinds {
	case sigGitHub:
		return sign([]byte(secret), body)
	case sigUpper:
		return "sha256=" + strings.ToUpper(strings.TrimPrefix(sign([]byte(secret), body), "sha256="))
	case sigOther:
		return sign([]byte("another secret"), body)
	case sigTruncated:
		if len(body) > 0 {
			return sign([]byte(secret), body[:len(body)-1])
		}
		return sign([]byte(secret), []byte("x"))
	}
	return ""
}

// FuzzServe posts deliveries to the adapter's handler. Whatever the event,
// content type and body, a delivery without GitHub's signature of its body
// is refused with 401 and stored nowhere; a signed one is answered 200 or
// 400, and stored, once, when ferry handles its event: with the JSON of
// its body (of its payload field, form-encoded) and, as the body's hash,
// its signature as GitHub writes it, so that a replay is known whatever
// case its hex digits are in.
func FuzzServe(f *testing.F) {
	store := &inbox{}
	a, err := New(Config{Engine: projects{ps: []pipeline.Project{testProject()}}, Users: &config.Config{}, Store: store, WebhookSecret: secret})
	if err != nil {
		f.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range names {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		event, _, _ := strings.Cut(filepath.Base(name), ".")
		f.Add(event, "application/json", body, uint8(sigGitHub))
		f.Add(event, "application/json", body, uint8(sigUpper))
	}
	f.Add("push", "application/x-www-form-urlencoded", []byte("payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D"), uint8(sigGitHub))
	f.Add("push", "application/x-www-form-urlencoded; charset=utf-8", []byte("payload=%zz"), uint8(sigGitHub))
	f.Add("push", "application/json", []byte(`{}`), uint8(sigOther))
	f.Add("", "application/json", []byte(`{}`), uint8(sigNone))
	f.Add("push", "", []byte(`{}`), uint8(sigTruncated))
	handler := a.Handler()
	f.Fuzz(func(t *testing.T, event, contentType string, body []byte, how uint8) {
		req := httptest.NewRequest(http.MethodPost, "/hooks/github", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", "d-fuzz")
		if sig := signature(how, body); sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		got := store.take()
		signed := how%sigKinds == sigGitHub || how%sigKinds == sigUpper
		if !signed {
			if rec.Code != http.StatusUnauthorized || len(got) > 0 {
				t.Fatalf("unsigned: status %d, stored %d; want 401 and nothing", rec.Code, len(got))
			}
			return
		}
		kind := req.Header.Get("X-GitHub-Event") // as the handler reads it
		payload, perr := jsonPayload(contentType, body)
		want := kind != "" && kind != "ping" && perr == nil && handled[kind]
		switch {
		case rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest:
			t.Fatalf("signed: status %d %s", rec.Code, rec.Body)
		case !want && len(got) > 0:
			t.Fatalf("event %q (payload error %v): stored %d; want nothing", kind, perr, len(got))
		case want && (rec.Code != http.StatusOK || len(got) != 1):
			t.Fatalf("event %q: status %d, stored %d; want 200 and one", kind, rec.Code, len(got))
		case want && (got[0].Event != kind || got[0].ID != "d-fuzz" || !bytes.Equal(got[0].Body, payload)):
			t.Fatalf("stored %+v; want event %q, ID d-fuzz and the payload", got[0], kind)
		case want && string(got[0].Hash) != canonical(body):
			t.Fatalf("stored the hash %q; want %q, however the signature is written", got[0].Hash, canonical(body))
		}
	})
}

// canonical is GitHub's signature of body.
func canonical(body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// TestReplayInAnotherCase: a captured delivery sent again under a new ID
// is a replay, whatever the case of its signature's hex digits.
func TestReplayInAnotherCase(t *testing.T) {
	f := newFixture(t, nil)
	body := payload(t, "push.branch.json")
	if got := f.deliver("push", "d1", body); got != http.StatusOK {
		t.Fatalf("status %d, want 200", got)
	}
	if got := f.send("push", "d-replayed", signature(sigUpper, body), body); got != http.StatusOK {
		t.Fatalf("the replay: status %d, want 200", got)
	}
	f.drain()
	if ds := f.deploys(); len(ds) != 1 {
		t.Fatalf("%d deploys, want 1: %+v", len(ds), ds)
	}
	rec, err := f.store.DeliveryOf(t.Context(), platform, "d-replayed")
	if err != nil || rec.Outcome != "replay of delivery d1" {
		t.Errorf("the replay is stored as %q, %v; want processed as a replay of d1", rec.Outcome, err)
	}
}
