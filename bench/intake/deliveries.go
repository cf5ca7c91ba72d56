package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// deliveries makes the bodies, delivery IDs and tokens of one run.
// Delivery seq is the webhook's payload with its number first+seq, under
// the delivery ID run+seq (and, for Gitee, the timestamp epoch+seq).
type deliveries struct {
	hook           webhook
	prefix, suffix []byte // the payload before and after the number's digits
	secret         []byte
	run            [10]byte // random, so that IDs differ from run to run
	event          [10]byte // the same for GitLab's X-Gitlab-Event-UUID
	epoch          int64    // Gitee's X-Gitee-Timestamp of delivery 0, ms
}

// newDeliveries prepares the deliveries of w signed with secret, in a run
// that starts now.
func newDeliveries(w webhook, secret []byte, now time.Time) (*deliveries, error) {
	i := bytes.Index(w.payload, []byte(w.field))
	if i < 0 || bytes.Count(w.payload, []byte(w.field)) != 1 {
		return nil, fmt.Errorf("%s payload: not one %s to make bodies unique with", w.forge, w.field)
	}
	at := i + w.at
	d := &deliveries{hook: w, prefix: w.payload[:at], suffix: w.payload[at+w.width:], secret: secret,
		epoch: now.Add(-giteeEpoch).UnixMilli()}
	if _, err := rand.Read(d.run[:]); err != nil {
		return nil, fmt.Errorf("delivery ids: %w", err)
	}
	rand.Read(d.event[:]) // never fails (crypto/rand)
	return d, nil
}

// size is the length of every body.
func (d *deliveries) size() int { return len(d.prefix) + d.hook.width + len(d.suffix) }

// digits are the digits seq puts in the body.
func (d *deliveries) digits(seq int) []byte {
	return strconv.AppendInt(make([]byte, 0, d.hook.width), int64(d.hook.first+seq), 10)
}

// body returns delivery seq's body as one slice.
func (d *deliveries) body(seq int) []byte {
	b := make([]byte, 0, d.size())
	return append(append(append(b, d.prefix...), d.digits(seq)...), d.suffix...)
}

// reader returns delivery seq's body without copying the payload: the
// template's parts are shared and never written.
func (d *deliveries) reader(seq int) io.Reader {
	return io.MultiReader(bytes.NewReader(d.prefix), bytes.NewReader(d.digits(seq)), bytes.NewReader(d.suffix))
}

// id is delivery seq's X-GitHub-Delivery or GitLab's Idempotency-Key,
// shaped like their GUIDs: 8-4-4-4-12 hex digits, seq in the last 12.
func (d *deliveries) id(seq int) string { return guidOf(d.run, seq) }

// eventUUID is GitLab delivery seq's X-Gitlab-Event-UUID.
func (d *deliveries) eventUUID(seq int) string { return guidOf(d.event, seq) }

func guidOf(run [10]byte, seq int) string {
	h := hex.EncodeToString(run[:])
	return fmt.Sprintf("%s-%s-%s-%s-%012x", h[:8], h[8:12], h[12:16], h[16:20], seq)
}

// signAll computes the tokens of deliveries from to from+n-1 on every
// CPU, before the loads that send them start.
func (d *deliveries) signAll(from, n int) ([]string, error) {
	if from < 0 || n < 0 || from+n > d.hook.count {
		return nil, fmt.Errorf("signatures: more than the %s deliveries a %s run may send", thousands(int64(d.hook.count)), d.hook.forge)
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
