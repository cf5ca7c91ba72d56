package dashboards

import (
	"fmt"
	"math"
	"time"
)

// Tone says whether a change is for the better.
type Tone string

// The tones of a change.
const (
	Better Tone = "better"
	Worse  Tone = "worse"
	Same   Tone = "same"
	NoTone Tone = "" // nothing to compare
)

// Row is one line of a report, as every renderer shows it: the metric, its
// value now and in the previous period, and the change.
type Row struct {
	Key      string // stable name for pages and tests: deploys, success_rate, …
	Name     string
	Value    string
	Detail   string // what the value is made of: "38 of 40"; "" for none
	Previous string
	Change   string // "+7", "−3 pts", "−12%", "" when either side is missing
	Tone     Tone
	DORA     bool // one of the four DORA metrics
}

// Rows lays the report out for people: the delivery numbers, then the four
// DORA metrics. A value that cannot be computed (no deploys) is "–".
func (r Report) Rows() []Row {
	c, p := r.Current, r.Previous
	return []Row{
		countRow("deploys", "Deploys", c.Deploys, p.Deploys, true),
		rateRow("success_rate", "Success rate", c.SuccessRate, p.SuccessRate, true),
		countRow("rollbacks", "Rollbacks", c.Rollbacks, p.Rollbacks, false),
		countRow("canary_catches", "Caught by canary", c.CanaryCatches, p.CanaryCatches, true),
		durRow("duration_median", "Duration, median", c.Duration, p.Duration, func(s Stats) time.Duration { return s.Median }),
		durRow("duration_p90", "Duration, p90", c.Duration, p.Duration, func(s Stats) time.Duration { return s.P90 }),
		freqRow(c, p),
		dora(durRow("lead_time", "Lead time for changes", c.LeadTime, p.LeadTime, func(s Stats) time.Duration { return s.Median })),
		dora(rateRow("change_failure_rate", "Change failure rate", c.ChangeFailureRate, p.ChangeFailureRate, false)),
		dora(durRow("time_to_restore", "Time to restore", c.Restore, p.Restore, func(s Stats) time.Duration { return s.Median })),
	}
}

func dora(r Row) Row {
	r.DORA = true
	return r
}

const none = "–"

func toneOf(delta float64, higherIsBetter bool) Tone {
	switch {
	case delta == 0:
		return Same
	case delta > 0 == higherIsBetter:
		return Better
	}
	return Worse
}

func signed(v float64, format string) string {
	switch {
	case v > 0:
		return "+" + fmt.Sprintf(format, v)
	case v < 0:
		return "−" + fmt.Sprintf(format, -v)
	}
	return "±" + fmt.Sprintf(format, 0.0)
}

func countRow(key, name string, now, before int, higherIsBetter bool) Row {
	d := float64(now - before)
	return Row{Key: key, Name: name, Value: fmt.Sprint(now), Previous: fmt.Sprint(before), Change: signed(d, "%.0f"), Tone: toneOf(d, higherIsBetter)}
}

func rateRow(key, name string, now, before Rate, higherIsBetter bool) Row {
	r := Row{Key: key, Name: name, Value: none, Previous: none}
	if now.OK() {
		r.Value, r.Detail = FormatPercent(now.Value()), fmt.Sprintf("%d of %d", now.Num, now.Den)
	}
	if before.OK() {
		r.Previous = FormatPercent(before.Value())
	}
	if now.OK() && before.OK() {
		d := math.Round(now.Value()*100) - math.Round(before.Value()*100)
		r.Change, r.Tone = signed(d, "%.0f")+" pts", toneOf(d, higherIsBetter)
	}
	return r
}

// durRow compares one statistic of durations; lower is better, and the
// change is relative.
func durRow(key, name string, now, before Stats, pick func(Stats) time.Duration) Row {
	r := Row{Key: key, Name: name, Value: none, Previous: none}
	if now.OK() {
		r.Value, r.Detail = FormatDuration(pick(now)), fmt.Sprintf("of %d", now.Count)
	}
	if before.OK() {
		r.Previous = FormatDuration(pick(before))
	}
	if now.OK() && before.OK() && pick(before) > 0 {
		pct := math.Round((float64(pick(now))/float64(pick(before)) - 1) * 100)
		r.Change, r.Tone = signed(pct, "%.0f")+"%", toneOf(pct, false)
	}
	return r
}

func freqRow(c, p Metrics) Row {
	d := c.Frequency - p.Frequency
	r := Row{Key: "deploy_frequency", Name: "Deployment frequency", DORA: true,
		Value: FormatRate(c.Frequency), Detail: fmt.Sprintf("%d to production", c.ProdSucceeded),
		Previous: FormatRate(p.Frequency), Tone: toneOf(math.Round(d*10), true)}
	r.Change = signed(float64(c.ProdSucceeded-p.ProdSucceeded), "%.0f")
	return r
}
