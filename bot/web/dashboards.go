package web

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"net/url"

	"github.com/ferrybot/ferry/dashboards"
)

// periodChoices are the periods the dashboard pages offer; any other is
// typed into the address: 14d, or 2026-11-02..2026-11-09.
var periodChoices = []string{"7d", "30d", "90d"}

// scopeOption is one choice of the scope selector.
type scopeOption struct {
	Value, Label string
}

// dashView is what the metrics and leaderboard pages show.
type dashView struct {
	Scope, Period string // as given, for the selectors
	Scopes        []scopeOption
	Periods       []string
	Digest        *dashboards.Digest
	Rows          []dashboards.Row
	Deploys       template.HTML // the SVG of deploys per day
	Lead          template.HTML // the SVG of lead time per day
	Error         string
}

// dashRequest reads the scope and period of a dashboard page and builds
// the digest they name; a bad scope or period is shown on the page.
func (s *Server) dashRequest(r *http.Request) (dashView, int) {
	q := r.URL.Query()
	v := dashView{Scope: cmp.Or(q.Get("scope"), "all"), Period: cmp.Or(q.Get("period"), "7d"), Periods: periodChoices}
	dir := s.dash.Directory()
	v.Scopes = append(v.Scopes, scopeOption{"all", "every project"})
	add := func(kind dashboards.ScopeKind, names []string) {
		for _, n := range names {
			sc := dashboards.Scope{Kind: kind, Name: n}
			v.Scopes = append(v.Scopes, scopeOption{sc.String(), sc.Describe()})
		}
	}
	add(dashboards.ScopeProject, dir.Projects)
	add(dashboards.ScopeEnv, dir.Envs)
	var teams []string
	for t := range dir.Teams {
		teams = append(teams, t)
	}
	add(dashboards.ScopeTeam, sortedCopy(teams))
	add(dashboards.ScopePerson, dir.Users)
	scope, err := s.dash.ParseScope(v.Scope)
	if err != nil {
		v.Error = err.Error()
		return v, http.StatusBadRequest
	}
	p, err := dashboards.ParsePeriod(v.Period, s.dash.Now(), s.dash.Location())
	if err != nil {
		v.Error = err.Error()
		return v, http.StatusBadRequest
	}
	g, err := s.dash.Digest(r.Context(), scope, p)
	if err != nil {
		msg, st := s.explain(r.Context(), err, "scope", v.Scope)
		v.Error = msg
		return v, st
	}
	v.Digest, v.Rows = &g, g.Report.Rows()
	v.Deploys, v.Lead = deploysSVG(g.Days), leadSVG(g.Days)
	return v, http.StatusOK
}

func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	view, st := s.dashRequest(r)
	s.renderPage(w, r, st, "dashboard", pageData{Title: "Metrics", Nav: "dashboard", Viewer: v}, view)
}

func (s *Server) leaderboardsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	view, st := s.dashRequest(r)
	s.renderPage(w, r, st, "leaderboards", pageData{Title: "Leaderboards", Nav: "leaderboards", Viewer: v}, view)
}

// dashLink is the address of a dashboard page with the same scope and
// period and one of them changed.
func dashLink(path, scope, period string) string {
	return path + "?" + url.Values{"scope": {scope}, "period": {period}}.Encode()
}

// tones of the outcomes in the charts, as the CSS names them.
var outcomes = []struct {
	class, label string
	count        func(dashboards.Day) int
}{
	{"ok", "succeeded", func(d dashboards.Day) int { return d.Succeeded }},
	{"fail", "failed", func(d dashboards.Day) int { return d.Failed }},
	{"back", "rolled back", func(d dashboards.Day) int { return d.RolledBack }},
	{"other", "cancelled or running", func(d dashboards.Day) int { return d.Cancelled + d.InProgress }},
}

// Size of the SVG charts, in their own units; CSS scales them to the page.
const (
	chartW, chartH = 720, 220
	padL, padB     = 40, 28
)

func dayLabel(days []dashboards.Day, i int) string {
	if len(days) <= 14 {
		return days[i].Date.Format("Mon 2")
	}
	return days[i].Date.Format("Jan 2")
}

// labelEvery is how many days apart the axis labels are, so they do not
// overlap.
func labelEvery(n int) int { return max(1, (n+13)/14) }

// deploysSVG draws deploys per day stacked by outcome, with a title per
// bar that says the numbers.
func deploysSVG(days []dashboards.Day) template.HTML {
	if len(days) == 0 {
		return ""
	}
	top := 1
	for _, d := range days {
		top = max(top, d.Total())
	}
	slot := float64(chartW-padL) / float64(len(days))
	scale := float64(chartH-padB-10) / float64(top)
	b := svgStart("Deploys per day, by outcome")
	axis(b, top, func(v int) float64 { return float64(chartH-padB) - float64(v)*scale })
	for i, d := range days {
		x := float64(padL) + float64(i)*slot + slot*0.15
		y := float64(chartH - padB)
		fmt.Fprintf(b, `<g class="bar"><title>%s: %d succeeded, %d failed, %d rolled back, %d cancelled or running</title>`,
			d.Date.Format("Mon 2 Jan"), d.Succeeded, d.Failed, d.RolledBack, d.Cancelled+d.InProgress)
		for _, o := range outcomes {
			n := o.count(d)
			if n == 0 {
				continue
			}
			h := float64(n) * scale
			y -= h
			fmt.Fprintf(b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, o.class, x, y, slot*0.7, h)
		}
		b.WriteString("</g>")
		if i%labelEvery(len(days)) == 0 {
			fmt.Fprintf(b, `<text class="label" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+slot*0.35, chartH-8, template.HTMLEscapeString(dayLabel(days, i)))
		}
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// leadSVG draws the median lead time of each day as a line with points;
// days without a production deploy leave a gap.
func leadSVG(days []dashboards.Day) template.HTML {
	if len(days) == 0 {
		return ""
	}
	top := 1.0
	for _, d := range days {
		if d.Leads > 0 {
			top = max(top, d.LeadTime.Hours())
		}
	}
	topH := int(top + 0.999)
	slot := float64(chartW-padL) / float64(len(days))
	y := func(h float64) float64 { return float64(chartH-padB) - h/float64(topH)*float64(chartH-padB-10) }
	b := svgStart("Lead time for changes, median per day, in hours")
	axis(b, topH, func(v int) float64 { return y(float64(v)) })
	var path []string
	for i, d := range days {
		x := float64(padL) + (float64(i)+0.5)*slot
		if d.Leads == 0 {
			if len(path) > 1 {
				fmt.Fprintf(b, `<polyline class="line" points="%s"/>`, join(path))
			}
			path = nil
		} else {
			path = append(path, fmt.Sprintf("%.1f,%.1f", x, y(d.LeadTime.Hours())))
			fmt.Fprintf(b, `<circle class="point" cx="%.1f" cy="%.1f" r="3.5"><title>%s: %s (median of %d)</title></circle>`,
				x, y(d.LeadTime.Hours()), d.Date.Format("Mon 2 Jan"), dashboards.FormatDuration(d.LeadTime), d.Leads)
		}
		if i%labelEvery(len(days)) == 0 {
			fmt.Fprintf(b, `<text class="label" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, chartH-8, template.HTMLEscapeString(dayLabel(days, i)))
		}
	}
	if len(path) > 1 {
		fmt.Fprintf(b, `<polyline class="line" points="%s"/>`, join(path))
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}
