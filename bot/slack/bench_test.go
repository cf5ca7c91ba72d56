package slack

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/bot/slack/fakeslack"
	"github.com/ferrybot/ferry/pipeline"
)

// Ack latency: 1000 signed requests at 200 per second on loopback, each on
// its own goroutine at its tick, against a real engine and SQLite store;
// the latency is until the 200 (the command then runs in the background).
//
//	go test ./bot/slack -run '^$' -bench AckLatency -benchtime 1x
func BenchmarkAckLatency(b *testing.B) {
	for _, route := range []string{"commands", "interactions"} {
		b.Run(route, func(b *testing.B) {
			f := newFixture(b)
			const n, rate = 1000, 200
			bodies := make([][]byte, n)
			for i := range bodies {
				if route == "commands" {
					bodies[i] = f.commandBody(uAlice, "help", fmt.Sprintf("bench-%d", i))
				} else {
					bodies[i] = f.actionBody(uBob, actionPrefix+string(bot.ActionApprove), "approve 99", fmt.Sprintf("bench-%d", i))
				}
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
			for range b.N {
				lat := make([]time.Duration, n)
				var wg sync.WaitGroup
				tick := time.NewTicker(time.Second / rate)
				start := time.Now()
				for i := range n {
					<-tick.C
					wg.Go(func() {
						ts := fmt.Sprint(time.Now().Unix())
						req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/chat/slack/"+route, bytes.NewReader(bodies[i]))
						req.Header.Set("X-Slack-Request-Timestamp", ts)
						req.Header.Set("X-Slack-Signature", sign([]byte(signingSecret), ts, bodies[i]))
						t := time.Now()
						res, err := client.Do(req)
						lat[i] = time.Since(t)
						if err != nil || res.StatusCode != http.StatusOK {
							b.Errorf("request %d: %v %v", i, err, res)
							return
						}
						res.Body.Close()
					})
				}
				wg.Wait()
				tick.Stop()
				elapsed := time.Since(start)
				slices.Sort(lat)
				b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(lat[n-1].Microseconds())/1000, "max-ms")
				b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
			}
			f.slack.Until(b, "every answer", func() bool { return f.slack.Count("response_url") >= n })
		})
	}
}

// The Slack API calls of one full canary deploy: alice asks for v1.0.0 in
// prod (4 hosts, batches [1, 50%, 100%]), bob approves with the button, it
// runs to the end. Response URLs are not Web API calls and are not counted.
//
//	go test ./bot/slack -run '^$' -bench CanaryAPICalls -benchtime 1x
func BenchmarkCanaryAPICalls(b *testing.B) {
	for _, c := range []struct {
		name  string
		every time.Duration
	}{{"every-change", -1}, {"coalesced-1s", time.Second}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				f := newFixture(b, setup{every: c.every})
				f.command(uAlice, "deploy demo v1.0.0 to prod")
				f.click(uBob, bot.ActionApprove, "approve 1")
				f.waitDeploy(1, pipeline.StateSucceeded)
				f.card(1, pipeline.StateSucceeded)
				f.slack.Until(b, "the direct message", func() bool {
					return slices.ContainsFunc(f.slack.Calls("chat.postMessage"), func(x fakeslack.Call) bool { return x.Channel == "D"+uAlice })
				})
				counts := f.slack.Counts()
				total := 0
				for m, k := range counts {
					if m != "response_url" {
						total += k
					}
				}
				b.ReportMetric(float64(total), "api-calls")
				b.ReportMetric(float64(counts["chat.postMessage"]), "postMessage")
				b.ReportMetric(float64(counts["chat.update"]), "update")
				b.ReportMetric(float64(counts["conversations.open"]), "conversations.open")
			}
		})
	}
}
