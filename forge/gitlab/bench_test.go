package gitlab

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Webhook ingress with the real Merge Request Hook of an opened merge
// request: each delivery's secret token compared and the delivery with its
// body durably stored in SQLite before the 200, over loopback, while the
// adapter handles what it stored.
//
//	go test ./forge/gitlab -run '^$' -bench Webhook -benchtime 1x
func BenchmarkWebhookThroughput(b *testing.B) {
	f := newFixture(b, nil, nil)
	body := payload(b, "merge_request.open.json")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	const n, workers = 5000, 32
	for round := range b.N {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for i := next.Add(1); i <= n; i = next.Add(1) {
					if code := post(client, f.ts.URL, fmt.Sprintf("tp-%d-%d", round, i), body); code != http.StatusOK {
						b.Errorf("delivery %d: %d", i, code)
						return
					}
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "deliveries/s")
	}
}

// post sends a Merge Request Hook under Idempotency-Key key.
func post(client *http.Client, url, key string, body []byte) int {
	req, _ := http.NewRequest(http.MethodPost, url+"/hooks/gitlab", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gitlab-Event", "Merge Request Hook")
	req.Header.Set(tokenHeader, secret)
	req.Header.Set(idempotencyKey, key)
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}
