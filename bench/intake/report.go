package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// quantile is the nearest-rank q-quantile of sorted: the smallest value
// that at least q of the values do not exceed. ok is false when there are
// none.
func quantile(sorted []time.Duration, q float64) (d time.Duration, ok bool) {
	if len(sorted) == 0 {
		return 0, false
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)], true
}

// writeTable prints the rows (CPU as top shows it: 100% is one core
// busy), the accepted/rejected ratio of the closed
// loops' throughput (rows 0 and 2) and footer, which names the machine and
// the flags; then one line per load whose deliveries were not all answered
// as expected, and one per load that stopped at its count bound.
func writeTable(w io.Writer, rows []row, footer string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "load\tdeliveries/s\tp50\tp99\terrors\tferry CPU\tgenerator CPU\tferry log")
	for _, r := range rows {
		p50, _ := quantile(r.sample.lat, 0.50)
		p99, ok := quantile(r.sample.lat, 0.99)
		lat50, lat99 := "-", "-"
		if ok {
			lat50, lat99 = millis(p50), millis(p99)
		}
		name := r.name
		if r.sample.bounded {
			name += " *"
		}
		ferryCPU, selfCPU := "-", "-"
		if r.measured && r.used.cpu {
			ferryCPU, selfCPU = share(r.used.ferryCPU, r.sample.elapsed), share(r.used.selfCPU, r.sample.elapsed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, thousands(int64(math.Round(r.rate))), lat50, lat99,
			thousands(int64(r.sample.sent-len(r.sample.lat))), ferryCPU, selfCPU, logged(r))
	}
	if len(rows) >= 3 && rows[2].rate > 0 {
		fmt.Fprintf(tw, "accepted/rejected throughput\t%.2f\n", rows[0].rate/rows[2].rate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, footer)
	for _, r := range rows {
		if len(r.sample.failed) > 0 {
			fmt.Fprintf(w, "errors in %s: %s\n", r.name, failedText(r.sample))
		}
		if r.sample.bounded {
			fmt.Fprintf(w, "* %s stopped at its count bound (%s) before its duration\n", r.name, thousands(int64(r.sample.sent)))
		}
	}
	return nil
}

// failedText lists what the failed deliveries got, most common first, and
// the first error of those that got no answer.
func failedText(s sample) string {
	kinds := make([]string, 0, len(s.failed))
	for k := range s.failed {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int {
		if s.failed[a] != s.failed[b] {
			return s.failed[b] - s.failed[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s × %s", k, thousands(int64(s.failed[k])))
	}
	text := strings.Join(parts, ", ")
	if len(s.errs) > 0 {
		text += " (first: " + s.errs[0].Error() + ")"
	}
	return text
}

// millis shows a latency in milliseconds: two decimals below 10 ms, one
// above, seconds from 1 s.
func millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 1000:
		return fmt.Sprintf("%.2fs", ms/1000)
	case ms >= 10:
		return fmt.Sprintf("%.1fms", ms)
	default:
		return fmt.Sprintf("%.2fms", ms)
	}
}

// thousands writes n with a comma every three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// logged shows what ferry logged during a load.
func logged(r row) string {
	if !r.measured {
		return "-"
	}
	unit := "lines"
	if r.used.logLines == 1 {
		unit = "line"
	}
	return fmt.Sprintf("%s %s, %s", thousands(r.used.logLines), unit, size(r.used.logBytes))
}

// share shows CPU time used over elapsed as top does: 100% is one core.
func share(cpu, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*cpu.Seconds()/elapsed.Seconds())
}

// size shows a byte count in B, kB or MB (powers of 1000).
func size(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1_000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%d B", n)
	}
}
