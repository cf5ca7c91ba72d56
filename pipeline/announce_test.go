package pipeline_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// said is what the project's chat was told, oldest first.
func (h *harness) said() []string {
	h.t.Helper()
	ns, err := h.store.Notices(context.Background(), pipeline.NoticeFilter{Platform: "said"})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, n := range ns {
		out = append(out, string(n.Payload))
	}
	return out
}

// until sweeps until the chat was told n things.
func (h *harness) until(n int) []string {
	h.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		h.engine.Kick()
		if got := h.said(); len(got) >= n {
			return got
		}
	}
	h.t.Fatalf("told %q; want %d announcements", h.said(), n)
	return nil
}

// TestAnnouncements: the project's chat hears, once each, when a freeze
// window opens and closes, when a lock expires, and when a promotion is
// cancelled.
func TestAnnouncements(t *testing.T) {
	h := promoted(t, pipeline.Promotion{From: "staging", To: "prod", Soak: 30 * time.Minute})
	h.freezes = []pipeline.Freeze{{Name: "year-end", Envs: []string{"prod"}, Reason: "year-end change freeze", From: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour)}}
	h.restart()
	ctx := context.Background()
	if _, err := h.engine.Lock(ctx, bob, "demo", "staging", 15*time.Minute, "incident 42"); err != nil {
		t.Fatal(err)
	}
	src := h.wait(h.request(bob, "staging", "v1.0.0").ID, pipeline.StateSucceeded)
	h.promotion(src.ID, pipeline.PromotionSoaking)
	h.clock.Advance(20 * time.Minute) // the lock expires; a newer deploy cancels the soaking promotion
	h.wait(h.request(alice, "staging", "v1.1.0").ID, pipeline.StateSucceeded)
	got := h.until(2)
	h.clock.Advance(40 * time.Minute) // the freeze opens
	got = h.until(3)
	h.clock.Advance(time.Hour) // and closes
	got = h.until(4)
	for range 3 {
		h.engine.Kick()
	}
	h.restart()
	h.engine.Kick()
	got = h.until(4)
	want := []string{
		"The lock of demo staging by bob expired at Mon 2 Nov 2026 10:15 UTC: staging takes deploys again.",
		"The promotion of v1.0.0 from staging to prod is cancelled: a newer deploy in staging (#2 v1.1.0).",
		"Freeze year-end (year-end change freeze): demo prod frozen until Mon 2 Nov 2026 12:00 UTC. Deploys and promotions into it are refused; an admin may force.",
		"Freeze year-end is over: demo prod takes deploys again.",
	}
	slices.Sort(got[:2])
	slices.Sort(want[:2])
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("told:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
