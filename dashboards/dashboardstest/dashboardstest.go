// Package dashboardstest has a store of made-up deploys and the digest
// built from them, for the tests of what renders digests (bot, bot/slack,
// bot/web).
package dashboardstest

import (
	"context"
	"testing"
	"time"

	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

// Store holds facts and selects them as storage does.
type Store []dashboards.Fact

// Facts implements dashboards.Store.
func (s Store) Facts(_ context.Context, q dashboards.Query) ([]dashboards.Fact, error) {
	var out []dashboards.Fact
	for _, f := range s {
		if !f.StartedAt.IsZero() && !f.StartedAt.Before(q.From) && f.StartedAt.Before(q.To) && (q.Project == "" || f.Project == q.Project) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Week is the week the sample covers: Monday 2 to Monday 9 November 2026,
// in UTC.
var Week = dashboards.Period{From: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC), Loc: time.UTC}

// Directory knows the sample's projects, teams and people.
var Directory = dashboards.Directory{
	Projects: []string{"api", "web"},
	Envs:     []string{"staging", "prod"},
	Teams:    map[string][]string{"core": {"alice", "bob"}, "edge": {"carol"}},
	Users:    []string{"alice", "bob", "carol"},
}

// Sample is a week of deploys and the one before: each person deploys
// both projects, some fail, one is caught by its canary, one is rolled
// back the next day.
func Sample() Store {
	var s Store
	id := int64(0)
	add := func(week, day, hour int, project, env, who string, st pipeline.State, took, lead time.Duration) *dashboards.Fact {
		id++
		start := Week.From.AddDate(0, 0, 7*week+day).Add(time.Duration(hour) * time.Hour)
		f := dashboards.Fact{ID: id, Project: project, Env: env, Kind: pipeline.KindDeploy, State: st, Requester: who,
			Batches: 3, Batch: 2, CreatedAt: start, StartedAt: start, FinishedAt: start.Add(took), CommittedAt: start.Add(-lead)}
		if st != pipeline.StateSucceeded {
			f.Batch, f.FailedAt = 0, start.Add(took/2)
		}
		s = append(s, f)
		return &s[len(s)-1]
	}
	ok, failed, back := pipeline.StateSucceeded, pipeline.StateFailed, pipeline.StateRolledBack
	m, h := time.Minute, time.Hour
	// The week before: a few deploys, slower.
	add(-1, 0, 10, "api", "prod", "alice", ok, 12*m, 30*h)
	add(-1, 2, 11, "web", "prod", "bob", ok, 8*m, 20*h)
	add(-1, 3, 15, "api", "prod", "carol", failed, 3*m, 0)
	add(-1, 4, 9, "api", "prod", "carol", ok, 11*m, 26*h)
	// This week.
	add(0, 0, 9, "api", "staging", "alice", ok, 4*m, 2*h)
	add(0, 0, 11, "api", "prod", "alice", ok, 10*m, 3*h)
	add(0, 1, 10, "web", "prod", "bob", ok, 6*m, 5*h)
	add(0, 1, 14, "web", "prod", "carol", back, 9*m, 0) // its canary caught it
	add(0, 2, 9, "api", "staging", "bob", ok, 5*m, h)
	add(0, 2, 16, "api", "prod", "bob", ok, 11*m, 4*h)
	add(0, 3, 10, "web", "prod", "alice", failed, 2*m, 0)
	add(0, 3, 12, "web", "prod", "alice", ok, 7*m, 6*h)
	add(0, 4, 10, "api", "prod", "carol", ok, 9*m, 8*h)
	add(0, 4, 15, "api", "prod", "alice", ok, 12*m, 2*h)
	last := add(0, 6, 20, "web", "prod", "bob", ok, 6*m, 3*h)
	// Rolled back the next morning: a failed change of this week.
	id++
	s = append(s, dashboards.Fact{ID: id, Project: "web", Env: "prod", Kind: pipeline.KindRollback, State: ok, Requester: "carol",
		CreatedAt: last.FinishedAt.Add(12 * h), StartedAt: last.FinishedAt.Add(12 * h), FinishedAt: last.FinishedAt.Add(12*h + 2*m)})
	return s
}

// Dashboards returns dashboards over the sample, with their clock just
// after the week.
func Dashboards(t testing.TB) *dashboards.Dashboards {
	t.Helper()
	now := Week.To.Add(10 * time.Hour)
	d, err := dashboards.New(dashboards.Config{
		Store: Sample(), Directory: Directory, Settings: dashboards.Settings{MinDeploys: 2, Top: 3},
		Now: func() time.Time { return now },
		ChartURL: func(g dashboards.Digest) string {
			return "https://ferry.example.com/charts/digest.png?scope=" + g.Scope.String() + "&sig=0123"
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Digest is the digest of the sample week for every project, sent late.
func Digest(t testing.TB) dashboards.Digest {
	t.Helper()
	g, err := Dashboards(t).Digest(context.Background(), dashboards.All, Week)
	if err != nil {
		t.Fatal(err)
	}
	g.Scheduled, g.Late = Week.To.Add(10*time.Hour), true
	return g
}
