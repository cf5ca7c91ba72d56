package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"strconv"
	"strings"
	"time"
)

// errSignature is every reason a request is not from Slack; the reasons are
// logged, never told to the sender.
var errSignature = errors.New("signature")

// signed checks a request's headers before its body is read: the
// timestamp (unix seconds) within maxSkew of now, either way, and
// X-Slack-Signature of the form "v0=" + 64 hex digits. It returns the MAC
// the signature claims and the HMAC to write the body through, which has
// "v0:" + timestamp + ":" written already.
func signed(secret []byte, timestamp, signature string, now time.Time) (claimed []byte, mac hash.Hash, err error) {
	if len(secret) == 0 || timestamp == "" || signature == "" {
		return nil, nil, errors.Join(errSignature, errors.New("missing signature or timestamp"))
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return nil, nil, errors.Join(errSignature, errors.New("timestamp is not a number"))
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > maxSkew || skew < -maxSkew {
		return nil, nil, errors.Join(errSignature, errors.New("timestamp too far from now"))
	}
	hexMAC, ok := strings.CutPrefix(signature, "v0=")
	claimed, err = hex.DecodeString(hexMAC)
	if !ok || err != nil || len(claimed) != sha256.Size {
		return nil, nil, errors.Join(errSignature, errors.New("malformed signature"))
	}
	mac = hmac.New(sha256.New, secret)
	mac.Write([]byte("v0:" + timestamp + ":"))
	return claimed, mac, nil
}

// verified checks the MAC of the body against the one its signature claims.
func verified(mac hash.Hash, claimed []byte) error {
	if !hmac.Equal(mac.Sum(nil), claimed) {
		return errors.Join(errSignature, errors.New("signature mismatch"))
	}
	return nil
}

// sign is the signature Slack sends with body at timestamp.
func sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v0:" + timestamp + ":"))
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}
