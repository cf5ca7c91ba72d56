package dashboards

import (
	"context"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// TestPreviewCountsToday: somebody who deployed four times this morning
// sees four in digest preview, which covers the last 7×24 hours up to now
// and says so, not the seven whole days before today.
func TestPreviewCountsToday(t *testing.T) {
	now := at(4, 15, 30) // Wednesday afternoon
	var today memStore
	for i := range 4 {
		start := at(4, 9+i, 0)
		today = append(today, Fact{ID: int64(i + 1), Project: "api", Env: "staging", Kind: deploy, State: pipeline.StateSucceeded,
			Requester: "alice", CreatedAt: start, StartedAt: start, FinishedAt: start.Add(5 * time.Minute)})
	}
	d, err := New(Config{Store: today, Directory: testDir, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	g, err := d.Preview(context.Background(), "all")
	if err != nil {
		t.Fatal(err)
	}
	if g.Report.Current.Deploys != 4 {
		t.Errorf("preview counts %d deploys; want today's 4", g.Report.Current.Deploys)
	}
	if !g.Period.To.Equal(now) || !g.Period.From.Equal(now.Add(-7*24*time.Hour)) {
		t.Errorf("preview covers %v – %v; want the 168 hours up to %v", g.Period.From, g.Period.To, now)
	}
	if got, want := g.Period.About(), "last 7 days, up to now (2026-10-28 15:30 – 2026-11-04 15:30 UTC)"; got != want {
		t.Errorf("About = %q; want %q", got, want)
	}
	if g.Title() != "Weekly digest · every project" {
		t.Errorf("Title = %q", g.Title())
	}
}

func TestParsePeriod(t *testing.T) {
	now := at(4, 15, 30)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		in       string
		from, to time.Time
		about    string
	}{
		{"7d", now.Add(-7 * 24 * time.Hour), now, "last 7 days, up to now (2026-10-28 16:30 – 2026-11-04 16:30 CET)"},
		{"1d", now.Add(-24 * time.Hour), now, "last 24 hours, up to now (2026-11-03 16:30 – 2026-11-04 16:30 CET)"},
		// Dates are whole days, from midnight to midnight.
		{"2026-11-02..2026-11-09", time.Date(2026, 11, 2, 0, 0, 0, 0, berlin), time.Date(2026, 11, 9, 0, 0, 0, 0, berlin), "2026-11-02 – 2026-11-08 (Europe/Berlin)"},
	} {
		p, err := ParsePeriod(tt.in, now, berlin)
		if err != nil {
			t.Errorf("ParsePeriod(%q): %v", tt.in, err)
			continue
		}
		if !p.From.Equal(tt.from) || !p.To.Equal(tt.to) || p.About() != tt.about {
			t.Errorf("ParsePeriod(%q) = %v – %v, %q; want %v – %v, %q", tt.in, p.From, p.To, p.About(), tt.from, tt.to, tt.about)
		}
	}
	// The period before a recent one is as long, and is not "up to now".
	if prev := Recent(now, 7, nil).Previous(); !prev.To.Equal(now.Add(-7*24*time.Hour)) || prev.RecentDays != 0 {
		t.Errorf("Previous of the last 7 days = %+v", prev)
	}
}

// TestScheduledDigestCoversWholeDays: what a digest sent on its schedule
// covers stays whole days, whatever the pages show by default.
func TestScheduledDigestCoversWholeDays(t *testing.T) {
	s, err := ParseSchedule(DefaultCron, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Period(at(9, 10, 0))
	if !p.From.Equal(at(2, 0, 0)) || !p.To.Equal(at(9, 0, 0)) || p.RecentDays != 0 || p.About() != "2026-11-02 – 2026-11-08 (UTC)" {
		t.Errorf("the digest of Monday 9 covers %v – %v (%q); want the week from Monday 2, midnight to midnight", p.From, p.To, p.About())
	}
}
