package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"mime"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/pipeline"
)

// errSignature is every reason a delivery is not from GitHub; the reasons
// are counted and logged, never told to the sender.
var errSignature = errors.New("invalid signature")

// signed parses X-Hub-Signature-256, "sha256=" + hex(HMAC-SHA256(secret,
// body)), into the MAC it claims, before the body is read.
func signed(secret []byte, header string) ([]byte, error) {
	if len(secret) == 0 || header == "" {
		return nil, fmt.Errorf("%w: missing", errSignature)
	}
	hexMAC, ok := strings.CutPrefix(header, "sha256=")
	mac, err := hex.DecodeString(hexMAC)
	if !ok || err != nil || len(mac) != sha256.Size {
		return nil, fmt.Errorf("%w: malformed", errSignature)
	}
	return mac, nil
}

// verified checks the MAC of the body against the one its header claims.
func verified(mac hash.Hash, claimed []byte) error {
	if !hmac.Equal(mac.Sum(nil), claimed) {
		return fmt.Errorf("%w: mismatch", errSignature)
	}
	return nil
}

// sign is the X-Hub-Signature-256 GitHub sends with body.
func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// handled are the events ferry stores and processes; others are
// acknowledged and dropped.
var handled = map[string]bool{
	"push": true, "create": true, "pull_request": true, "issue_comment": true,
	"pull_request_review": true, "installation": true,
}

// serve verifies, caps and stores a delivery in the inbox, and
// acknowledges it: a request without a well-formed signature is refused
// before its body is read, and the body is written through the MAC as it
// arrives; the inbox has it processed on Run's goroutines. The
// signature, which covers the body and nothing else, is the body's hash,
// written as GitHub writes it (its hex digits may come in either case):
// the same body under a new delivery ID is a captured delivery replayed.
func (a *Adapter) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sig := r.Header.Get("X-Hub-Signature-256")
	claimed, err := signed(a.secret, sig)
	if err != nil {
		a.refused.Refuse(ctx, err.Error())
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	mac := hmac.New(sha256.New, a.secret)
	body, release, ok := a.ingress.Read(w, r, maxBody, mac, a.refused)
	if !ok {
		return
	}
	defer release()
	if err := verified(mac, claimed); err != nil {
		a.refused.Refuse(ctx, err.Error())
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	kind, delivery := gh.WebHookType(r), gh.DeliveryID(r)
	if kind == "ping" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if kind == "" || delivery == "" {
		http.Error(w, "missing X-GitHub-Event or X-GitHub-Delivery", http.StatusBadRequest)
		return
	}
	payload, err := jsonPayload(r.Header.Get("Content-Type"), body)
	if err != nil {
		http.Error(w, "unreadable request: the payload field of a form-encoded delivery is missing or malformed", http.StatusBadRequest)
		return
	}
	if !handled[kind] {
		a.log.DebugContext(ctx, "github: ignored an event ferry does not act on", "platform", platform, "delivery", delivery, "event", kind)
		w.WriteHeader(http.StatusOK)
		return
	}
	receipt, err := a.inbox.Accept(ctx, pipeline.Delivery{ID: delivery, Event: kind, Body: payload, Hash: []byte("sha256=" + hex.EncodeToString(claimed)), Received: a.clock.Now()})
	switch {
	case err != nil:
		a.log.ErrorContext(ctx, "github: store a delivery", "platform", platform, "delivery", delivery, "err", err)
		http.Error(w, "ferry could not store the delivery; GitHub may redeliver it", http.StatusInternalServerError)
		return
	case receipt == pipeline.Duplicate:
		a.log.InfoContext(ctx, "github: ignored a redelivery", "platform", platform, "delivery", delivery)
	case receipt == pipeline.Replayed:
		a.refused.Refuse(ctx, "replayed body", "delivery", delivery)
	}
	w.WriteHeader(http.StatusOK)
}

// jsonPayload returns the JSON of a delivery, which a webhook set to
// application/x-www-form-urlencoded sends in the payload field.
func jsonPayload(contentType string, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	p := v.Get("payload")
	if strings.TrimSpace(p) == "" {
		return nil, errors.New("no payload field")
	}
	return []byte(p), nil
}
