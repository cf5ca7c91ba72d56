package dashboards

import (
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestScheduleAcrossDST: Mondays at 10:00 in Berlin stay 10:00 Berlin time
// when the clocks change (25 October 2026 back, 29 March 2026 forward), so
// the time in UTC moves; every weekly period is seven days.
func TestScheduleAcrossDST(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	s, err := ParseSchedule(DefaultCron, berlin)
	if err != nil {
		t.Fatal(err)
	}
	utc := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		after, want time.Time
	}{
		{utc(10, 19, 8), utc(10, 26, 9)},  // summer time, 08:00 UTC, to winter time, 09:00 UTC
		{utc(3, 23, 9), utc(3, 30, 8)},    // and back in spring
		{utc(10, 21, 12), utc(10, 26, 9)}, // from the middle of a week
	}
	for _, tt := range tests {
		if got := s.Next(tt.after); !got.Equal(tt.want) {
			t.Errorf("Next(%v) = %v; want %v", tt.after, got.UTC(), tt.want)
		}
	}
	if got := s.Prev(utc(10, 26, 9)); !got.Equal(utc(10, 26, 9)) {
		t.Errorf("Prev of a scheduled time = %v; want itself", got.UTC())
	}
	if got := s.Prev(utc(10, 26, 8).Add(59 * time.Minute)); !got.Equal(utc(10, 19, 8)) {
		t.Errorf("Prev just before it = %v; want the week before", got.UTC())
	}
	p := s.Period(utc(10, 26, 9))
	if !p.From.Equal(time.Date(2026, 10, 19, 0, 0, 0, 0, berlin)) || !p.To.Equal(time.Date(2026, 10, 26, 0, 0, 0, 0, berlin)) {
		t.Errorf("Period = %v; want Monday to Monday in Berlin", p)
	}
	if h := p.To.Sub(p.From).Hours(); h != 7*24+1 || p.DayCount() != 7 || len(p.Days()) != 7 {
		t.Errorf("the week the clocks went back: %vh, %v days (%d); want 169h, 7 days", h, p.DayCount(), len(p.Days()))
	}
	if got := p.String(); got != "2026-10-19 – 2026-10-25" {
		t.Errorf("Period.String = %q", got)
	}
}

func TestScheduleTimeZones(t *testing.T) {
	shanghai := mustLoad(t, "Asia/Shanghai")
	s, err := ParseSchedule("30 9 * * *", shanghai) // daily, 09:30 in Shanghai: 01:30 UTC
	if err != nil {
		t.Fatal(err)
	}
	after := time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)
	if got, want := s.Next(after), time.Date(2026, 11, 3, 1, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next = %v; want %v", got.UTC(), want)
	}
	p := s.Period(time.Date(2026, 11, 3, 1, 30, 0, 0, time.UTC))
	if p.DayCount() != 1 || !p.From.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, shanghai)) {
		t.Errorf("a daily digest covers %v (%v days); want 2 November in Shanghai", p, p.DayCount())
	}
	hourly, err := ParseSchedule("0 * * * *", nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	if p := hourly.Period(at); !p.From.Equal(at.Add(-time.Hour)) || !p.To.Equal(at) {
		t.Errorf("an hourly digest covers %v; want the hour before", p)
	}
	for _, bad := range []string{"", "every monday", "0 10 * *", "61 10 * * 1", "CRON_TZ=UTC 0 10 * * 1"} {
		if _, err := ParseSchedule(bad, nil); err == nil {
			t.Errorf("ParseSchedule(%q) succeeded", bad)
		}
	}
}
