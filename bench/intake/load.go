package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// requestTimeout bounds one delivery, and so how long a load runs past its
// duration.
const requestTimeout = 10 * time.Second

// maxInFlight bounds the deliveries an open loop has sent and not yet seen
// answered. One that would pass it waits, and the wait counts in its
// latency, which is measured from its scheduled time.
const maxInFlight = 1024

// sender posts deliveries to ferry's webhook with one shared client.
type sender struct {
	client *http.Client
	url    string // the webhook, http://…/hooks/<forge>
	d      *deliveries
}

// newSender posts to url keeping up to conns connections open.
func newSender(url string, d *deliveries, conns int) *sender {
	conns = max(conns, 64)
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		// A body in one write, not seven of the default 4 KB.
		WriteBufferSize: 64 << 10,
	}
	return &sender{client: &http.Client{Transport: tr, Timeout: requestTimeout}, url: url, d: d}
}

// send posts delivery seq with token sig (a signature or a secret token,
// right or forged), reads the answer to its end and returns its status.
func (s *sender) send(ctx context.Context, seq int, sig string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, s.d.reader(seq))
	if err != nil {
		return 0, err
	}
	req.ContentLength = int64(s.d.size())
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(s.d.reader(seq)), nil }
	s.d.header(req.Header, seq, sig)
	res, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, err
}

// batch is the deliveries a load may send: seq from to from+n-1, each
// with the token sig returns. n is the load's count bound.
type batch struct {
	from, n int
	sig     func(seq int) string
}

// sample is what one load measured.
type sample struct {
	sent    int
	lat     []time.Duration // of the deliveries answered as expected, sorted
	failed  map[string]int  // the others, by what they got ("HTTP 503", "no answer")
	errs    []error         // a few of the "no answer" errors, to show
	elapsed time.Duration   // first send to last answer
	bounded bool            // stopped because the batch ran out, not the time
}

// tally collects one sender's outcomes; each worker has its own.
type tally struct {
	sent   int
	lat    []time.Duration
	failed map[string]int
	errs   []error
}

func (t *tally) add(status int, err error, lat time.Duration, ok func(int) bool) {
	t.sent++
	switch {
	case err == nil && ok(status):
		t.lat = append(t.lat, lat)
		return
	case err != nil:
		if t.failed == nil {
			t.failed = map[string]int{}
		}
		t.failed["no answer"]++
		if len(t.errs) < 3 {
			t.errs = append(t.errs, err)
		}
	default:
		if t.failed == nil {
			t.failed = map[string]int{}
		}
		t.failed[fmt.Sprintf("HTTP %d", status)]++
	}
}

// merge sums tallies into a sample.
func merge(ts []*tally, elapsed time.Duration) sample {
	s := sample{failed: map[string]int{}, elapsed: elapsed}
	for _, t := range ts {
		s.sent += t.sent
		s.lat = append(s.lat, t.lat...)
		for k, v := range t.failed {
			s.failed[k] += v
		}
		s.errs = append(s.errs, t.errs...)
	}
	slices.Sort(s.lat)
	return s
}

// closedLoop sends b's deliveries from workers goroutines, each sending
// its next as soon as the previous one is answered, until d has passed or
// the batch is used up. ok says which statuses are the expected answer.
func closedLoop(ctx context.Context, s *sender, b batch, workers int, d time.Duration, ok func(int) bool) sample {
	var next atomic.Int64
	var bounded atomic.Bool
	ts := make([]*tally, workers)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range ts {
		t := &tally{lat: make([]time.Duration, 0, 1024)}
		ts[w] = t
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= b.n {
					bounded.Store(true)
					return
				}
				seq := b.from + i
				sig := b.sig(seq)
				t0 := time.Now()
				status, err := s.send(ctx, seq, sig)
				t.add(status, err, time.Since(t0), ok)
			}
		})
	}
	wg.Wait()
	sm := merge(ts, time.Since(start))
	sm.bounded = bounded.Load()
	return sm
}

// openLoop sends all b.n deliveries at rate per second on a fixed
// schedule, whatever the answers: delivery i is due at start + i/rate, and
// its latency runs from then, so a slow answer cannot hide the deliveries
// that would have been sent meanwhile.
func openLoop(ctx context.Context, s *sender, b batch, rate float64, ok func(int) bool) sample {
	interval := time.Duration(float64(time.Second) / rate)
	status := make([]int, b.n)
	errs := make([]error, b.n)
	lat := make([]time.Duration, b.n)
	slots := make(chan struct{}, maxInFlight)
	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now()
	sent := 0
	var wg sync.WaitGroup
schedule:
	for i := range b.n {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break schedule
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break schedule
		}
		sent++
		seq := b.from + i
		wg.Go(func() {
			defer func() { <-slots }()
			status[i], errs[i] = s.send(ctx, seq, b.sig(seq))
			lat[i] = time.Since(due)
		})
	}
	wg.Wait()
	t := &tally{lat: make([]time.Duration, 0, sent)}
	for i := range sent {
		t.add(status[i], errs[i], lat[i], ok)
	}
	return merge([]*tally{t}, time.Since(start))
}

// accepted and rejected are the answers expected to a delivery with a
// token of ferry's secret and to one without.
func accepted(status int) bool { return status >= 200 && status < 300 }
func rejected(status int) bool { return status == http.StatusUnauthorized }

// errCanceled says a run was interrupted before its loads ended.
var errCanceled = errors.New("interrupted")
