package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// errSignature is every reason a request is not from Slack; the reasons are
// logged, never told to the sender.
var errSignature = errors.New("signature")

// verify checks a request's v0 signature: X-Slack-Signature must be
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)), and the
// timestamp (unix seconds) within maxSkew of now, either way.
func verify(secret []byte, timestamp, signature string, body []byte, now time.Time) error {
	if len(secret) == 0 || timestamp == "" || signature == "" {
		return errors.Join(errSignature, errors.New("missing signature or timestamp"))
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.Join(errSignature, errors.New("timestamp is not a number"))
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > maxSkew || skew < -maxSkew {
		return errors.Join(errSignature, errors.New("timestamp too far from now"))
	}
	if !hmac.Equal([]byte(signature), []byte(sign(secret, timestamp, body))) {
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
