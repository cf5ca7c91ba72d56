package dashboards

import (
	"fmt"
	"strings"
	"time"
)

// Period is the half-open interval of time [From, To) a metric covers,
// with the time zone its days are counted in.
type Period struct {
	From, To time.Time
	Loc      *time.Location // nil: UTC
	// RecentDays is n for the last n×24 hours up to now (see Recent), so
	// that the period can say so; 0 for any other period.
	RecentDays int
}

func (p Period) loc() *time.Location {
	if p.Loc == nil {
		return time.UTC
	}
	return p.Loc
}

// Contains reports whether t is in the period.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.From) && t.Before(p.To) }

// Previous is the period of the same length just before p.
func (p Period) Previous() Period {
	return Period{From: p.From.Add(-p.To.Sub(p.From)), To: p.From, Loc: p.Loc}
}

// Days returns the start of every calendar day, in the period's time zone,
// that the period touches: seven for a week from midnight to midnight, even
// across a change of daylight saving time.
func (p Period) Days() []time.Time {
	var days []time.Time
	loc := p.loc()
	f := p.From.In(loc)
	day := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	for day.Before(p.To) {
		days = append(days, day)
		day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
	}
	return days
}

// DayCount is how many days the period lasts, for rates per day: whole
// calendar days when it runs from midnight to midnight, else its length in
// units of 24 hours.
func (p Period) DayCount() float64 {
	loc := p.loc()
	f, t := p.From.In(loc), p.To.In(loc)
	if midnight(f) && midnight(t) {
		return float64(len(p.Days()))
	}
	return p.To.Sub(p.From).Hours() / 24
}

func midnight(t time.Time) bool {
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

// String writes the period as dates in its time zone: "2026-11-02 – 2026-11-08"
// for a week that ends at midnight of the 9th.
func (p Period) String() string {
	loc := p.loc()
	f, t := p.From.In(loc), p.To.In(loc)
	if midnight(f) && midnight(t) {
		last := t.AddDate(0, 0, -1)
		if last.Equal(f) || last.Before(f) {
			return f.Format("2006-01-02")
		}
		return f.Format("2006-01-02") + " – " + last.Format("2006-01-02")
	}
	return f.Format("2006-01-02 15:04") + " – " + t.Format("2006-01-02 15:04 MST")
}

// About says what the period covers, for people: its dates and time zone,
// "2026-11-02 – 2026-11-08 (UTC)", or, for the last days up to now,
// "last 7 days, up to now (2026-11-02 10:00 – 2026-11-09 10:00 UTC)".
func (p Period) About() string {
	switch {
	case p.RecentDays == 1:
		return "last 24 hours, up to now (" + p.String() + ")"
	case p.RecentDays > 1:
		return fmt.Sprintf("last %d days, up to now (%s)", p.RecentDays, p.String())
	}
	return p.String() + " (" + p.loc().String() + ")"
}

// Recent is the last n×24 hours up to now, in loc: Recent(now, 7, loc) is
// the last seven days with today so far, what the pages and digest
// preview show unless asked for another period.
func Recent(now time.Time, n int, loc *time.Location) Period {
	if loc == nil {
		loc = time.UTC
	}
	return Period{From: now.Add(-time.Duration(n) * 24 * time.Hour), To: now, Loc: loc, RecentDays: n}
}

// ParsePeriod reads a period as the web pages and commands take it: "7d",
// "30d", "90d" (that many times 24 hours up to now, see Recent) or
// "2026-11-02..2026-11-09" (from midnight of the first date to midnight of
// the second).
func ParsePeriod(s string, now time.Time, loc *time.Location) (Period, error) {
	if loc == nil {
		loc = time.UTC
	}
	var n int
	if _, err := fmt.Sscanf(s, "%dd", &n); err == nil && fmt.Sprintf("%dd", n) == s {
		if n < 1 || n > 3660 {
			return Period{}, fmt.Errorf("period %q: want between 1d and 3660d", s)
		}
		return Recent(now, n, loc), nil
	}
	a, b, _ := strings.Cut(s, "..")
	from, err1 := time.ParseInLocation("2006-01-02", a, loc)
	to, err2 := time.ParseInLocation("2006-01-02", b, loc)
	if err1 != nil || err2 != nil || !to.After(from) {
		return Period{}, fmt.Errorf("period %q: write a number of days like 7d or 30d, or two dates like 2026-11-02..2026-11-09 (the second after the first)", s)
	}
	return Period{From: from, To: to, Loc: loc}, nil
}
