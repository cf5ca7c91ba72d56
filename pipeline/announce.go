package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// announceWithin is how old news may be and still be announced: a window
// that closed, or a lock that expired, while ferry was down longer than
// this goes unsaid.
const announceWithin = 24 * time.Hour

// announce owes a's notices to the subscribers that announce, once per
// a.Key. The store keeps the keys across restarts; the engine remembers
// those it recorded, so that a window that stays open costs the sweep no
// write.
func (e *Engine) announce(ctx context.Context, a Announcement) {
	if _, done := e.announced.Load(a.Key); done {
		return
	}
	if _, err := e.store.Announce(ctx, a, e.subs.Announce(a)); err != nil {
		e.log.Error("announce", "project", a.Project, "key", a.Key, "err", err)
		return
	}
	e.announced.Store(a.Key, true)
}

// announceChanges tells each project's chat when a freeze window over its
// environments opens and closes, and when a lock on one expires.
func (e *Engine) announceChanges(ctx context.Context, c *configuration, now time.Time) {
	for i := range c.freezes {
		f := &c.freezes[i]
		for _, name := range c.order {
			var envs []string
			for _, env := range c.projects[name].Envs {
				if f.Covers(name, env.Name) {
					envs = append(envs, env.Name)
				}
			}
			if len(envs) == 0 {
				continue
			}
			where := name + " " + strings.Join(envs, ", ")
			why := ""
			if f.Reason != "" {
				why = " (" + f.Reason + ")"
			}
			if w, open := f.At(now); open {
				e.announce(ctx, Announcement{Key: fmt.Sprintf("freeze %s %d %s open", f.Name, w.Start.Unix(), name), Project: name,
					Text: fmt.Sprintf("Freeze %s%s: %s frozen until %s. Deploys and promotions into it are refused; an admin may force.", f.Name, why, where, w.End.In(locOf(f)).Format("Mon 2 Jan 2006 15:04 MST"))})
			}
			if w, ok := f.ended(now, announceWithin); ok {
				e.announce(ctx, Announcement{Key: fmt.Sprintf("freeze %s %d %s closed", f.Name, w.Start.Unix(), name), Project: name,
					Text: fmt.Sprintf("Freeze %s is over: %s takes deploys again.", f.Name, where)})
			}
		}
	}
	locks, err := e.store.Locks(ctx)
	if err != nil {
		e.log.Error("announce: locks", "err", err)
		return
	}
	for _, l := range locks {
		if l.Expires.IsZero() || l.Expires.After(now) || now.Sub(l.Expires) >= announceWithin {
			continue
		}
		for _, name := range c.order {
			if l.Project != "*" && l.Project != name {
				continue
			}
			if _, ok := c.projects[name].Env(l.Env); !ok {
				continue
			}
			e.announce(ctx, Announcement{Key: fmt.Sprintf("lock %s %s %d expired %s", l.Project, l.Env, l.Expires.UnixNano(), name), Project: name, Env: l.Env,
				Text: fmt.Sprintf("The lock of %s by %s expired at %s: %s takes deploys again.", l.Scope(), l.Owner, l.Expires.UTC().Format("Mon 2 Jan 2006 15:04 MST"), l.Env)})
		}
	}
}

// ended returns the window that closed at most within before now, if one
// did.
func (f *Freeze) ended(now time.Time, within time.Duration) (Window, bool) {
	if f.Starts == nil {
		return Window{f, f.From, f.Until}, !f.Until.After(now) && now.Sub(f.Until) < within
	}
	var last Window
	found := false
	for s := f.Starts.Next(now.Add(-within - f.Duration - 2*time.Hour)); !s.IsZero() && !s.After(now); s = f.Starts.Next(s) {
		if end := f.end(s); !end.After(now) && now.Sub(end) < within {
			last, found = Window{f, s, end}, true
		}
	}
	return last, found
}
