package dashboards

import (
	"fmt"
	"math"
	"time"
)

// FormatDuration writes a duration the way the dashboards show it: 45s,
// 12m30s, 5h20m, 3d4h.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		if d <= 0 {
			return "0s"
		}
		return "<1s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return trim(fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second)), "00s")
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return trim(fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute)), "00m")
	}
	d = d.Round(time.Hour)
	return trim(fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)), "0h")
}

func trim(s, zero string) string {
	if len(s) > len(zero) && s[len(s)-len(zero):] == zero {
		return s[:len(s)-len(zero)]
	}
	return s
}

// FormatPercent writes a fraction as a whole percentage, 0.973 → 97%; a
// value just short of 1 stays below 100%.
func FormatPercent(v float64) string {
	p := math.Round(v * 100)
	if p == 100 && v < 1 {
		p = 99
	}
	return fmt.Sprintf("%.0f%%", p)
}

// FormatRate writes deploys per day: 2.3/day, or per week when fewer than
// one a day: 4/week.
func FormatRate(perDay float64) string {
	if perDay >= 1 || perDay == 0 {
		return trimZero(fmt.Sprintf("%.1f", perDay)) + "/day"
	}
	return trimZero(fmt.Sprintf("%.1f", perDay*7)) + "/week"
}

func trimZero(s string) string { return trim(s, ".0") }
