package github

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Webhook ingress with the real pull_request.opened payload (28 KB): each
// delivery's signature checked and the delivery with its body durably
// stored in SQLite before the 200, over loopback.
//
//	go test ./forge/github -run '^$' -bench Webhook -benchtime 1x
func BenchmarkWebhookThroughput(b *testing.B) {
	f := newFixture(b, nil)
	body := payload(b, "pull_request.opened.json")
	sig := sign([]byte(secret), body)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	const n, workers = 5000, 32
	for round := range b.N {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for i := next.Add(1); i <= n; i = next.Add(1) {
					if code := post(client, f.ts.URL, fmt.Sprintf("tp-%d-%d", round, i), sig, body); code != http.StatusOK {
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

// p99 latency at 500 deliveries per second, each sent at its tick on its
// own goroutine.
func BenchmarkWebhookLatency500(b *testing.B) {
	f := newFixture(b, nil)
	body := payload(b, "pull_request.opened.json")
	sig := sign([]byte(secret), body)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}, Timeout: 10 * time.Second}
	const n, rate = 2500, 500
	for round := range b.N {
		lat := make([]time.Duration, n)
		var wg sync.WaitGroup
		tick := time.NewTicker(time.Second / rate)
		for i := range n {
			<-tick.C
			wg.Go(func() {
				t := time.Now()
				code := post(client, f.ts.URL, fmt.Sprintf("lat-%d-%d", round, i), sig, body)
				lat[i] = time.Since(t)
				if code != http.StatusOK {
					b.Errorf("delivery %d: %d", i, code)
				}
			})
		}
		wg.Wait()
		tick.Stop()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[n-1].Microseconds())/1000, "max-ms")
	}
}

func post(client *http.Client, url, id, sig string, body []byte) int {
	req, _ := http.NewRequest(http.MethodPost, url+"/hooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", sig)
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}
