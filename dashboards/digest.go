package dashboards

import (
	"context"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Digest is the summary of a period that ferry posts to chat: the metrics
// with their trends, the leaderboards, and the days for the chart.
type Digest struct {
	Scope     Scope
	Period    Period
	Scheduled time.Time // the time its schedule named; zero for a preview
	Late      bool      // sent after its time, because ferry was not running then
	Report    Report
	Boards    []Board
	Days      []Day
	// ChartURL is a signed address of the chart, for chats that show
	// images by link; "" for none.
	ChartURL string
}

// Title names the digest: "Weekly digest · every project".
func (g Digest) Title() string {
	kind := "Digest"
	switch g.Period.DayCount() {
	case 7:
		kind = "Weekly digest"
	case 1:
		kind = "Daily digest"
	}
	return kind + " · " + g.Scope.Describe()
}

// Day is one calendar day of a digest, for the chart: deploys started that
// day by how they ended, and the median lead time of that day's successful
// production deploys.
type Day struct {
	Date       time.Time // midnight, in the digest's time zone
	Succeeded  int
	Failed     int
	RolledBack int
	Cancelled  int
	InProgress int
	LeadTime   time.Duration // median; 0 when Leads is 0
	Leads      int
}

// Total is every deploy of the day.
func (d Day) Total() int { return d.Succeeded + d.Failed + d.RolledBack + d.Cancelled + d.InProgress }

// Digest builds the digest of a scope over p.
func (d *Dashboards) Digest(ctx context.Context, s Scope, p Period) (Digest, error) {
	ds, err := d.load(ctx, s, p)
	if err != nil {
		return Digest{}, err
	}
	return d.digest(ds, s, p), nil
}

// Digests builds the digests of several scopes over one period from one
// read of the deploys: what the digests of every team, project,
// environment and person cost together.
func (d *Dashboards) Digests(ctx context.Context, scopes []Scope, p Period) ([]Digest, error) {
	ds, err := d.load(ctx, All, p)
	if err != nil {
		return nil, err
	}
	out := make([]Digest, len(scopes))
	for i, s := range scopes {
		out[i] = d.digest(ds, s, p)
	}
	return out, nil
}

func (d *Dashboards) digest(ds *dataset, s Scope, p Period) Digest {
	match := d.dir.matcher(s)
	g := Digest{Scope: s, Period: p, Report: ds.report(s, p, d.dir), Days: ds.days(p, match)}
	for _, by := range digestDimensions(s, d.dir) {
		g.Boards = append(g.Boards, ds.boards(p, match, d.dir, by)...)
	}
	if d.chartURL != nil {
		g.ChartURL = d.chartURL(g)
	}
	return g
}

// digestDimensions are the leaderboards a digest of s shows: not the one
// its scope is about.
func digestDimensions(s Scope, dir Directory) []Dimension {
	var out []Dimension
	for _, by := range Dimensions {
		switch {
		case by == ByTeam && (len(dir.Teams) == 0 || s.Kind == ScopeTeam || s.Kind == ScopePerson),
			by == ByProject && s.Kind == ScopeProject,
			by == ByPerson && s.Kind == ScopePerson:
			continue
		}
		out = append(out, by)
	}
	return out
}

func (ds *dataset) days(p Period, match func(Fact) bool) []Day {
	starts := p.Days()
	days := make([]Day, len(starts))
	leads := make([][]time.Duration, len(starts))
	for i, s := range starts {
		days[i].Date = s
	}
	index := func(t time.Time) int {
		for i := len(starts) - 1; i >= 0; i-- {
			if !t.Before(starts[i]) {
				return i
			}
		}
		return -1
	}
	for _, f := range ds.facts {
		if f.Kind != pipeline.KindDeploy || !match(f) || !p.Contains(f.StartedAt) {
			continue
		}
		i := index(f.StartedAt)
		if i < 0 {
			continue
		}
		switch f.outcome() {
		case outSucceeded:
			days[i].Succeeded++
			if ds.settings.IsProduction(f.Env) && !f.CommittedAt.IsZero() {
				leads[i] = append(leads[i], max(0, f.FinishedAt.Sub(f.CommittedAt)))
			}
		case outFailed:
			days[i].Failed++
		case outRolledBack:
			days[i].RolledBack++
		case outCancelled:
			days[i].Cancelled++
		default:
			days[i].InProgress++
		}
	}
	for i, l := range leads {
		st := stats(l)
		days[i].LeadTime, days[i].Leads = st.Median, st.Count
	}
	return days
}
