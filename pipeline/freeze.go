package pipeline

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Freeze is a change freeze: while one of its windows is open, deploys and
// promotions into the environments it covers are refused (admins may
// force, audited), and so are rollbacks when it says so. A window is fixed
// (From until Until) or starts on a schedule and lasts Duration of wall
// clock time in Loc, so "Friday 18:00 for 62h" ends Monday 08:00 local
// time whether or not the clocks changed that weekend.
type Freeze struct {
	Name string
	// Envs are what it covers: an environment name ("prod"), one of a
	// project ("demo/prod"), patterns ("*/prod", "demo/*"), or "*".
	Envs   []string
	Reason string
	// From and Until bound a fixed window; both zero for a scheduled one.
	From, Until time.Time
	// Starts opens a window at each of its times; nil for a fixed window.
	Starts   Starts
	Duration time.Duration
	Loc      *time.Location // of Starts and Duration; nil: UTC
	// NoRollbacks refuses rollbacks too (rollbacks: false); otherwise a
	// rollback, which returns to something deployed before, is allowed.
	NoRollbacks bool
}

// Starts is a schedule: the first of its times after t. A cron expression
// in a time zone (dashboards.Schedule) is one.
type Starts interface {
	Next(t time.Time) time.Time
}

// Window is one window of a freeze.
type Window struct {
	Freeze     *Freeze
	Start, End time.Time
}

// Covers reports whether the freeze covers an environment of a project.
func (f Freeze) Covers(project, env string) bool {
	for _, p := range f.Envs {
		switch {
		case p == "*" || p == env:
			return true
		case path.Dir(p) != ".":
			if ok, _ := path.Match(p, project+"/"+env); ok {
				return true
			}
		}
	}
	return false
}

// At returns the window open at t, if one is.
func (f *Freeze) At(t time.Time) (Window, bool) {
	if f.Starts == nil {
		return Window{f, f.From, f.Until}, !t.Before(f.From) && t.Before(f.Until)
	}
	// A window open at t started at most Duration of wall clock before
	// it, which is at most an hour more than Duration across a change of
	// the clocks.
	for s := f.Starts.Next(t.Add(-f.Duration - 2*time.Hour)); !s.IsZero() && !s.After(t); s = f.Starts.Next(s) {
		if end := f.end(s); t.Before(end) {
			return Window{f, s, end}, true
		}
	}
	return Window{}, false
}

// Next returns the first window that opens after t; false when none will.
func (f *Freeze) Next(t time.Time) (Window, bool) {
	if f.Starts == nil {
		return Window{f, f.From, f.Until}, t.Before(f.From)
	}
	s := f.Starts.Next(t)
	return Window{f, s, f.end(s)}, !s.IsZero()
}

// end is when a window that starts at s ends: Duration later on the wall
// clock of Loc.
func (f *Freeze) end(s time.Time) time.Time {
	loc := f.Loc
	if loc == nil {
		loc = time.UTC
	}
	s = s.In(loc)
	d := f.Duration.Round(time.Second)
	return time.Date(s.Year(), s.Month(), s.Day(), s.Hour(), s.Minute(), s.Second()+int(d/time.Second), 0, loc)
}

// Frozen is the window that keeps a change out of an environment.
type Frozen struct {
	Window
	Env string // project/env
}

func (e *Frozen) Error() string {
	f := e.Freeze
	msg := fmt.Sprintf("%s is frozen by %s until %s", e.Env, f.Name, e.End.In(locOf(f)).Format("Mon 2 Jan 2006 15:04 MST"))
	if f.Reason != "" {
		msg += " (" + f.Reason + ")"
	}
	return msg + "; an admin may force it"
}

// Is makes a Frozen refusal an ErrForbidden one.
func (e *Frozen) Is(target error) bool { return target == ErrForbidden }

func locOf(f *Freeze) *time.Location {
	if f.Loc != nil {
		return f.Loc
	}
	return time.UTC
}

// FrozenAt returns the open window, among freezes, that covers an
// environment of a project at t; nil when none does. rollback says the
// change is a rollback, which only a freeze with NoRollbacks refuses.
func FrozenAt(freezes []Freeze, project, env string, t time.Time, rollback bool) *Frozen {
	for i := range freezes {
		f := &freezes[i]
		if !f.Covers(project, env) || rollback && !f.NoRollbacks {
			continue
		}
		if w, open := f.At(t); open {
			return &Frozen{Window: w, Env: project + "/" + env}
		}
	}
	return nil
}

// checkFreeze refuses a change into a frozen environment, unless an admin
// forces it: that is allowed, and audited by the caller with the window.
func (c *configuration) checkFreeze(project, env string, now time.Time, rollback, force bool) (*Frozen, error) {
	fr := FrozenAt(c.freezes, project, env, now, rollback)
	if fr == nil || force {
		return fr, nil
	}
	return fr, fr
}

// Describe says what the freeze covers and its window open at now, or
// the next one: "year-end [prod]: open until Mon 4 Jan 2027 00:00 CET
// (year-end change freeze)".
func (f *Freeze) Describe(now time.Time) string {
	at := func(t time.Time) string { return t.In(locOf(f)).Format("Mon 2 Jan 2006 15:04 MST") }
	state := "no window to come"
	if w, open := f.At(now); open {
		state = "open until " + at(w.End)
	} else if w, ok := f.Next(now); ok {
		state = "next " + at(w.Start) + " until " + at(w.End)
	}
	line := fmt.Sprintf("%s [%s]: %s", f.Name, strings.Join(f.Envs, ", "), state)
	if f.Reason != "" {
		line += " (" + f.Reason + ")"
	}
	if f.NoRollbacks {
		line += "; rollbacks refused too"
	}
	return line
}

// Freezes are the configured freezes that cover an environment of the
// named project, or of any project when project is "".
func (e *Engine) Freezes(project string) []Freeze {
	c := e.config()
	var out []Freeze
	for _, f := range c.freezes {
		for _, name := range c.order {
			if project != "" && name != project {
				continue
			}
			if slices.ContainsFunc(c.projects[name].Envs, func(env Environment) bool { return f.Covers(name, env.Name) }) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// Now is the engine's time, for views that say how long until something.
func (e *Engine) Now() time.Time { return e.clock.Now() }
