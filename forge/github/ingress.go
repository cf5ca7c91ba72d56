package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// errSignature is every reason a delivery is not from GitHub; the reasons
// are counted and logged, never told to the sender.
var errSignature = errors.New("invalid signature")

// verify checks X-Hub-Signature-256: "sha256=" + hex(HMAC-SHA256(secret, body)).
func verify(secret []byte, header string, body []byte) error {
	if len(secret) == 0 || header == "" {
		return fmt.Errorf("%w: missing", errSignature)
	}
	if !hmac.Equal([]byte(header), []byte(sign(secret, body))) {
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

// serve caps, verifies and stores a delivery in the inbox, and
// acknowledges it; the inbox has it processed on Run's goroutines. The
// signature, which covers the body and nothing else, is the body's hash:
// the same body under a new delivery ID is a captured delivery replayed.
func (a *Adapter) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, ok := bot.ReadBody(w, r, maxBody)
	if !ok {
		return
	}
	sig := r.Header.Get("X-Hub-Signature-256")
	if err := verify(a.secret, sig, body); err != nil {
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
	receipt, err := a.inbox.Accept(ctx, pipeline.Delivery{ID: delivery, Event: kind, Body: payload, Hash: []byte(sig), Received: a.clock.Now()})
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
