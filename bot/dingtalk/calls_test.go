package dingtalk

import (
	"context"
	"maps"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// TestCanaryDeployAPICalls counts the DingTalk API calls of one canary
// deploy to prod (4 hosts in 3 batches, one approval), asked and approved
// in the group. With the outbox held until it ended, every change folds
// into one card: a token, the two answers, the card created once and
// updated once to its end, and the requester's message. Delivered as it
// goes, each change the card has not caught up with is one update more;
// the test logs how many that was.
func TestCanaryDeployAPICalls(t *testing.T) {
	f := newFixture(t)
	f.stopOutbox()
	f.say(uAlice, "deploy demo v1.0.0 to prod")
	f.say(uBob, "approve 1")
	f.waitDeploy(1, pipeline.StateSucceeded)
	f.stopOutbox = f.dispatch(nil)
	f.card(1, pipeline.StateSucceeded)
	f.until("the requester's message", func() bool { return len(f.fake.DirectMessages()) == 1 })
	got := callsByPath(f)
	want := map[string]int{
		"/v1.0/oauth2/accessToken":              1,
		"/robot/sendBySession":                  2,
		"/v1.0/card/instances/createAndDeliver": 1,
		"/v1.0/robot/oToMessages/batchSend":     1,
	}
	// The card's first notice was owed when the deploy was asked for, its
	// last when it ended: created with the state of the moment, updated
	// once if that was not the end.
	if n := got["/v1.0/card/instances"]; n > 1 {
		t.Errorf("card updates = %d; want at most 1 with the outbox held", n)
	}
	delete(got, "/v1.0/card/instances")
	if !maps.Equal(got, want) {
		t.Errorf("calls = %v; want %v", got, want)
	}

	live := newFixture(t)
	live.say(uAlice, "deploy demo v1.0.0 to prod")
	live.card(1, pipeline.StateAwaitingApproval)
	live.press(uBob, 1, bot.ActionApprove)
	live.waitDeploy(1, pipeline.StateSucceeded)
	live.card(1, pipeline.StateSucceeded)
	live.until("the requester's message", func() bool { return len(live.fake.DirectMessages()) == 1 })
	calls := callsByPath(live)
	total := 0
	for _, n := range calls {
		total += n
	}
	t.Logf("one canary deploy delivered as it went: %d DingTalk calls %v", total, calls)
	if calls["/v1.0/card/instances/createAndDeliver"] != 1 || calls["/v1.0/oauth2/accessToken"] != 1 {
		t.Errorf("live calls = %v; want one card, one token", calls)
	}
}

func callsByPath(f *fixture) map[string]int {
	got := map[string]int{}
	for _, c := range f.fake.Calls() {
		if c.Path != "/v1.0/gateway/connections/open" && c.Path != "/connect" {
			got[c.Path]++
		}
	}
	return got
}

// timedSink measures, for each card it delivers, the time from when its
// notice was first owed (the transition's commit) to the end of the call
// that put it on DingTalk.
type timedSink struct {
	bot.Sink
	mu   *sync.Mutex
	took *[]time.Duration
}

func (s timedSink) Deliver(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	ref, err := s.Sink.Deliver(ctx, o, ref)
	if err == nil && o.Kind == "card" {
		s.mu.Lock()
		*s.took = append(*s.took, time.Since(o.Created))
		s.mu.Unlock()
	}
	return ref, err
}

// BenchmarkCardUpdateLatency deploys to staging one deploy after another
// and reports the time from each transition to the fake's card call
// (createAndDeliver or PUT /v1.0/card/instances), p50 and p99:
//
//	go test ./bot/dingtalk -run '^$' -bench CardUpdateLatency -benchtime 100x
func BenchmarkCardUpdateLatency(b *testing.B) {
	var mu sync.Mutex
	var took []time.Duration
	f := newFixture(b, setup{wrap: func(s bot.Sink) bot.Sink { return timedSink{Sink: s, mu: &mu, took: &took} }})
	b.ResetTimer()
	for i := range b.N {
		if _, err := f.engine.Request(context.Background(), f.users.Actor("alice"), pipeline.Request{Project: "demo", Env: "staging", Ref: "main"}); err != nil {
			b.Fatal(err)
		}
		f.waitDeploy(int64(i+1), pipeline.StateSucceeded)
		f.card(int64(i+1), pipeline.StateSucceeded)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	if len(took) == 0 {
		b.Fatal("no card delivered")
	}
	q := func(p float64) time.Duration { return took[min(len(took)-1, int(p*float64(len(took))))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(took))/float64(b.N), "cards/deploy")
}
