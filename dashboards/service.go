package dashboards

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Config is what Dashboards need.
type Config struct {
	Store     Store     // required
	Directory Directory // projects, environments, teams and people
	Settings  Settings
	// Location is the time zone days are counted in on pages; nil: UTC.
	// Digests count days in the time zone of their schedule.
	Location *time.Location
	Now      func() time.Time // nil: time.Now
	// ChartURL returns the signed address of a digest's chart, for chats
	// that show images by link; nil: digests have none.
	ChartURL func(Digest) string
}

// Dashboards compute metrics, leaderboards and digests from the store.
type Dashboards struct {
	store    Store
	dir      Directory
	settings Settings
	loc      *time.Location
	now      func() time.Time
	chartURL func(Digest) string
}

// New returns dashboards over cfg.Store.
func New(cfg Config) (*Dashboards, error) {
	if cfg.Store == nil {
		return nil, errors.New("dashboards: a Store is required")
	}
	d := &Dashboards{store: cfg.Store, dir: cfg.Directory, settings: cfg.Settings, loc: cfg.Location, now: cfg.Now, chartURL: cfg.ChartURL}
	if d.loc == nil {
		d.loc = time.UTC
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d, nil
}

// Directory returns what the dashboards know of projects, teams and people.
func (d *Dashboards) Directory() Directory { return d.dir }

// Location is the time zone of the pages.
func (d *Dashboards) Location() *time.Location { return d.loc }

// Now is the dashboards' clock.
func (d *Dashboards) Now() time.Time { return d.now() }

// ParseScope reads a scope against the directory; see Directory.ParseScope.
func (d *Dashboards) ParseScope(s string) (Scope, error) { return d.dir.ParseScope(s) }

// restoreHorizon is how long after a period the dashboards look for the
// rollbacks and successes that decide its change failures and restores.
const restoreHorizon = 7 * 24 * time.Hour

// load reads the facts p and the period before it need: the deploys that
// started from the start of the previous period to a while after p.
func (d *Dashboards) load(ctx context.Context, s Scope, p Period) (*dataset, error) {
	q := Query{From: p.Previous().From, To: p.To.Add(max(restoreHorizon, d.settings.window()))}
	if s.Kind == ScopeProject {
		q.Project = s.Name
	}
	facts, err := d.store.Facts(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	return newDataset(facts, d.settings), nil
}

// Report computes the metrics of a scope over p and over the period before.
func (d *Dashboards) Report(ctx context.Context, s Scope, p Period) (Report, error) {
	ds, err := d.load(ctx, s, p)
	if err != nil {
		return Report{}, err
	}
	return ds.report(s, p, d.dir), nil
}

func (ds *dataset) report(s Scope, p Period, dir Directory) Report {
	match := dir.matcher(s)
	return Report{Scope: s, Current: ds.metrics(p, match), Previous: ds.metrics(p.Previous(), match)}
}

// Leaderboards computes the leaderboards of a scope over p, by each
// dimension asked for (every dimension if none is).
func (d *Dashboards) Leaderboards(ctx context.Context, s Scope, p Period, by ...Dimension) ([]Board, error) {
	ds, err := d.load(ctx, s, p)
	if err != nil {
		return nil, err
	}
	if len(by) == 0 {
		by = Dimensions
	}
	var out []Board
	for _, dim := range by {
		out = append(out, ds.boards(p, d.dir.matcher(s), d.dir, dim)...)
	}
	return out, nil
}

// Preview builds the digest of the last 7×24 hours up to now of a scope
// (what somebody who asks expects to see, today's deploys included; a
// digest sent on its schedule covers whole days instead), as
// people write it (see Directory.ParseScope); a scope that names nothing is
// an error wrapping pipeline.ErrInvalid.
func (d *Dashboards) Preview(ctx context.Context, scope string) (Digest, error) {
	s, err := d.dir.ParseScope(scope)
	if err != nil {
		return Digest{}, fmt.Errorf("%w: %v", pipeline.ErrInvalid, err)
	}
	return d.Digest(ctx, s, Recent(d.now(), 7, d.loc))
}
