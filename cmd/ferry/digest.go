package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/dashboards/chart"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
)

// newDashboards builds the dashboards over the store, as the
// configuration says to count.
func newDashboards(cfg *config.Config, st *storage.Store, charts dashboards.Signer, clock pipeline.Clock) (*dashboards.Dashboards, error) {
	db := cfg.Dashboards
	dc := dashboards.Config{
		Store: st, Directory: cfg.Directory(), Location: db.Location,
		Settings: dashboards.Settings{Production: db.Production, FailureWindow: db.FailureWindow, MinDeploys: db.MinDeploys, Top: db.Top, OptOut: db.OptOut},
	}
	dc.Now = time.Now
	if clock != nil {
		dc.Now = clock.Now
	}
	now := dc.Now
	dc.ChartURL = func(g dashboards.Digest) string {
		return charts.URL(g.Scope, g.Period, now().Add(dashboards.ChartTTL))
	}
	return dashboards.New(dc)
}

// newScheduler builds the scheduler of the configured digests, posting
// through poster.
// With an elector, the leader of the replicas sends them, and each
// replica catches up on what was due when it becomes the leader.
func newScheduler(cfg *config.Config, d *dashboards.Dashboards, st *storage.Store, poster dashboards.Poster, el *pipeline.Elector, clock pipeline.Clock, log *slog.Logger) (*dashboards.Scheduler, error) {
	var chans []dashboards.Channel
	for _, g := range cfg.Dashboards.Digests {
		scope, err := d.ParseScope(g.Scope)
		if err != nil {
			return nil, fmt.Errorf("digest for %s: %w", g.Channel, err)
		}
		chans = append(chans, dashboards.Channel{Name: g.Channel, Scope: scope, Schedule: g.Schedule})
	}
	sc := dashboards.SchedulerConfig{Dashboards: d, Ledger: st, Poster: poster, Chart: chart.PNG, Channels: chans, Logger: log}
	if c, ok := clock.(clockwork.Clock); ok {
		sc.Clock = c // tests run the schedule on a fake clock
	}
	if el != nil {
		sc.Elector = el
	}
	s, err := dashboards.NewScheduler(sc)
	if err == nil && el != nil {
		el.OnLead(s.CatchUp)
	}
	return s, err
}

const digestUsage = `usage: ferry digest --send [--config ferry.yaml]   post every configured digest now
       ferry digest preview [<scope>]                 show the digest of the last seven days up to now (from the server)
`

// digest runs `ferry digest --send`, which posts the digests from this
// process, or passes `ferry digest preview` to the server like any command.
func digest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	send := false
	for _, a := range args {
		send = send || a == "--send"
	}
	if !send {
		return client(ctx, append([]string{"digest"}, args...), stdout, stderr)
	}
	fs, path := configFlags("digest", stderr)
	fs.Bool("send", true, "post every configured digest now")
	fs.Usage = func() { fmt.Fprint(stderr, digestUsage) }
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprint(stderr, digestUsage)
		return exitError(2)
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(ctx, cfg, source{}, cfg.BaseURL, log, nil)
	if err != nil {
		return err
	}
	defer a.close()
	if a.digests == nil {
		fmt.Fprintln(stderr, "ferry: no digest to send: add dashboards.digest.channels to the configuration")
		return exitError(1)
	}
	// ferry serve queues digests in the outbox; this posts them at once,
	// and fails if the chat refuses.
	var posters digestRouter
	if a.slack != nil {
		posters.slack = a.slack
	}
	if a.ding != nil {
		posters.dingtalk = a.ding
	}
	now, err := newScheduler(cfg, a.dash, a.store, posters, nil, nil, log)
	if err != nil {
		return err
	}
	if err := now.SendNow(ctx); err != nil {
		return err
	}
	for _, g := range cfg.Dashboards.Digests {
		fmt.Fprintf(stdout, "sent the digest to %s\n", g.Channel)
	}
	return nil
}
