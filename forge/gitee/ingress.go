package gitee

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// maxSkew is how far a signed delivery's X-Gitee-Timestamp may be from
// ferry's clock, either side.
const maxSkew = time.Hour

// The reasons a request is refused before its body is read; they are
// counted and logged, never told to the sender, who is told 401 only.
var (
	errMissing = errors.New("missing X-Gitee-Token")
	errToken   = errors.New("invalid token")
	errStale   = errors.New("stale timestamp")
)

// mode is how a delivery proved it came from Gitee.
type mode int

const (
	modePassword  mode = iota + 1 // X-Gitee-Token is the WebHook's password
	modeSignature                 // X-Gitee-Token signs X-Gitee-Timestamp
)

// sign is the X-Gitee-Token Gitee sends with timestamp (milliseconds, as
// written in X-Gitee-Timestamp) under a signing key:
// Base64(HMAC-SHA256(key, timestamp + "\n" + key)).
func sign(secret []byte, timestamp string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("\n"))
	m.Write(secret)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// verify checks a request's headers, before its body is read: in
// signature mode it returns the timestamp, which is the delivery's ID. A
// token sent with a timestamp is a signature of it, valid within maxSkew
// of now; one that is not, and one sent without a timestamp, must be the
// password. Every comparison takes the same time whatever the token is
// (the password's digests are compared, so that not even its length
// shows).
func verify(secret []byte, h http.Header, now time.Time) (mode, string, error) {
	token := h.Get("X-Gitee-Token")
	if token == "" || len(secret) == 0 {
		return 0, "", errMissing
	}
	gotSum, wantSum := sha256.Sum256([]byte(token)), sha256.Sum256(secret)
	password := subtle.ConstantTimeCompare(gotSum[:], wantSum[:]) == 1
	if raw := h.Get("X-Gitee-Timestamp"); raw != "" {
		if ms, ok := millis(raw); ok && signed(secret, raw, token) {
			at := time.UnixMilli(ms)
			if at.Before(now.Add(-maxSkew)) || at.After(now.Add(maxSkew)) {
				return 0, "", errStale
			}
			return modeSignature, strconv.FormatInt(ms, 10), nil
		}
	}
	if password {
		return modePassword, "", nil
	}
	return 0, "", errToken
}

// millis reads a timestamp of milliseconds written in decimal digits only.
func millis(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	return ms, err == nil
}

// signed reports whether token is the signature of timestamp: Gitee's
// Base64, or the same URL-encoded, as Gitee's documentation writes it
// when it computes one.
func signed(secret []byte, timestamp, token string) bool {
	want := []byte(sign(secret, timestamp))
	if subtle.ConstantTimeCompare([]byte(token), want) == 1 {
		return true
	}
	if !strings.Contains(token, "%") {
		return false
	}
	unescaped, err := url.QueryUnescape(token)
	return err == nil && subtle.ConstantTimeCompare([]byte(unescaped), want) == 1
}

// handled are the events ferry stores and processes (X-Gitee-Event);
// others are acknowledged and dropped unread.
var handled = map[string]bool{
	"Push Hook": true, "Tag Push Hook": true, "Merge Request Hook": true, "Note Hook": true,
}

// serve verifies, caps and stores a delivery in the inbox, and
// acknowledges it: a request without a valid token is refused before its
// body is read, and the body is hashed as it arrives; the inbox has it
// processed on Run's goroutines.
//
// The token does not cover the body. A signed delivery's ID is its
// timestamp, so that a captured token is spent once ferry has its
// request: another body under it is a duplicate, whatever it holds. A
// delivery's hash is its body's SHA-256, so that a body ferry has seen,
// sent again under another timestamp or as a password-mode delivery, is a
// replay. A password-mode delivery's ID is that hash too: its one body is
// all that can be refused (see the package comment).
func (a *Adapter) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	mode, id, err := verify(a.secret, r.Header, a.clock.Now())
	if err != nil {
		a.refused.Refuse(ctx, err.Error())
		http.Error(w, "invalid X-Gitee-Token", http.StatusUnauthorized)
		return
	}
	kind := r.Header.Get("X-Gitee-Event")
	if kind == "" {
		http.Error(w, "missing X-Gitee-Event", http.StatusBadRequest)
		return
	}
	if !handled[kind] {
		a.log.DebugContext(ctx, "gitee: ignored an event ferry does not act on", "platform", platform, "event", kind)
		w.WriteHeader(http.StatusOK)
		return
	}
	digest := sha256.New()
	body, release, ok := a.ingress.Read(w, r, maxBody, digest, a.refused)
	if !ok {
		return
	}
	defer release()
	sum := digest.Sum(nil)
	if mode == modePassword {
		id = "sha256:" + hex.EncodeToString(sum)
	}
	receipt, err := a.inbox.Accept(ctx, pipeline.Delivery{ID: id, Event: kind, Body: withoutSecrets(body), Hash: sum, Received: a.clock.Now()})
	switch {
	case err != nil:
		a.log.ErrorContext(ctx, "gitee: store a delivery", "platform", platform, "delivery", id, "err", err)
		http.Error(w, "ferry could not store the delivery; Gitee may send it again", http.StatusInternalServerError)
		return
	case receipt == pipeline.Duplicate && mode == modeSignature:
		a.refused.Refuse(ctx, "timestamp already used", "delivery", id)
	case receipt == pipeline.Duplicate:
		a.log.InfoContext(ctx, "gitee: ignored a body delivered before", "platform", platform, "delivery", id)
	case receipt == pipeline.Replayed:
		a.refused.Refuse(ctx, "replayed body", "delivery", id)
	}
	w.WriteHeader(http.StatusOK)
}

// secretFields are the members of a delivery's body in which Gitee writes
// what X-Gitee-Token says: the WebHook's password in password mode, the
// signature in signature mode.
var secretFields = map[string]bool{"password": true, "sign": true}

// withoutSecrets is body with the string values of its top-level
// secretFields emptied, so that the inbox never keeps the password; the
// body's hash is of what Gitee sent. It scans the body once, tracking
// strings and depth only (a JSON decoder took most of a delivery's
// time); of a body that is not a JSON object, which will not be handled
// either, what looks like such a member is emptied all the same.
func withoutSecrets(body []byte) []byte {
	var spans [][2]int // of the values to empty, quotes excluded
	depth := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			end := stringEnd(body, i)
			if end < 0 {
				i = len(body)
				break
			}
			if depth == 1 && secretFields[string(body[i+1:end])] {
				j := skipSpace(body, end+1)
				if j < len(body) && body[j] == ':' {
					if v := skipSpace(body, j+1); v < len(body) && body[v] == '"' {
						if vend := stringEnd(body, v); vend > v+1 {
							spans = append(spans, [2]int{v + 1, vend})
							end = vend
						}
					}
				}
			}
			i = end
		}
	}
	if len(spans) == 0 {
		return body
	}
	out := make([]byte, 0, len(body))
	at := 0
	for _, sp := range spans {
		out = append(out, body[at:sp[0]]...)
		at = sp[1]
	}
	return append(out, body[at:]...)
}

// stringEnd is the index of the quote that ends the JSON string starting
// at body[start]; -1 when it does not end.
func stringEnd(body []byte, start int) int {
	for i := start + 1; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// skipSpace is the index of the first byte from i on that is not JSON
// whitespace.
func skipSpace(body []byte, i int) int {
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	return i
}
