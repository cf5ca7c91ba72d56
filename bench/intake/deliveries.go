package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
)

// payload is GitHub's pull_request "opened" delivery (octokit/webhooks,
// copied byte for byte from ../../shared/testdata/payloads/github).
//
//go:embed testdata/pull_request.opened.json
var payload []byte

// idField is the number each delivery changes: the pull request's id, the
// first "id" of the payload. Its 9 digits are replaced by firstID+seq, so
// every body differs from every other and keeps the payload's size.
const (
	idField = `"id": 279147437,`
	idStart = len(`"id": `)
	idWidth = 9
	firstID = 100_000_000
	// maxSeq is how many distinct 9-digit ids there are from firstID on.
	maxSeq = 999_999_999 - firstID + 1
)

// deliveries makes the bodies, delivery IDs and signatures of one run.
// Delivery seq is the payload with pull_request.id = firstID+seq, under
// the delivery ID run+seq.
type deliveries struct {
	prefix, suffix []byte // the payload before and after the id's digits
	secret         []byte
	run            [10]byte // random, so that IDs differ from run to run
}

// newDeliveries prepares the deliveries of template signed with secret.
func newDeliveries(template, secret []byte) (*deliveries, error) {
	i := bytes.Index(template, []byte(idField))
	if i < 0 {
		return nil, fmt.Errorf("payload: no %s to make bodies unique with", idField)
	}
	at := i + idStart
	d := &deliveries{prefix: template[:at], suffix: template[at+idWidth:], secret: secret}
	if _, err := rand.Read(d.run[:]); err != nil {
		return nil, fmt.Errorf("delivery ids: %w", err)
	}
	return d, nil
}

// size is the length of every body.
func (d *deliveries) size() int { return len(d.prefix) + idWidth + len(d.suffix) }

// digits are the 9 digits seq puts in the body.
func digits(seq int) []byte {
	return strconv.AppendInt(make([]byte, 0, idWidth), int64(firstID+seq), 10)
}

// body returns delivery seq's body as one slice.
func (d *deliveries) body(seq int) []byte {
	b := make([]byte, 0, d.size())
	return append(append(append(b, d.prefix...), digits(seq)...), d.suffix...)
}

// reader returns delivery seq's body without copying the payload: the
// template's parts are shared and never written.
func (d *deliveries) reader(seq int) io.Reader {
	return io.MultiReader(bytes.NewReader(d.prefix), bytes.NewReader(digits(seq)), bytes.NewReader(d.suffix))
}

// id is delivery seq's X-GitHub-Delivery, shaped like GitHub's GUIDs:
// 8-4-4-4-12 hex digits, seq in the last 12.
func (d *deliveries) id(seq int) string {
	h := hex.EncodeToString(d.run[:])
	return fmt.Sprintf("%s-%s-%s-%s-%012x", h[:8], h[8:12], h[12:16], h[16:20], seq)
}

// sign is delivery seq's X-Hub-Signature-256, as GitHub computes it:
// "sha256=" + hex(HMAC-SHA256(secret, body)).
func (d *deliveries) sign(seq int) string {
	return signature(d.secret, d.prefix, digits(seq), d.suffix)
}

// signature is the X-Hub-Signature-256 of the body made of parts.
func signature(secret []byte, parts ...[]byte) string {
	m := hmac.New(sha256.New, secret)
	for _, p := range parts {
		m.Write(p)
	}
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// forge is a signature of the right shape that is not delivery seq's:
// 64 hex digits from a SHA-256 of its ID, without the secret.
func (d *deliveries) forge(seq int) string {
	s := sha256.Sum256([]byte(d.id(seq)))
	return "sha256=" + hex.EncodeToString(s[:])
}

// signAll computes the signatures of deliveries from to from+n-1 on every
// CPU, before the loads that send them start.
func (d *deliveries) signAll(from, n int) ([]string, error) {
	if from < 0 || n < 0 || from+n > maxSeq {
		return nil, errors.New("signatures: more deliveries than 9-digit ids")
	}
	sigs := make([]string, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				sigs[i] = d.sign(from + i)
			}
		})
	}
	wg.Wait()
	return sigs, nil
}
