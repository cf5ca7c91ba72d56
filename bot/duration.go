package bot

import (
	"math"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

// ParseDuration reads a positive duration as people write it for a lock:
// a Go duration ("90m", "2h30m") optionally led by days ("1d", "1.5d",
// "2d12h").
func ParseDuration(s string) (time.Duration, bool) {
	var total time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n := s[:i]
		if !isDecimal(n) {
			return 0, false
		}
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days*float64(day) >= math.MaxInt64 {
			return 0, false
		}
		total, rest = time.Duration(days*float64(day)), s[i+1:]
	}
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, false
		}
		d, err := time.ParseDuration(rest)
		if err != nil || d > math.MaxInt64-total {
			return 0, false
		}
		total += d
	}
	if total <= 0 {
		return 0, false
	}
	return total, true
}

// isDecimal reports whether s is digits with at most one decimal point.
func isDecimal(s string) bool {
	digits, points := 0, 0
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			points++
		default:
			return false
		}
	}
	return digits > 0 && points <= 1
}

// formatDuration renders d so that ParseDuration reads it back exactly:
// whole days first, then the rest as Go writes it without zero units
// ("1d2h", "36h" as "1d12h", "90m" as "1h30m").
func formatDuration(d time.Duration) string {
	var s string
	if days := d / day; days > 0 {
		s = strconv.FormatInt(int64(days), 10) + "d"
	}
	if rem := d % day; rem > 0 || s == "" {
		s += trimZeroUnits(rem.String())
	}
	return s
}

// trimZeroUnits drops trailing zero minutes and seconds: "2h0m0s" → "2h".
func trimZeroUnits(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
