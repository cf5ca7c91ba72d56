package dashboards

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Settings are the choices behind the numbers. The zero value is usable.
type Settings struct {
	// Production names the environments the DORA metrics count. Empty: an
	// environment whose name starts with "prod", or is "prd" or "live".
	Production []string
	// FailureWindow is how soon after a production deploy succeeded a
	// rollback of its environment makes it a failed change. 0: 24 hours.
	FailureWindow time.Duration
	// MinDeploys is how many deploys a team, project or person needs to
	// be ranked by a rate or a median. 0: 3.
	MinDeploys int
	// Top is how many places a leaderboard shows (more when the last place
	// is shared). 0: 5.
	Top int
	// OptOut lists people left out of the leaderboards of people; their
	// deploys still count for their teams and projects.
	OptOut []string
}

// Defaults of Settings.
const (
	DefaultFailureWindow = 24 * time.Hour
	DefaultMinDeploys    = 3
	DefaultTop           = 5
)

func (s Settings) window() time.Duration {
	if s.FailureWindow > 0 {
		return s.FailureWindow
	}
	return DefaultFailureWindow
}

func (s Settings) minDeploys() int {
	if s.MinDeploys > 0 {
		return s.MinDeploys
	}
	return DefaultMinDeploys
}

func (s Settings) top() int {
	if s.Top > 0 {
		return s.Top
	}
	return DefaultTop
}

// IsProduction reports whether the DORA metrics count an environment.
func (s Settings) IsProduction(env string) bool {
	if len(s.Production) > 0 {
		return slices.Contains(s.Production, env)
	}
	e := strings.ToLower(env)
	return strings.HasPrefix(e, "prod") || e == "prd" || e == "live"
}

// Rate is a part of a whole, kept as the two counts so that "no deploys"
// is not 0%.
type Rate struct{ Num, Den int }

// OK reports whether the rate has a value: the whole is not empty.
func (r Rate) OK() bool { return r.Den > 0 }

// Value is Num/Den, 0 when the whole is empty.
func (r Rate) Value() float64 {
	if r.Den == 0 {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

// Stats sums up durations: how many, their median and 90th percentile.
type Stats struct {
	Count  int
	Median time.Duration
	P90    time.Duration
}

// OK reports whether there was anything to sum up.
func (s Stats) OK() bool { return s.Count > 0 }

// stats computes the median (the middle value, or the mean of the two
// middle ones) and the 90th percentile by nearest rank (the value at rank
// ⌈0.9·n⌉ in ascending order).
func stats(ds []time.Duration) Stats {
	n := len(ds)
	if n == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	rank := (9*n + 9) / 10 // ⌈0.9·n⌉
	return Stats{Count: n, Median: med, P90: s[rank-1]}
}

// Metrics are the numbers of one scope over one period. See the package
// documentation for how each is counted.
type Metrics struct {
	Period Period

	Deploys       int // deploys (not rollbacks) that started in the period
	Succeeded     int
	Failed        int
	RolledBack    int // rolled back, or rolling back now
	Cancelled     int // cancelled after they started
	InProgress    int // running, paused or interrupted at the time of asking
	SuccessRate   Rate
	Rollbacks     int // rollback deploys, and deploys rolled back in flight
	CanaryCatches int // deploys stopped while on the first of several batches
	Duration      Stats

	// DORA: production environments only.
	ProdDeploys       int     // production deploys with a verdict
	ProdSucceeded     int     // successful production deploys
	Frequency         float64 // successful production deploys per day
	LeadTime          Stats   // commit → production success
	LeadTimeUnknown   int     // successful production deploys without a commit time
	ChangeFailureRate Rate
	Restore           Stats // production failure → the environment is good again
	Unrestored        int   // production failures not restored by the time of asking
}

// Report is the metrics of a period beside those of the period before it,
// for trends.
type Report struct {
	Scope    Scope
	Current  Metrics
	Previous Metrics
}

// dataset is the facts of a time range, indexed for the metrics: every
// environment's successes in order, and the production deploys a rollback
// blamed.
type dataset struct {
	facts     []Fact
	settings  Settings
	successes map[string][]Fact   // project\x00env → succeeded deploys of any kind, by FinishedAt
	blamed    map[int64]time.Time // deploy ID → when a rollback that blames it was requested
}

func envKey(f Fact) string { return f.Project + "\x00" + f.Env }

func newDataset(facts []Fact, s Settings) *dataset {
	ds := &dataset{facts: facts, settings: s, successes: map[string][]Fact{}, blamed: map[int64]time.Time{}}
	for _, f := range facts {
		if f.State == pipeline.StateSucceeded {
			ds.successes[envKey(f)] = append(ds.successes[envKey(f)], f)
		}
	}
	for _, fs := range ds.successes {
		sort.Slice(fs, func(i, j int) bool { return fs[i].FinishedAt.Before(fs[j].FinishedAt) })
	}
	// A rollback blames the last deploy that succeeded in its environment
	// before the rollback was asked for, if that was within the window.
	for _, r := range facts {
		if r.Kind != pipeline.KindRollback || r.StartedAt.IsZero() || !s.IsProduction(r.Env) {
			continue
		}
		fs := ds.successes[envKey(r)]
		i := sort.Search(len(fs), func(i int) bool { return !fs[i].FinishedAt.Before(r.CreatedAt) })
		if i == 0 {
			continue
		}
		// A rollback after a rollback is about that one, not a deploy.
		if d := fs[i-1]; d.Kind == pipeline.KindDeploy && r.CreatedAt.Sub(d.FinishedAt) <= s.window() {
			if at, ok := ds.blamed[d.ID]; !ok || r.CreatedAt.Before(at) {
				ds.blamed[d.ID] = r.CreatedAt
			}
		}
	}
	return ds
}

// restoredAt is when the environment of f was good again after a failure
// that began at start: when f itself was rolled back, or when a later
// deploy of the environment succeeded, whichever came first.
func (ds *dataset) restoredAt(f Fact, start time.Time) (time.Time, bool) {
	var end time.Time
	if f.State == pipeline.StateRolledBack {
		end = f.FinishedAt
	}
	fs := ds.successes[envKey(f)]
	i := sort.Search(len(fs), func(i int) bool { return fs[i].FinishedAt.After(start) })
	for ; i < len(fs); i++ {
		if fs[i].ID != f.ID {
			if end.IsZero() || fs[i].FinishedAt.Before(end) {
				end = fs[i].FinishedAt
			}
			break
		}
	}
	return end, !end.IsZero()
}

// metrics computes the metrics of the deploys match selects in p.
func (ds *dataset) metrics(p Period, match func(Fact) bool) Metrics {
	return ds.metricsOf(ds.facts, p, match)
}

// metricsOf computes the metrics of the deploys of facts, a part of the
// dataset's, that match selects in p.
func (ds *dataset) metricsOf(facts []Fact, p Period, match func(Fact) bool) Metrics {
	m := Metrics{Period: p}
	var durations, leads, restores []time.Duration
	prodFailures := 0
	for _, f := range facts {
		if !match(f) {
			continue
		}
		prod := ds.settings.IsProduction(f.Env)
		o := f.outcome()
		if prod && (o == outFailed || o == outRolledBack) && p.Contains(f.failedAt()) {
			restores, m.Unrestored = ds.restore(f, f.failedAt(), restores, m.Unrestored)
		}
		if at, ok := ds.blamed[f.ID]; ok && p.Contains(at) {
			restores, m.Unrestored = ds.restore(f, at, restores, m.Unrestored)
		}
		if !p.Contains(f.StartedAt) {
			continue
		}
		if f.Kind == pipeline.KindRollback {
			m.Rollbacks++
			continue
		}
		m.Deploys++
		switch o {
		case outSucceeded:
			m.Succeeded++
			durations = append(durations, f.FinishedAt.Sub(f.StartedAt))
		case outFailed:
			m.Failed++
		case outRolledBack:
			m.RolledBack++
			m.Rollbacks++
		case outCancelled:
			m.Cancelled++
		default:
			m.InProgress++
		}
		if f.canaryCatch() {
			m.CanaryCatches++
		}
		if !prod || !o.finished() {
			continue
		}
		m.ProdDeploys++
		_, blamed := ds.blamed[f.ID]
		if o != outSucceeded || blamed {
			prodFailures++
		}
		if o == outSucceeded {
			m.ProdSucceeded++
			if f.CommittedAt.IsZero() {
				m.LeadTimeUnknown++
			} else {
				leads = append(leads, max(0, f.FinishedAt.Sub(f.CommittedAt)))
			}
		}
	}
	m.SuccessRate = Rate{m.Succeeded, m.Succeeded + m.Failed + m.RolledBack}
	m.ChangeFailureRate = Rate{prodFailures, m.ProdDeploys}
	m.Duration, m.LeadTime, m.Restore = stats(durations), stats(leads), stats(restores)
	if days := p.DayCount(); days > 0 {
		m.Frequency = float64(m.ProdSucceeded) / days
	}
	return m
}

func (ds *dataset) restore(f Fact, start time.Time, restores []time.Duration, unrestored int) ([]time.Duration, int) {
	if end, ok := ds.restoredAt(f, start); ok {
		return append(restores, end.Sub(start)), unrestored
	}
	return restores, unrestored + 1
}
