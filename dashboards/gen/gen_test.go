package gen_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/dashboards/chart"
	"github.com/ferrybot/ferry/dashboards/gen"
	"github.com/ferrybot/ferry/storage"
)

// end is where the generated deploys stop: Monday 9 November 2026.
var end = time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)

// lastWeek is the week before end.
var lastWeek = dashboards.Period{From: end.AddDate(0, 0, -7), To: end, Loc: time.UTC}

func TestGenerate(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := gen.Generate(ctx, st, gen.Options{Deploys: 5000, End: end, Span: 30 * 24 * time.Hour, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.CountDeploys(ctx); err != nil || n != 5000 {
		t.Fatalf("CountDeploys = %d, %v; want 5000", n, err)
	}
	d, err := dashboards.New(dashboards.Config{Store: st, Directory: gen.World()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Report(ctx, dashboards.All, lastWeek)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Current
	rate := m.SuccessRate.Value()
	if m.Deploys < 900 || rate < 0.85 || rate > 0.97 || m.CanaryCatches == 0 || m.Rollbacks == 0 || !m.LeadTime.OK() || !m.Restore.OK() || m.ChangeFailureRate.Value() == 0 {
		t.Errorf("the generated week does not look like deploys: %+v", m)
	}
	if err := gen.Generate(ctx, st, gen.Options{Deploys: 1, End: end}); err == nil {
		t.Error("Generate into a database that has deploy 1 succeeded")
	}
}

// benchDB returns a database of a million generated deploys: the file
// FERRY_BENCH_DB names, or one in the user's cache directory, generated
// the first time (a few minutes).
func benchDB(b *testing.B) *storage.Store {
	b.Helper()
	const n = 1_000_000
	path := os.Getenv("FERRY_BENCH_DB")
	if path == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			b.Fatal(err)
		}
		path = filepath.Join(dir, "ferry", "bench-"+strconv.Itoa(n)+".db")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := storage.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	have, err := st.CountDeploys(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if have == 0 {
		began := time.Now()
		if err := gen.Generate(ctx, st, gen.Options{Deploys: n, End: end, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %d deploys into %s in %v", n, path, time.Since(began).Round(time.Second))
	} else if have != n {
		b.Fatalf("%s has %d deploys, not %d: remove it and run again", path, have, n)
	}
	return st
}

// benchDashboards is the dashboards over benchDB's million deploys.
func benchDashboards(b *testing.B) *dashboards.Dashboards {
	b.Helper()
	d, err := dashboards.New(dashboards.Config{Store: benchDB(b), Directory: gen.World()})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkWeeklyDigestAll builds the weekly digest of every project over
// a million deploys: metrics, trends, leaderboards by team, project and
// person, and the days of the chart.
func BenchmarkWeeklyDigestAll(b *testing.B) {
	d := benchDashboards(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := d.Digest(ctx, dashboards.All, lastWeek); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWeeklyDigestEveryScope builds the week's digest of every scope
// the directory knows (all, each team, project, environment and person)
// from one read of the deploys.
func BenchmarkWeeklyDigestEveryScope(b *testing.B) {
	d := benchDashboards(b)
	scopes := gen.World().Scopes()
	ctx := context.Background()
	for b.Loop() {
		gs, err := d.Digests(ctx, scopes, lastWeek)
		if err != nil || len(gs) != len(scopes) {
			b.Fatal(len(gs), err)
		}
	}
	b.ReportMetric(float64(len(scopes)), "scopes")
}

// BenchmarkWeeklyDigestAllWithChart is the digest as the scheduler sends
// it: built, and its chart drawn as a PNG.
func BenchmarkWeeklyDigestAllWithChart(b *testing.B) {
	d := benchDashboards(b)
	ctx := context.Background()
	for b.Loop() {
		g, err := d.Digest(ctx, dashboards.All, lastWeek)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := chart.PNG(g); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProjectMetricsPage computes what the metrics page shows for the
// busiest project over the last 30 days: the report with its trend, the
// days of the chart and the leaderboard by person.
func BenchmarkProjectMetricsPage(b *testing.B) {
	d := benchDashboards(b)
	ctx := context.Background()
	scope := dashboards.Scope{Kind: dashboards.ScopeProject, Name: "svc-00"}
	month := dashboards.Period{From: end.AddDate(0, 0, -30), To: end, Loc: time.UTC}
	for b.Loop() {
		if _, err := d.Digest(ctx, scope, month); err != nil {
			b.Fatal(err)
		}
	}
}
