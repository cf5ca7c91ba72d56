package web

import (
	"fmt"
	"sort"
	"strings"
)

// svgStart opens an SVG chart with its accessible title.
func svgStart(title string) *strings.Builder {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title>`, chartW, chartH,
		escapeAttr(title), escapeAttr(title))
	return &b
}

// axis draws the horizontal grid lines of a chart and their values, about
// four of them from 0 to top.
func axis(b *strings.Builder, top int, y func(int) float64) {
	step := max(1, (top+3)/4)
	for v := 0; v <= top; v += step {
		fmt.Fprintf(b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="label" x="%d" y="%.1f" text-anchor="end">%d</text>`,
			padL, chartW, y(v), y(v), padL-6, y(v)+4, v)
	}
}

func escapeAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

func join(points []string) string { return strings.Join(points, " ") }

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
