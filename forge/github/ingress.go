package github

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
)

// errSignature is every reason a delivery is not from GitHub; the reasons
// are logged, never told to the sender.
var errSignature = errors.New("signature")

// verify checks X-Hub-Signature-256: "sha256=" + hex(HMAC-SHA256(secret, body)).
func verify(secret []byte, header string, body []byte) error {
	if len(secret) == 0 || header == "" {
		return errors.Join(errSignature, errors.New("missing signature"))
	}
	if !hmac.Equal([]byte(header), []byte(sign(secret, body))) {
		return errors.Join(errSignature, errors.New("signature mismatch"))
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

// serve caps, verifies, records and acknowledges a delivery, then processes
// it on Run's goroutines.
func (a *Adapter) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, ok := bot.ReadBody(w, r, maxBody)
	if !ok {
		return
	}
	if err := verify(a.secret, r.Header.Get("X-Hub-Signature-256"), body); err != nil {
		a.log.WarnContext(ctx, "github: refused an unsigned delivery", "platform", platform, "err", err)
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
		http.Error(w, "unreadable request", http.StatusBadRequest)
		return
	}
	if !handled[kind] {
		a.log.InfoContext(ctx, "github: ignored an event ferry does not act on", "platform", platform, "delivery", delivery, "event", kind)
		w.WriteHeader(http.StatusOK)
		return
	}
	ev, err := gh.ParseWebHook(kind, payload)
	if err != nil {
		a.log.WarnContext(ctx, "github: unreadable delivery", "platform", platform, "delivery", delivery, "event", kind, "err", err)
		http.Error(w, "unreadable request", http.StatusBadRequest)
		return
	}
	if !a.jobs.Accepting() {
		http.Error(w, "ferry is starting or stopping; try again", http.StatusServiceUnavailable)
		return
	}
	dup, err := a.store.RecordDelivery(ctx, platform, delivery, kind, payload)
	if err != nil {
		a.log.ErrorContext(ctx, "github: record delivery", "platform", platform, "delivery", delivery, "err", err)
		http.Error(w, "ferry could not record the delivery", http.StatusInternalServerError)
		return
	}
	if dup {
		a.log.InfoContext(ctx, "github: ignored a redelivery", "platform", platform, "delivery", delivery)
		w.WriteHeader(http.StatusOK)
		return
	}
	a.jobs.Go(func(ctx context.Context) { a.process(ctx, delivery, ev) })
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
