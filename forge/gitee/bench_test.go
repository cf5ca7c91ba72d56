package gitee

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Webhook ingress with the real Merge Request Hook of a new head (21 KB),
// signed: each delivery's X-Gitee-Timestamp checked against its signature
// and the fixture's clock, and the delivery with its body durably stored
// in SQLite before the 200, over loopback. Gitee refuses a timestamp or a
// body seen before, so each delivery has a timestamp of its own, written
// into the body's timestamp and its signature into the body's sign, as
// Gitee does (each the same length: the body stays the same size); the
// signatures are computed before the clock runs.
//
//	go test ./forge/gitee -run '^$' -bench Webhook -benchtime 1x
func BenchmarkWebhookThroughput(b *testing.B) {
	f := newFixture(b, nil, nil)
	const stamp, signed = `"timestamp": "1633685873030"`, `"sign": "/gLVmA+/dd5q+siOduWu3z6UGhBJ8I5Fe/Gl8zxLU7A="`
	body := payload(b, "merge_request_hooks.update.json")
	for _, s := range []string{stamp, signed} {
		if bytes.Count(body, []byte(s)) != 1 {
			b.Fatalf("merge_request_hooks.update.json: want %s once", s)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	const n, workers = 5000, 32
	type delivery struct {
		timestamp, token string
		body             []byte
	}
	from := f.clock.Now().UnixMilli()
	for round := range b.N {
		b.StopTimer()
		ds := make([]delivery, n)
		for i := range ds {
			// Within the hour of the clock for 720 rounds of 5000.
			ts := strconv.FormatInt(from+int64(round*n+i), 10)
			token := sign([]byte(secret), ts)
			r := strings.NewReplacer(stamp, `"timestamp": "`+ts+`"`, signed, `"sign": "`+token+`"`)
			ds[i] = delivery{ts, token, []byte(r.Replace(string(body)))}
		}
		b.StartTimer()
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
					d := ds[i]
					if code := post(client, f.ts.URL, d.timestamp, d.token, d.body); code != http.StatusOK {
						b.Errorf("delivery %d: %d", i, code)
						return
					}
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "deliveries/s")
	}
	if got := f.inbox.received.Load(); got != int64(n*b.N) {
		b.Errorf("%d deliveries stored, want %d", got, n*b.N)
	}
	if rs := f.adapter.Refusals(); len(rs) != 0 {
		b.Errorf("refused: %+v, want every delivery taken as new", rs) // a timestamp or a body used twice
	}
}

// post sends a signed Merge Request Hook and returns the status; 0 when
// there was no answer.
func post(client *http.Client, url, timestamp, token string, body []byte) int {
	req, _ := http.NewRequest(http.MethodPost, url+"/hooks/gitee", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "git-oschina-hook")
	req.Header.Set("X-Gitee-Event", mergeRequest)
	req.Header.Set("X-Gitee-Token", token)
	req.Header.Set("X-Gitee-Timestamp", timestamp)
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}
