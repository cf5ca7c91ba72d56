package github

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
)

// failed is a delivery that ferry did not answer with a 2xx, at.
func failed(id int64, guid string, at time.Time) fakegithub.HookDelivery {
	return fakegithub.HookDelivery{ID: id, GUID: guid, DeliveredAt: at, Status: "Invalid HTTP Response: 503", StatusCode: 503, Event: "push"}
}

// delivered is a delivery ferry acknowledged, at.
func delivered(id int64, guid string, at time.Time) fakegithub.HookDelivery {
	return fakegithub.HookDelivery{ID: id, GUID: guid, DeliveredAt: at, Status: "OK", StatusCode: 200, Event: "push"}
}

// appFixture is an App-mode fixture whose redelivery loop runs every
// interval (0: never; scans are then called by the test).
func appFixture(t *testing.T, fg *fakegithub.Server, interval time.Duration) *fixture {
	f := newFixtureWith(t, &config.Config{}, fg, asApp(t), func(c *Config) { c.RedeliverInterval = interval })
	fg.SetNow(f.clock.Now)
	return f
}

func TestRedeliverMissed(t *testing.T) {
	fg := fakegithub.New(t, "unused")
	// Each call adds deliveries newer than those before, newest first, as
	// GitHub lists them.
	fg.AddDeliveries(failed(8, "too-old", t0.Add(-redeliverWindow-time.Minute)))
	fg.AddDeliveries(
		failed(2, "missed-1", t0.Add(-2*time.Hour)), // ferry was down
		delivered(3, "ok", t0.Add(-3*time.Hour)),    // nothing to do
		fakegithub.HookDelivery{ID: 4, GUID: "redelivering", DeliveredAt: t0.Add(-4 * time.Hour), Redelivery: true, Event: "push"},
		failed(5, "redelivering", t0.Add(-5*time.Hour)), // someone redelivers it already
		fakegithub.HookDelivery{ID: 6, GUID: "timed-out", DeliveredAt: t0.Add(-5 * time.Hour), Status: "timed out", Event: "push"},
	)
	for i := range 150 { // so that the rest is on the second page
		fg.AddDeliveries(delivered(int64(1000+i), fmt.Sprintf("filler-%d", i), t0.Add(-90*time.Minute)))
	}
	fg.AddDeliveries(
		failed(7, "missed-2", t0.Add(-time.Minute)),
		failed(1, "stored", t0.Add(-time.Hour)), // ferry stored it, then its answer failed
	)
	f := appFixture(t, fg, 0)
	if r, err := f.store.Receive(t.Context(), pipeline.Delivery{Platform: platform, ID: "stored", Event: "push", Body: []byte("{}")}, time.Hour); err != nil || r != pipeline.Received {
		t.Fatal(r, err)
	}
	if err := f.store.FinishDelivery(t.Context(), platform, "stored", "processed push"); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := f.adapter.redeliverMissed(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fg.Redelivered(); !slices.Equal(got, []int64{7, 2, 6}) {
		t.Fatalf("redelivered %v, want the failed deliveries ferry did not store: 7, 2, 6; calls %v", got, fg.Calls())
	}
	if n := fg.Count("GET /api/v3/app/hook/deliveries"); n != 2 {
		t.Errorf("listed %d pages, want 2", n)
	}

	// The next scan redelivers nothing again, and looks back only to a
	// minute before the last one.
	f.clock.Advance(10 * time.Minute)
	fg.AddDeliveries(failed(9, "missed-3", t0.Add(5*time.Minute)))
	if err := f.adapter.redeliverMissed(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fg.Redelivered(); !slices.Equal(got, []int64{7, 2, 6, 9}) {
		t.Errorf("redelivered %v after a second scan, want only the new 9 more", got)
	}
	if n := fg.Count("GET /api/v3/app/hook/deliveries"); n != 3 {
		t.Errorf("listed %d pages in all, want 3: the second scan stops at the first page", n)
	}
}

func TestRedeliverIsBounded(t *testing.T) {
	fg := fakegithub.New(t, "unused")
	old := failed(1, "too-old", t0.Add(-redeliverWindow-time.Minute))
	fg.AddDeliveries(old)
	for i := range redeliverCap + 5 {
		fg.AddDeliveries(failed(int64(100+i), fmt.Sprintf("missed-%d", i), t0.Add(-time.Hour+time.Duration(i)*time.Second)))
	}
	f := appFixture(t, fg, 0)
	ctx := t.Context()
	if err := f.adapter.redeliverMissed(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(fg.Redelivered()); n != redeliverCap {
		t.Fatalf("redelivered %d in one scan, want the cap, %d", n, redeliverCap)
	}
	// The scan left some, so the next looks back as far again.
	f.clock.Advance(time.Hour)
	if err := f.adapter.redeliverMissed(ctx); err != nil {
		t.Fatal(err)
	}
	got := fg.Redelivered()
	if len(got) != redeliverCap+5 || slices.Contains(got, old.ID) {
		t.Errorf("redelivered %v after two scans, want all %d missed within the window", got, redeliverCap+5)
	}
}

func TestRedeliverWaitsOutRateLimits(t *testing.T) {
	fg := fakegithub.New(t, "unused")
	fg.AddDeliveries(failed(1, "missed", t0.Add(-time.Hour)))
	// Retry-After 0, since go-github itself holds calls back for a longer
	// one, on the real clock.
	fg.Limit("POST /api/v3/app/hook/deliveries/1/attempts", fakegithub.Limited{Status: http.StatusForbidden, Header: map[string]string{"Retry-After": "0"},
		Message: "You have exceeded a secondary rate limit.", DocURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"})
	f := appFixture(t, fg, 0)
	done := make(chan error, 1)
	go func() { done <- f.adapter.redeliverMissed(t.Context()) }()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := f.clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("the scan did not wait: %v; calls %v", err, fg.Calls())
	}
	f.clock.Advance(minBackoff)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := fg.Count("POST /api/v3/app/hook/deliveries/1/attempts"); n != 2 || !slices.Equal(fg.Redelivered(), []int64{1}) {
		t.Errorf("asked %d times, redelivered %v; want limited once, then redelivered", n, fg.Redelivered())
	}
}

// TestRedeliverLoop scans when Run starts and then on the adapter's clock.
func TestRedeliverLoop(t *testing.T) {
	fg := fakegithub.New(t, "unused")
	fg.AddDeliveries(failed(1, "missed-1", t0.Add(-time.Hour)))
	f := appFixture(t, fg, 10*time.Minute)
	scanned := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := f.clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("no scan waits for the next: %v", err)
		}
	}
	scanned()
	if got := fg.Redelivered(); !slices.Equal(got, []int64{1}) {
		t.Fatalf("redelivered %v when Run started, want 1", got)
	}
	fg.AddDeliveries(failed(2, "missed-2", t0.Add(time.Minute)))
	f.clock.Advance(10 * time.Minute)
	scanned()
	if got := fg.Redelivered(); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("redelivered %v after an interval, want 1, 2", got)
	}
	if calls := fg.Count("GET /api/v3/app/hook/deliveries"); calls != 2 {
		t.Errorf("%d scans, want 2", calls)
	}
}

// TestNoRedeliveryWithAToken: deliveries are listed to an App only.
func TestNoRedeliveryWithAToken(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	fg.AddDeliveries(failed(1, "missed", t0.Add(-time.Hour)))
	f := newFixtureWith(t, &config.Config{}, fg, func(c *Config) { c.RedeliverInterval = time.Minute })
	f.drain()
	if calls := fg.Calls(); len(calls) != 0 {
		t.Errorf("calls = %v, want none", calls)
	}
}
