package config

import (
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Live is the configuration a running ferry uses now: a reload stores a
// new one, and every method reads the one loaded at its call. It is what
// the adapters ask who people are and which projects there are, so that
// they follow a reload.
type Live struct {
	cur atomic.Pointer[Config]
}

// NewLive returns a Live holding cfg.
func NewLive(cfg *Config) *Live {
	l := &Live{}
	l.cur.Store(cfg)
	return l
}

// Config is the configuration loaded now. It is never changed: a reload
// stores another.
func (l *Live) Config() *Config { return l.cur.Load() }

// Store makes cfg the configuration loaded now.
func (l *Live) Store(cfg *Config) { l.cur.Store(cfg) }

// Projects lists the projects loaded now, in file order.
func (l *Live) Projects() []pipeline.Project { return l.Config().Projects }

// DingTalkGroup is the dingtalk_group of a project; "" when it has none.
func (l *Live) DingTalkGroup(project string) string { return l.Config().DingTalk.Groups[project] }

// User is Config.User of the configuration loaded now.
func (l *Live) User(name string) (pipeline.User, bool) { return l.Config().User(name) }

// Team is Config.Team of the configuration loaded now.
func (l *Live) Team(name string) (pipeline.Team, bool) { return l.Config().Team(name) }

// UserByToken is Config.UserByToken of the configuration loaded now.
func (l *Live) UserByToken(token string) (pipeline.User, bool) { return l.Config().UserByToken(token) }

// UserByChat is Config.UserByChat of the configuration loaded now.
func (l *Live) UserByChat(platform, id string) (pipeline.User, bool) {
	return l.Config().UserByChat(platform, id)
}

// UserByForge is Config.UserByForge of the configuration loaded now.
func (l *Live) UserByForge(platform, login string) (pipeline.User, bool) {
	return l.Config().UserByForge(platform, login)
}

// UserByOIDC is Config.UserByOIDC of the configuration loaded now.
func (l *Live) UserByOIDC(value string) (pipeline.User, bool) { return l.Config().UserByOIDC(value) }

// Contact is Config.Contact of the configuration loaded now.
func (l *Live) Contact() string { return l.Config().Contact() }

// Actor is Config.Actor of the configuration loaded now.
func (l *Live) Actor(name string) pipeline.Actor { return l.Config().Actor(name) }

// reloadable are the fields of Config a running ferry takes from a
// reloaded file. Every other one (and every field added later) is read
// once at start: a reload keeps it, and names it when the file changes it.
var reloadable = map[string]bool{"Users": true, "Teams": true, "Projects": true, "Freezes": true}

// Reload returns next as a running ferry takes it: next's users, teams,
// projects (with their dingtalk_group and target lines) and freezes, and
// every other setting as c has it, since those take effect only at the
// next restart; and the keys of ferry.yaml whose settings next changes
// that way, in the order Config has them.
func (c *Config) Reload(next *Config) (*Config, []string) {
	merged := *c
	merged.Users, merged.Teams, merged.Projects, merged.Freezes = next.Users, next.Teams, next.Projects, next.Freezes
	merged.targetLines = next.targetLines
	merged.DingTalk.Groups = next.DingTalk.Groups
	// The groups come from the projects, so they are not the dingtalk:
	// section's to compare.
	was, is := *c, *next
	was.DingTalk.Groups, is.DingTalk.Groups = nil, nil
	var changed []string
	a, b := reflect.ValueOf(was), reflect.ValueOf(is)
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if !f.IsExported() || reloadable[f.Name] || same(a.Field(i), b.Field(i)) {
			continue
		}
		if k := settingKey(f.Name); !contains(changed, k) {
			changed = append(changed, k)
		}
	}
	return &merged, changed
}

// Diff says what next changes of what a reload takes from it: the users,
// teams, projects and freezes added (+), removed (-) and changed (~), by
// name, like "users +carol -dave; projects ~demo"; "" when it changes
// none. It names no secret: a user whose token changed is ~ only.
func (c *Config) Diff(next *Config) string {
	var parts []string
	for _, d := range []string{
		diffNamed("users", c.Users, next.Users, func(u pipeline.User) string { return u.Name }),
		diffNamed("teams", c.Teams, next.Teams, func(t pipeline.Team) string { return t.Name }),
		diffNamed("projects", c.Projects, next.Projects, func(p pipeline.Project) string { return p.Name }),
		diffNamed("freezes", c.Freezes, next.Freezes, func(f pipeline.Freeze) string { return f.Name }),
	} {
		if d != "" {
			parts = append(parts, d)
		}
	}
	return strings.Join(parts, "; ")
}

// diffNamed says which of was and is, named by name, is says are added,
// removed and changed: "users +carol -dave ~alice"; "" for none.
func diffNamed[T any](kind string, was, is []T, name func(T) string) string {
	before := map[string]T{}
	for _, x := range was {
		before[name(x)] = x
	}
	var added, changed, removed []string
	for _, x := range is {
		n := name(x)
		old, ok := before[n]
		switch {
		case !ok:
			added = append(added, "+"+n)
		case !same(reflect.ValueOf(old), reflect.ValueOf(x)):
			changed = append(changed, "~"+n)
		}
		delete(before, n)
	}
	for _, x := range was {
		if _, gone := before[name(x)]; gone {
			removed = append(removed, "-"+name(x))
		}
	}
	all := append(append(added, removed...), changed...)
	if len(all) == 0 {
		return ""
	}
	return kind + " " + strings.Join(all, " ")
}

// settingKey is where a field of Config is set in ferry.yaml.
func settingKey(field string) string {
	if k, ok := map[string]string{
		"Dir": "the configuration's directory", "BaseURL": "base_url", "SessionSecret": "session_secret",
		"Retention": "storage", "Lease": "storage", "GiveUp": "outbox",
	}[field]; ok {
		return k
	}
	return strings.ToLower(field)
}

var locationType = reflect.TypeFor[*time.Location]()

// same reports whether two values of one setting are alike, as
// reflect.DeepEqual would, except that time zones compare by name: two
// loads of one zone differ in what they cached.
func same(a, b reflect.Value) bool {
	if a.Type() == locationType { // read through its pointer: it may be in an unexported field
		return a.IsNil() == b.IsNil() && (a.IsNil() || (*time.Location)(a.UnsafePointer()).String() == (*time.Location)(b.UnsafePointer()).String())
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		if a.Kind() == reflect.Interface && a.Elem().Type() != b.Elem().Type() {
			return false
		}
		return same(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !same(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !same(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if v := b.MapIndex(k); !v.IsValid() || !same(a.MapIndex(k), v) {
				return false
			}
		}
		return true
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return a.IsNil() && b.IsNil() || a.Pointer() == b.Pointer()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.Complex64, reflect.Complex128:
		return a.Complex() == b.Complex()
	}
	return false
}
