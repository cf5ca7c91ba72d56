package dashboards

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// DefaultCron is the digest's schedule when none is configured: Mondays at
// 10:00.
const DefaultCron = "0 10 * * 1"

// Schedule is a cron expression (minute hour day-of-month month weekday)
// read in a time zone, so 10:00 stays 10:00 across daylight saving time.
type Schedule struct {
	Cron string
	Loc  *time.Location
	next gocron.Cron
}

// ParseSchedule reads a five-field cron expression in loc (nil: UTC). The
// time zone is the loc argument; a CRON_TZ= or TZ= prefix is refused, so
// that one file says it in one place.
func ParseSchedule(expr string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return Schedule{}, fmt.Errorf("schedule %q: give the time zone as timezone:, not in the expression", expr)
	}
	c := gocron.NewDefaultCron(false)
	if err := c.IsValid(expr, loc, time.Now()); err != nil {
		return Schedule{}, fmt.Errorf("schedule %q is not a cron expression of five fields (minute hour day-of-month month weekday), like %q for Mondays at 10:00", expr, DefaultCron)
	}
	return Schedule{Cron: expr, Loc: loc, next: c}, nil
}

// Crontab is the expression with its time zone, as gocron takes it.
func (s Schedule) Crontab() string { return "CRON_TZ=" + s.Loc.String() + " " + s.Cron }

// Next is the first scheduled time after t.
func (s Schedule) Next(t time.Time) time.Time { return s.next.Next(t) }

// Prev is the last scheduled time at or before t; zero if there was none
// in the five years before t.
func (s Schedule) Prev(t time.Time) time.Time {
	for _, back := range []time.Duration{time.Hour, 25 * time.Hour, 8 * 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5 * 366 * 24 * time.Hour} {
		var last time.Time
		for n := s.Next(t.Add(-back)); !n.IsZero() && !n.After(t); n = s.Next(n) {
			last = n
		}
		if !last.IsZero() {
			return last
		}
	}
	return time.Time{}
}

// Period is what the digest sent at the scheduled time at covers: the
// whole days from the day of the previous scheduled time to the day of
// this one, in the schedule's time zone — for Mondays at 10:00, the week
// from Monday 00:00 to Monday 00:00. A schedule that fires more than once
// a day covers the time since its previous firing.
func (s Schedule) Period(at time.Time) Period {
	prev := s.Prev(at.Add(-time.Nanosecond))
	if prev.IsZero() {
		prev = at.AddDate(0, 0, -7)
	}
	day := func(t time.Time) time.Time {
		t = t.In(s.Loc)
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, s.Loc)
	}
	p := Period{From: day(prev), To: day(at), Loc: s.Loc}
	if !p.To.After(p.From) {
		p = Period{From: prev, To: at, Loc: s.Loc}
	}
	return p
}
