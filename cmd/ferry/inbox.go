package main

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/storage"
)

// pruneEvery is how often ferry drops what the inbox no longer keeps.
const pruneEvery = time.Hour

// pruneDeliveries drops delivery bodies and IDs past their retention, at
// start and then every pruneEvery, until ctx ends.
func pruneDeliveries(ctx context.Context, st *storage.Store, r storage.Retention, log *slog.Logger) error {
	tick := time.NewTicker(pruneEvery)
	defer tick.Stop()
	for {
		bodies, ids, err := st.PruneDeliveries(ctx, r)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("inbox: prune deliveries", "err", err)
		case bodies+ids > 0:
			log.Info("inbox: pruned deliveries past their retention", "bodies", bodies, "deliveries", ids)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// inboxCollector reports, at each scrape, the deliveries the inbox owes,
// how many requests each ingress refused, and the notices the outbox owes
// the platforms (its sibling on the way out).
type inboxCollector struct {
	st      *storage.Store
	refused map[string]func() []bot.Refusal // by platform
	sinks   []string                        // the outbox's platforms: their gauges read 0 when nothing is owed
	now     func() time.Time                // nil: time.Now; for the ages
}

var (
	inboxPendingDesc = prometheus.NewDesc("ferry_inbox_pending",
		"Deliveries acknowledged and not yet processed, by platform.", []string{"platform"}, nil)
	inboxOldestDesc = prometheus.NewDesc("ferry_inbox_oldest_pending_age_seconds",
		"Age of the oldest delivery not yet processed, by platform.", []string{"platform"}, nil)
	refusedDesc = prometheus.NewDesc("ferry_ingress_refused_total",
		"Requests an ingress refused (bad signature, replayed body), by platform and reason.", []string{"platform", "reason"}, nil)
	outboxPendingDesc = prometheus.NewDesc("ferry_outbox_pending",
		"Notices owed to a platform, not yet delivered and not given up on, by platform.", []string{"platform"}, nil)
	outboxOldestDesc = prometheus.NewDesc("ferry_outbox_oldest_pending_age_seconds",
		"Age of the oldest notice owed and not yet delivered, by platform; 0 when none is pending.", []string{"platform"}, nil)
	outboxDeadDesc = prometheus.NewDesc("ferry_outbox_dead",
		"Notices ferry gave up on, kept for an admin to retry (ferry outbox --dead), by platform.", []string{"platform"}, nil)
)

func (c *inboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- inboxPendingDesc
	ch <- inboxOldestDesc
	ch <- refusedDesc
	ch <- outboxPendingDesc
	ch <- outboxOldestDesc
	ch <- outboxDeadDesc
}

func (c *inboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := time.Now()
	if c.now != nil {
		now = c.now()
	}
	if backlog, err := c.st.InboxBacklog(ctx); err == nil {
		for _, b := range backlog {
			ch <- prometheus.MustNewConstMetric(inboxPendingDesc, prometheus.GaugeValue, float64(b.Pending), b.Platform)
			ch <- prometheus.MustNewConstMetric(inboxOldestDesc, prometheus.GaugeValue, now.Sub(b.Oldest).Seconds(), b.Platform)
		}
	}
	if backlog, err := c.st.OutboxBacklogs(ctx); err == nil {
		for _, p := range c.sinks {
			if !slices.ContainsFunc(backlog, func(b storage.OutboxBacklog) bool { return b.Platform == p }) {
				backlog = append(backlog, storage.OutboxBacklog{Platform: p})
			}
		}
		for _, b := range backlog {
			age := 0.0
			if b.Pending > 0 && !b.Oldest.IsZero() {
				age = max(now.Sub(b.Oldest).Seconds(), 0)
			}
			ch <- prometheus.MustNewConstMetric(outboxPendingDesc, prometheus.GaugeValue, float64(b.Pending), b.Platform)
			ch <- prometheus.MustNewConstMetric(outboxOldestDesc, prometheus.GaugeValue, age, b.Platform)
			ch <- prometheus.MustNewConstMetric(outboxDeadDesc, prometheus.GaugeValue, float64(b.Dead), b.Platform)
		}
	}
	for platform, counts := range c.refused {
		for _, r := range counts() {
			ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(r.Count), platform, r.Reason)
		}
	}
}
