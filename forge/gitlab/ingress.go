package gitlab

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/ferrybot/ferry/pipeline"
)

// The headers of a GitLab delivery ferry reads.
const (
	tokenHeader      = "X-Gitlab-Token"
	idempotencyKey   = "Idempotency-Key"     // the same on each retry of one delivery
	eventUUIDHeader  = "X-Gitlab-Event-UUID" // one per event; older GitLab sends no Idempotency-Key
	webhookID        = "webhook-id"          // Standard Webhooks, with a signing token
	webhookTimestamp = "webhook-timestamp"
	webhookSignature = "webhook-signature"
)

// Limits of a delivery's headers.
const (
	signatureTolerance = 5 * time.Minute // a signed delivery's timestamp from ferry's clock, either way
	maxDeliveryID      = 255             // bytes of an Idempotency-Key or X-Gitlab-Event-UUID
	maxSignatures      = 8               // v1 signatures in one webhook-signature (GitLab rotates one key)
)

// errToken and errSignature are every reason a delivery is not from
// GitLab; the reasons are counted and logged, never told to the sender,
// and never include what it sent.
var (
	errToken     = errors.New("invalid token")
	errSignature = errors.New("invalid signature")
)

// digest is what a secret token is compared by: its SHA-256, so that
// comparing in constant time does not tell the secret's length either.
func digest(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// tokenOK checks X-Gitlab-Token against the secret, in constant time.
func tokenOK(secret [32]byte, header string) error {
	if header == "" {
		return fmt.Errorf("%w: missing", errToken)
	}
	got := digest(header)
	if subtle.ConstantTimeCompare(got[:], secret[:]) != 1 {
		return fmt.Errorf("%w: mismatch", errToken)
	}
	return nil
}

// signingKey is the HMAC key of a signing token, "whsec_" + base64.
func signingKey(token string) ([]byte, error) {
	b64, ok := strings.CutPrefix(token, "whsec_")
	if !ok {
		return nil, errors.New("want the Signing token as GitLab shows it, starting with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, errors.New("the part after whsec_ is not base64")
	}
	return key, nil
}

// signature is a delivery's Standard Webhooks signature as its headers
// claim it, read before the body is: the MAC to write the body through,
// with the delivery's ID and timestamp already in it, and the v1 MACs it
// must equal one of.
type signature struct {
	mac     hash.Hash
	claimed [][]byte
}

// signedBy parses webhook-id, webhook-timestamp and webhook-signature
// (space-separated "v1,<base64>"), and checks the timestamp is within
// signatureTolerance of now: a captured delivery cannot be replayed
// later.
func signedBy(key []byte, h http.Header, now time.Time) (signature, error) {
	id, ts, sigs := h.Get(webhookID), h.Get(webhookTimestamp), h.Get(webhookSignature)
	if id == "" || ts == "" || sigs == "" {
		return signature{}, fmt.Errorf("%w: missing", errSignature)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return signature{}, fmt.Errorf("%w: malformed", errSignature)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > signatureTolerance || d < -signatureTolerance {
		return signature{}, fmt.Errorf("%w: stale timestamp", errSignature)
	}
	var s signature
	for i, f := range strings.Fields(sigs) {
		if i == maxSignatures {
			break
		}
		b64, ok := strings.CutPrefix(f, "v1,")
		if !ok {
			continue // another scheme (v1a, asymmetric): not GitLab's
		}
		if mac, err := base64.StdEncoding.DecodeString(b64); err == nil && len(mac) == sha256.Size {
			s.claimed = append(s.claimed, mac)
		}
	}
	if len(s.claimed) == 0 {
		return signature{}, fmt.Errorf("%w: malformed", errSignature)
	}
	s.mac = hmac.New(sha256.New, key)
	io.WriteString(s.mac, id+"."+ts+".")
	return s, nil
}

// verified checks the MAC of the body against those its header claims.
func (s signature) verified() error {
	sum := s.mac.Sum(nil)
	ok := 0
	for _, c := range s.claimed {
		ok |= subtle.ConstantTimeCompare(sum, c)
	}
	if ok != 1 {
		return fmt.Errorf("%w: mismatch", errSignature)
	}
	return nil
}

// sign is the webhook-signature GitLab sends with body under a signing
// key.
func sign(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	io.WriteString(m, id+"."+ts+".")
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// handled are the events ferry stores and processes (a group's webhook
// sends the same); others are acknowledged and dropped. A Confidential
// Note Hook (an internal note) is not among them: ferry's answer would be
// a note anyone on the merge request reads.
var handled = map[gitlab.EventType]bool{
	gitlab.EventTypePush: true, gitlab.EventTypeTagPush: true,
	gitlab.EventTypeMergeRequest: true, gitlab.EventTypeNote: true,
}

// serve verifies, caps and stores a delivery in the inbox, and
// acknowledges it. A request without the secret token, or, with a
// signing token, without a well-formed, recent signature, is refused
// before its body is read; the body is written through the signature's
// MAC as it arrives. A delivery is known by its Idempotency-Key, which
// GitLab keeps across retries (X-Gitlab-Event-UUID where GitLab sends
// none), and its body by its SHA-256: the same body under a new key is a
// captured delivery replayed. The inbox has it processed on Run's
// goroutines.
func (a *Adapter) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := tokenOK(a.secret, r.Header.Get(tokenHeader)); err != nil {
		a.refused.Refuse(ctx, err.Error())
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	var sig signature
	var mac io.Writer // nil, not a nil hash.Hash, without a signing token
	if a.signing != nil {
		var err error
		if sig, err = signedBy(a.signing, r.Header, a.clock.Now()); err != nil {
			a.refused.Refuse(ctx, err.Error())
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		mac = sig.mac
	}
	body, release, ok := a.ingress.Read(w, r, maxBody, mac, a.refused)
	if !ok {
		return
	}
	defer release()
	if a.signing != nil {
		if err := sig.verified(); err != nil {
			a.refused.Refuse(ctx, err.Error())
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
	}
	kind := gitlab.HookEventType(r)
	if kind == "" {
		http.Error(w, "missing X-Gitlab-Event", http.StatusBadRequest)
		return
	}
	if !handled[kind] {
		a.log.DebugContext(ctx, "gitlab: ignored an event ferry does not act on", "platform", platform, "event", string(kind))
		w.WriteHeader(http.StatusOK)
		return
	}
	delivery := r.Header.Get(idempotencyKey)
	if delivery == "" {
		delivery = r.Header.Get(eventUUIDHeader)
	}
	switch {
	case delivery == "":
		http.Error(w, "missing Idempotency-Key and X-Gitlab-Event-UUID: ferry needs one to tell GitLab's retries from new events", http.StatusBadRequest)
		return
	case len(delivery) > maxDeliveryID:
		http.Error(w, "Idempotency-Key or X-Gitlab-Event-UUID too long", http.StatusBadRequest)
		return
	}
	sum := sha256.Sum256(body)
	receipt, err := a.inbox.Accept(ctx, pipeline.Delivery{ID: delivery, Event: string(kind), Body: body, Hash: sum[:], Received: a.clock.Now()})
	switch {
	case err != nil:
		a.log.ErrorContext(ctx, "gitlab: store a delivery", "platform", platform, "delivery", delivery, "err", err)
		http.Error(w, "ferry could not store the delivery; GitLab retries it", http.StatusInternalServerError)
		return
	case receipt == pipeline.Duplicate:
		a.log.InfoContext(ctx, "gitlab: ignored a retried delivery", "platform", platform, "delivery", delivery)
	case receipt == pipeline.Replayed:
		a.refused.Refuse(ctx, "replayed body", "delivery", delivery)
	}
	w.WriteHeader(http.StatusOK)
}
