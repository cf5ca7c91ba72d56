package config

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

var promotionKeys = []string{"from", "to", "when", "soak", "schedule", "timezone"}

// promotions decodes a project's promotions: each moves what succeeded in
// from to to, when healthy after a soak or on a schedule. They are checked
// against the project's environments: both must exist, the rules of to
// must take what from deploys, and no environment promotes back into
// itself.
func (d *decoder) promotions(f field, p pipeline.Project) []pipeline.Promotion {
	var out []pipeline.Promotion
	var lines []int
	for i, item := range d.list(f.val, "promotions of project "+p.Name) {
		what := "promotion " + strconv.Itoa(i+1) + " of project " + p.Name
		n := resolve(item)
		if n.Kind != yaml.MappingNode {
			d.addf(n.Line, "%s must be a mapping with from:, to: and when: healthy or schedule:, not %s", what, describe(n))
			continue
		}
		fs := d.fields(item, what, promotionKeys...)
		r := pipeline.Promotion{From: strings.TrimSpace(d.str(fs["from"].val, "from of "+what)), To: strings.TrimSpace(d.str(fs["to"].val, "to of "+what))}
		ok := true
		for _, side := range []struct{ key, env string }{{"from", r.From}, {"to", r.To}} {
			if side.env == "" {
				d.addf(n.Line, "%s has no %s: name an environment of the project", what, side.key)
				ok = false
				continue
			}
			if _, found := p.Env(side.env); !found {
				d.missing(text{s: side.env, raw: side.env, line: fs[side.key].line}, side.key+" of "+what+" names "+strconv.Quote(side.env)+", which project "+p.Name+" has no environment of", envNames(p), "name one of its environments")
				ok = false
			}
		}
		if ok && r.From == r.To {
			d.addf(fs["to"].line, "%s promotes %s into itself; name the next environment in to", what, r.From)
			ok = false
		}
		when := strings.TrimSpace(d.str(fs["when"].val, "when of "+what))
		cron := strings.TrimSpace(d.str(fs["schedule"].val, "schedule of "+what))
		loc := d.location(fs["timezone"].val, "timezone of "+what, time.UTC)
		switch {
		case when != "" && cron != "":
			d.addf(n.Line, "%s has both when and schedule: it promotes when healthy or on a schedule, keep one", what)
			ok = false
		case when == "" && cron == "":
			d.addf(n.Line, `%s says neither when: healthy (with soak:) nor schedule: (a cron expression, e.g. "0 14 * * 1-5"); add one`, what)
			ok = false
		case when != "":
			if when != "healthy" {
				d.addf(fs["when"].line, "when of %s must be healthy, not %q; for times, use schedule: instead", what, when)
				ok = false
			}
			if r.Soak = d.duration(fs["soak"].val, "soak of "+what); fs["soak"].line == 0 {
				d.addf(n.Line, "%s has when: healthy but no soak: how long the version must run healthy in %s first, e.g. soak: 30m", what, r.From)
				ok = false
			}
		default:
			if fs["soak"].line != 0 {
				d.addf(fs["soak"].line, "soak of %s is for when: healthy; a scheduled promotion takes the newest version healthy in %s at its times", what, r.From)
			}
			s, err := dashboards.ParseSchedule(cron, loc)
			if err != nil {
				d.addf(fs["schedule"].line, "schedule of %s: %s", what, err)
				ok = false
			}
			r.Schedule = s
		}
		if ok {
			if why := neverTakes(p, r.From, r.To); why != "" {
				d.addf(n.Line, "%s can never deploy: %s", what, why)
				continue
			}
			out = append(out, r)
			lines = append(lines, n.Line)
		}
	}
	d.promotionCycles(p, out, lines)
	return out
}

// neverTakes says why the rules of to would refuse everything from
// deploys: from deploys only branches and to takes only tags, or the
// reverse; "" when some ref could pass both. An environment without rules
// takes whatever it is asked to deploy, which is how the environments a
// version is promoted into are usually configured: a ref matches the
// rules of one environment of a project only.
func neverTakes(p pipeline.Project, from, to string) string {
	a, _ := p.Env(from)
	b, _ := p.Env(to)
	if len(a.Branches)+len(a.Tags) == 0 {
		return "" // from takes any ref it is asked for
	}
	switch {
	case len(a.Tags) == 0 && len(b.Branches) == 0 && len(b.Tags) > 0:
		return from + " deploys branches and " + to + " takes only tags; add branches: to " + to + " or tags: to " + from
	case len(a.Branches) == 0 && len(a.Tags) > 0 && len(b.Tags) == 0 && len(b.Branches) > 0:
		return from + " deploys tags and " + to + " takes only branches; add tags: to " + to
	}
	return ""
}

// promotionCycles refuses promotions that lead back to where they start:
// a version would promote forever.
func (d *decoder) promotionCycles(p pipeline.Project, rules []pipeline.Promotion, lines []int) {
	next := map[string][]string{}
	for _, r := range rules {
		next[r.From] = append(next[r.From], r.To)
	}
	for i, r := range rules {
		seen := map[string]bool{}
		path := []string{r.From, r.To}
		var walk func(env string) bool
		walk = func(env string) bool {
			if env == r.From {
				return true
			}
			if seen[env] {
				return false
			}
			seen[env] = true
			for _, n := range next[env] {
				path = append(path, n)
				if walk(n) {
					return true
				}
				path = path[:len(path)-1]
			}
			return false
		}
		if walk(r.To) {
			d.addf(lines[i], "promotions of project %s go round in a circle: %s; a version would promote forever, remove one", p.Name, strings.Join(path, " → "))
			return
		}
	}
}

func envNames(p pipeline.Project) []string {
	var names []string
	for _, e := range p.Envs {
		names = append(names, e.Name)
	}
	return slices.Clip(names)
}
