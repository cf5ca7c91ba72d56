package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/storage"
)

// pruneEvery is how often ferry drops what the inbox no longer keeps.
const pruneEvery = time.Hour

// pruneDeliveries drops delivery bodies and IDs past their retention, at
// start and then every pruneEvery, until ctx ends.
func pruneDeliveries(ctx context.Context, st *storage.SQLite, r storage.Retention, log *slog.Logger) error {
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

// inboxCollector reports, at each scrape, the deliveries the inbox owes
// and how many requests each ingress refused.
type inboxCollector struct {
	st      *storage.SQLite
	refused map[string]func() []bot.Refusal // by platform
}

var (
	inboxPendingDesc = prometheus.NewDesc("ferry_inbox_pending",
		"Deliveries acknowledged and not yet processed, by platform.", []string{"platform"}, nil)
	inboxOldestDesc = prometheus.NewDesc("ferry_inbox_oldest_pending_age_seconds",
		"Age of the oldest delivery not yet processed, by platform.", []string{"platform"}, nil)
	refusedDesc = prometheus.NewDesc("ferry_ingress_refused_total",
		"Requests an ingress refused (bad signature, replayed body), by platform and reason.", []string{"platform", "reason"}, nil)
)

func (c *inboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- inboxPendingDesc
	ch <- inboxOldestDesc
	ch <- refusedDesc
}

func (c *inboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if backlog, err := c.st.InboxBacklog(ctx); err == nil {
		for _, b := range backlog {
			ch <- prometheus.MustNewConstMetric(inboxPendingDesc, prometheus.GaugeValue, float64(b.Pending), b.Platform)
			ch <- prometheus.MustNewConstMetric(inboxOldestDesc, prometheus.GaugeValue, time.Since(b.Oldest).Seconds(), b.Platform)
		}
	}
	for platform, counts := range c.refused {
		for _, r := range counts() {
			ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(r.Count), platform, r.Reason)
		}
	}
}
