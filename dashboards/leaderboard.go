package dashboards

import (
	"fmt"
	"slices"
	"sort"
)

// Dimension is what a leaderboard ranks.
type Dimension string

// The dimensions of the leaderboards.
const (
	ByTeam    Dimension = "team"
	ByProject Dimension = "project"
	ByPerson  Dimension = "person"
)

// Dimensions lists the dimensions in the order pages show them.
var Dimensions = []Dimension{ByTeam, ByProject, ByPerson}

// BoardKind is what a leaderboard ranks by.
type BoardKind string

// The leaderboards.
const (
	MostDeploys     BoardKind = "most_deploys"      // deploys started in the period
	BestSuccessRate BoardKind = "best_success_rate" // of at least MinDeploys deploys with a verdict
	FastestLeadTime BoardKind = "fastest_lead_time" // median, of at least MinDeploys production deploys
	CanaryCatches   BoardKind = "canary_catches"    // deploys the first batch stopped
)

// BoardKinds lists the leaderboards in the order pages show them.
var BoardKinds = []BoardKind{MostDeploys, BestSuccessRate, FastestLeadTime, CanaryCatches}

// Title names a leaderboard kind.
func (k BoardKind) Title() string {
	switch k {
	case MostDeploys:
		return "Most deploys"
	case BestSuccessRate:
		return "Best success rate"
	case FastestLeadTime:
		return "Fastest lead time"
	case CanaryCatches:
		return "Most rollbacks caught by canary"
	}
	return string(k)
}

// Board is one leaderboard: places in order, best first.
type Board struct {
	Kind    BoardKind
	By      Dimension
	Entries []Entry
	// Note says why the board is empty, or who is left out; "" for nothing.
	Note string
}

// Title names the board: "Most deploys by person".
func (b Board) Title() string { return b.Kind.Title() + " by " + string(b.By) }

// Entry is one place on a leaderboard. Entries with equal scores share a
// rank, and the next rank skips as many places (1, 2, 2, 4).
type Entry struct {
	Rank   int
	Name   string
	Value  string // the score as people read it: 42, 97%, 3h20m
	Detail string // what the score is made of: "38 of 39"; "" for none
	score  float64
}

// boards computes the leaderboards of one dimension over p.
func (ds *dataset) boards(p Period, match func(Fact) bool, dir Directory, by Dimension) []Board {
	type group struct {
		name string
		m    Metrics
	}
	// One pass sorts the facts match selects into their groups, as the
	// scope of each group (dir.matcher) would select them; each group's
	// metrics then read only its own.
	byGroup := map[string][]Fact{}
	teams := map[string][]string{} // requester → teams
	for _, f := range ds.facts {
		if !match(f) {
			continue
		}
		switch by {
		case ByTeam:
			ts, ok := teams[f.Requester]
			if !ok {
				ts = dir.TeamsOf(f.Requester)
				teams[f.Requester] = ts
			}
			for _, t := range ts {
				byGroup[t] = append(byGroup[t], f)
			}
		case ByProject:
			byGroup[f.Project] = append(byGroup[f.Project], f)
		default:
			byGroup[f.Requester] = append(byGroup[f.Requester], f)
		}
	}
	all := func(Fact) bool { return true }
	var groups []group
	for _, name := range ds.groupNames(p, match, dir, by) {
		groups = append(groups, group{name, ds.metricsOf(byGroup[name], p, all)})
	}
	minN := ds.settings.minDeploys()
	var out []Board
	for _, kind := range BoardKinds {
		b := Board{Kind: kind, By: by}
		var es []Entry
		for _, g := range groups {
			m := g.m
			switch kind {
			case MostDeploys:
				if m.Deploys > 0 {
					es = append(es, Entry{Name: g.name, Value: fmt.Sprint(m.Deploys), score: float64(m.Deploys)})
				}
			case BestSuccessRate:
				if r := m.SuccessRate; r.Den >= minN {
					es = append(es, Entry{Name: g.name, Value: FormatPercent(r.Value()), Detail: fmt.Sprintf("%d of %d", r.Num, r.Den), score: r.Value()})
				}
			case FastestLeadTime:
				if l := m.LeadTime; l.Count >= minN {
					es = append(es, Entry{Name: g.name, Value: FormatDuration(l.Median), Detail: fmt.Sprintf("median of %d", l.Count), score: -l.Median.Seconds()})
				}
			case CanaryCatches:
				if m.CanaryCatches > 0 {
					es = append(es, Entry{Name: g.name, Value: fmt.Sprint(m.CanaryCatches), score: float64(m.CanaryCatches)})
				}
			}
		}
		b.Entries = rank(es, ds.settings.top())
		switch {
		case len(b.Entries) == 0 && (kind == BestSuccessRate || kind == FastestLeadTime):
			what := "deploys with a verdict"
			if kind == FastestLeadTime {
				what = "successful production deploys with a commit time"
			}
			b.Note = fmt.Sprintf("nobody yet: a place needs %d %s", minN, what)
		case len(b.Entries) == 0:
			b.Note = "nobody yet"
		}
		out = append(out, b)
	}
	return out
}

// groupNames lists the teams, projects or people that have deploys in p:
// people only if ferry knows them and they did not opt out.
func (ds *dataset) groupNames(p Period, match func(Fact) bool, dir Directory, by Dimension) []string {
	seen := map[string]bool{}
	for _, f := range ds.facts {
		if !match(f) || !p.Contains(f.StartedAt) {
			continue
		}
		switch by {
		case ByTeam:
			for _, t := range dir.TeamsOf(f.Requester) {
				seen[t] = true
			}
		case ByProject:
			seen[f.Project] = true
		case ByPerson:
			if slices.Contains(dir.Users, f.Requester) && !slices.Contains(ds.settings.OptOut, f.Requester) {
				seen[f.Requester] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// rank orders entries by score, highest first, and names within a score;
// gives equal scores one rank; and keeps the places up to top, with every
// entry that shares the last one.
func rank(es []Entry, top int) []Entry {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].score != es[j].score {
			return es[i].score > es[j].score
		}
		return es[i].Name < es[j].Name
	})
	for i := range es {
		es[i].Rank = i + 1
		if i > 0 && es[i].score == es[i-1].score {
			es[i].Rank = es[i-1].Rank
		}
	}
	n := 0
	for n < len(es) && es[n].Rank <= top {
		n++
	}
	return es[:n]
}
