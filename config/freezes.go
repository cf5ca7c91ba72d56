package config

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

var freezeKeys = []string{"name", "envs", "from", "until", "schedule", "duration", "timezone", "reason", "rollbacks"}

// freezeEnv is one entry of a freeze's envs, checked once every project
// is known.
type freezeEnv struct {
	freeze string
	t      text
}

// freezes decodes the freezes: section: each window fixed (from, until)
// or scheduled (a cron start in its time zone, and a duration).
func (d *decoder) freezes(f field) []pipeline.Freeze {
	var out []pipeline.Freeze
	seen := map[string]int{}
	for i, item := range d.list(f.val, "freezes") {
		what := "freeze " + strconv.Itoa(i+1) + " of freezes"
		n := resolve(item)
		if n.Kind != yaml.MappingNode {
			d.addf(n.Line, "%s must be a mapping with name:, envs: and from:/until: or schedule:/duration:, not %s", what, describe(n))
			continue
		}
		fs := d.fields(item, what, freezeKeys...)
		name := strings.TrimSpace(d.str(fs["name"].val, "name of "+what))
		if name == "" {
			d.addf(n.Line, "%s has no name: add name:, e.g. name: year-end; refusals and the board show it", what)
			continue
		}
		what = "freeze " + name
		if first, dup := seen[name]; dup {
			d.addf(fs["name"].line, "%s has the name of the freeze at line %d; give each freeze its own name", what, first)
			continue
		}
		seen[name] = fs["name"].line
		fr := pipeline.Freeze{Name: name, Reason: strings.TrimSpace(d.str(fs["reason"].val, "reason of "+what))}
		for _, t := range d.texts(fs["envs"].val, "envs of "+what) {
			fr.Envs = append(fr.Envs, t.s)
			d.notes.freezeEnvs = append(d.notes.freezeEnvs, freezeEnv{freeze: name, t: t})
		}
		if len(fr.Envs) == 0 {
			d.addf(n.Line, `%s has no envs: add envs: with the environments it freezes, e.g. [prod], ["*/prod"] or ["*"]`, what)
		}
		fr.Loc = d.location(fs["timezone"].val, "timezone of "+what, time.UTC)
		if r := fs["rollbacks"]; r.line != 0 && !isNull(r.val) {
			fr.NoRollbacks = !d.boolean(r.val, "rollbacks of "+what)
		}
		fixed := fs["from"].line != 0 || fs["until"].line != 0
		scheduled := fs["schedule"].line != 0 || fs["duration"].line != 0
		switch {
		case fixed && scheduled:
			d.addf(n.Line, "%s has both from/until and schedule/duration: a window is fixed or repeats, keep one pair", what)
			continue
		case fixed:
			fr.From = d.instant(fs["from"], "from of "+what, fr.Loc)
			fr.Until = d.instant(fs["until"], "until of "+what, fr.Loc)
			if !fr.From.IsZero() && !fr.Until.IsZero() && !fr.Until.After(fr.From) {
				d.addf(fs["until"].line, "until of %s is not after its from", what)
			}
		case scheduled:
			cron := d.str(fs["schedule"].val, "schedule of "+what)
			fr.Duration = d.duration(fs["duration"].val, "duration of "+what)
			if cron == "" {
				d.addf(n.Line, `%s has a duration but no schedule: add schedule:, a cron expression of when it starts, e.g. "0 18 * * 5"`, what)
			} else if s, err := dashboards.ParseSchedule(cron, fr.Loc); err != nil {
				d.addf(fs["schedule"].line, "schedule of %s: %s", what, err)
			} else {
				fr.Starts = s
			}
			if fr.Duration <= 0 && fs["duration"].line == 0 {
				d.addf(n.Line, "%s has a schedule but no duration: add duration:, how long each window lasts, e.g. 62h", what)
			}
		default:
			d.addf(n.Line, `%s has no window: give from: and until: (e.g. "2026-12-20T00:00:00+01:00"), or schedule: and duration:`, what)
			continue
		}
		out = append(out, fr)
	}
	return out
}

// instant decodes a date and time: RFC 3339, or "2026-12-20 18:00" and
// "2026-12-20" read in loc.
func (d *decoder) instant(f field, what string, loc *time.Location) time.Time {
	t, ok := d.scalar(f.val, what)
	if !ok || t.s == "" {
		if f.line != 0 || ok {
			d.addf(f.line, `%s is missing: give a date and time like "2026-12-20T00:00:00+01:00"`, what)
		}
		return time.Time{}
	}
	if v, err := time.Parse(time.RFC3339, t.s); err == nil {
		return v
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if v, err := time.ParseInLocation(layout, t.s, loc); err == nil {
			return v
		}
	}
	d.addf(t.line, `%s must be a date and time like "2026-12-20T00:00:00+01:00" or "2026-12-20 18:00" (in its timezone), not %s`, what, t.shown())
	return time.Time{}
}

// freezeNames checks that each environment a freeze names exists: an
// environment of some project, project/env, or a pattern that matches one.
func (d *decoder) freezeNames(cfg *Config) {
	var envs, pairs []string
	for _, p := range cfg.Projects {
		for _, e := range p.Envs {
			if !slices.Contains(envs, e.Name) {
				envs = append(envs, e.Name)
			}
			pairs = append(pairs, p.Name+"/"+e.Name)
		}
	}
	for _, fe := range d.notes.freezeEnvs {
		s := fe.t.s
		if s == "*" || !strings.Contains(s, "/") && slices.Contains(envs, s) {
			continue
		}
		if strings.Contains(s, "/") {
			if _, err := path.Match(s, ""); err != nil {
				d.addf(fe.t.line, "envs of freeze %s: %s is not a pattern; write project/env, */env or project/*", fe.freeze, fe.t.shown())
				continue
			}
			if slices.ContainsFunc(pairs, func(p string) bool { ok, _ := path.Match(s, p); return ok }) {
				continue
			}
			d.addf(fe.t.line, "envs of freeze %s names %s, which matches no environment of a project; write project/env, */env or project/*", fe.freeze, fe.t.shown())
			continue
		}
		d.missing(fe.t, "envs of freeze "+fe.freeze+" names environment "+fe.t.shown()+", which no project has", envs, "name an environment of a project")
	}
}
