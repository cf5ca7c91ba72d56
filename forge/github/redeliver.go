package github

import (
	"context"
	"errors"
	"time"

	gh "github.com/google/go-github/v88/github"
)

// Missed deliveries.
//
// GitHub does not retry a delivery that failed: ferry was down, or slow,
// or a proxy in front of it answered instead. As an App, ferry lists the
// App's recent deliveries when Run starts and every RedeliverInterval, and
// asks GitHub to redeliver each failed one whose GUID it has not stored,
// once. A GUID is left alone when any delivery of it succeeded, when one
// of them is already a redelivery (by ferry, another replica or a person),
// or when ferry redelivered it before.
//
// A scan looks back redeliverWindow (GitHub redelivers deliveries of the
// past three days), then, after a scan that saw everything, only from a
// minute before that scan. It reads at most redeliverPages pages and
// redelivers at most redeliverCap deliveries; what it leaves waits for the
// next scan, which then looks back as far again. Every call waits out rate
// limits as the other calls do.

// Bounds of one scan.
const (
	redeliverWindow = 72 * time.Hour
	redeliverCap    = 20
	redeliverPages  = 20 // of 100 deliveries
	scanOverlap     = time.Minute
)

// redeliverState is what the redelivery loop keeps between scans; only
// its goroutine touches it.
type redeliverState struct {
	from time.Time            // where the next scan may stop looking back; zero: the window
	done map[string]time.Time // GUIDs redelivered, and when, for the window
}

// redeliverLoop scans at once and then every redeliverEvery until ctx
// ends, on the leader of the replicas only; it does nothing without an
// App.
func (a *Adapter) redeliverLoop(ctx context.Context) {
	if a.api == nil || a.api.appAPI == nil || a.redeliverEvery <= 0 {
		return
	}
	for {
		if a.leader == nil || a.leader.Leading() { // elsewhere, the leader scans
			if err := a.redeliverMissed(ctx); err != nil && ctx.Err() == nil {
				a.log.ErrorContext(ctx, "github: redeliver missed deliveries", "platform", platform, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-a.clock.After(a.redeliverEvery):
		}
	}
}

// redeliverMissed is one scan.
func (a *Adapter) redeliverMissed(ctx context.Context) error {
	now := a.clock.Now()
	st := &a.redeliver
	if st.done == nil {
		st.done = map[string]time.Time{}
	}
	from := now.Add(-redeliverWindow)
	if st.from.After(from) {
		from = st.from
	}
	byGUID, order, complete, err := a.recentDeliveries(ctx, from)
	if err != nil {
		return err
	}
	var missed []string
	for _, guid := range order {
		if _, again := st.done[guid]; !again && failedOnly(byGUID[guid]) {
			missed = append(missed, guid)
		}
	}
	known, err := a.store.KnownDeliveries(ctx, platform, missed)
	if err != nil {
		return err
	}
	sent := 0
	for _, guid := range missed {
		if known[guid] {
			continue
		}
		if sent == redeliverCap {
			complete = false
			break
		}
		d := byGUID[guid][0] // the newest attempt
		log := a.log.With("platform", platform, "delivery", guid, "event", d.GetEvent(), "status", d.GetStatus())
		if err := a.api.call(ctx, "apps.redeliver_hook_delivery", func() error {
			_, _, err := a.api.appAPI.Apps.RedeliverHookDelivery(ctx, d.GetID())
			if accepted := (*gh.AcceptedError)(nil); errors.As(err, &accepted) {
				return nil // 202: GitHub queued the redelivery
			}
			return err
		}); err != nil {
			if ctx.Err() != nil {
				return err
			}
			log.ErrorContext(ctx, "github: redeliver a delivery ferry missed", "err", err)
			complete = false
			continue
		}
		st.done[guid] = now
		sent++
		log.InfoContext(ctx, "github: asked GitHub to redeliver a delivery ferry missed", "delivered_at", d.GetDeliveredAt().Time)
	}
	if complete {
		st.from = now.Add(-scanOverlap)
	}
	for guid, at := range st.done {
		if now.Sub(at) > redeliverWindow {
			delete(st.done, guid)
		}
	}
	return nil
}

// recentDeliveries lists the App's deliveries made since from, by GUID,
// newest first, with the GUIDs in the order first seen; complete is false
// when it stopped at redeliverPages before reaching from.
func (a *Adapter) recentDeliveries(ctx context.Context, from time.Time) (byGUID map[string][]*gh.HookDelivery, order []string, complete bool, err error) {
	byGUID = map[string][]*gh.HookDelivery{}
	opts := &gh.ListCursorOptions{PerPage: 100}
	for page := 0; page < redeliverPages; page++ {
		var ds []*gh.HookDelivery
		var res *gh.Response
		if err := a.api.call(ctx, "apps.list_hook_deliveries", func() (err error) {
			ds, res, err = a.api.appAPI.Apps.ListHookDeliveries(ctx, opts)
			return err
		}); err != nil {
			return nil, nil, false, err
		}
		older := false
		for _, d := range ds {
			if d.GetDeliveredAt().Before(from) {
				older = true
				continue
			}
			if _, seen := byGUID[d.GetGUID()]; !seen {
				order = append(order, d.GetGUID())
			}
			byGUID[d.GetGUID()] = append(byGUID[d.GetGUID()], d)
		}
		if older || res == nil || res.Cursor == "" {
			return byGUID, order, true, nil
		}
		opts.Cursor = res.Cursor
	}
	return byGUID, order, false, nil
}

// failedOnly reports whether every delivery of one GUID failed and none is
// a redelivery, or still under way.
func failedOnly(ds []*gh.HookDelivery) bool {
	for _, d := range ds {
		code := d.GetStatusCode()
		switch {
		case d.GetRedelivery(), code >= 200 && code < 300, code == 0 && d.GetStatus() == "":
			return false
		}
	}
	return len(ds) > 0
}
