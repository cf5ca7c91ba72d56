package dashboards

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// ScopeKind says what a scope selects deploys by.
type ScopeKind string

// The kinds of scope.
const (
	ScopeAll     ScopeKind = "all"
	ScopeTeam    ScopeKind = "team"    // deploys requested by the team's members
	ScopeProject ScopeKind = "project" // deploys of one project, to any environment
	ScopeEnv     ScopeKind = "env"     // deploys to an environment of that name, in any project
	ScopePerson  ScopeKind = "person"  // deploys one person requested
)

var scopeKinds = []ScopeKind{ScopeAll, ScopeTeam, ScopeProject, ScopeEnv, ScopePerson}

// Scope is what a metric or a digest covers.
type Scope struct {
	Kind ScopeKind
	Name string // "" for ScopeAll
}

// All is the scope of every deploy.
var All = Scope{Kind: ScopeAll}

// String writes the scope as ParseScope reads it: all, or kind:name.
func (s Scope) String() string {
	if s.Kind == ScopeAll || s.Kind == "" {
		return string(ScopeAll)
	}
	return string(s.Kind) + ":" + s.Name
}

// Describe names the scope in a sentence: "every project", "team payments".
func (s Scope) Describe() string {
	switch s.Kind {
	case ScopeAll, "":
		return "every project"
	case ScopeEnv:
		return "environment " + s.Name
	}
	return string(s.Kind) + " " + s.Name
}

// Directory is who and what ferry knows, for reading scopes and grouping
// deploys by team. cmd/ferry fills it from the configuration.
type Directory struct {
	Projects []string
	Envs     []string            // every environment name of any project
	Teams    map[string][]string // team → its members
	Users    []string
}

// Scopes is every scope the directory knows: all, then each team,
// project, environment and person.
func (dir Directory) Scopes() []Scope {
	out := []Scope{All}
	for _, t := range slices.Sorted(maps.Keys(dir.Teams)) {
		out = append(out, Scope{Kind: ScopeTeam, Name: t})
	}
	for _, kind := range []struct {
		kind  ScopeKind
		names []string
	}{{ScopeProject, dir.Projects}, {ScopeEnv, dir.Envs}, {ScopePerson, dir.Users}} {
		for _, n := range kind.names {
			out = append(out, Scope{Kind: kind.kind, Name: n})
		}
	}
	return out
}

// TeamsOf returns the teams a person is in, sorted.
func (d Directory) TeamsOf(person string) []string {
	var ts []string
	for t, members := range d.Teams {
		if slices.Contains(members, person) {
			ts = append(ts, t)
		}
	}
	sort.Strings(ts)
	return ts
}

// ParseScope reads a scope as people write it: "" or "all"; kind:name with
// kind one of team, project, env, person; or a bare name, which must name
// exactly one project, team, environment or person that d knows. The error
// says what is wrong and what would be right.
func (d Directory) ParseScope(s string) (Scope, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, string(ScopeAll)) {
		return All, nil
	}
	kind, name, explicit := strings.Cut(s, ":")
	if explicit {
		k := ScopeKind(strings.ToLower(kind))
		if k == "environment" {
			k = ScopeEnv
		}
		if !slices.Contains(scopeKinds[1:], k) || name == "" {
			return Scope{}, fmt.Errorf("scope %q: write all, team:<name>, project:<name>, env:<name> or person:<name>", s)
		}
		sc := Scope{Kind: k, Name: name}
		if !slices.Contains(d.names(k), name) {
			return Scope{}, fmt.Errorf("scope %q: no %s is called %q; %ss: %s", s, d.noun(k), name, d.noun(k), list(d.names(k)))
		}
		return sc, nil
	}
	var found []Scope
	for _, k := range scopeKinds[1:] {
		if slices.Contains(d.names(k), s) {
			found = append(found, Scope{Kind: k, Name: s})
		}
	}
	switch len(found) {
	case 0:
		return Scope{}, fmt.Errorf("scope %q: no project, team, environment or person is called that; write all, team:<name>, project:<name>, env:<name> or person:<name>", s)
	case 1:
		return found[0], nil
	}
	var alts []string
	for _, f := range found {
		alts = append(alts, f.String())
	}
	return Scope{}, fmt.Errorf("scope %q names more than one thing; say which: %s", s, strings.Join(alts, " or "))
}

func (d Directory) names(k ScopeKind) []string {
	switch k {
	case ScopeTeam:
		ts := make([]string, 0, len(d.Teams))
		for t := range d.Teams {
			ts = append(ts, t)
		}
		sort.Strings(ts)
		return ts
	case ScopeProject:
		return d.Projects
	case ScopeEnv:
		return d.Envs
	case ScopePerson:
		return d.Users
	}
	return nil
}

func (d Directory) noun(k ScopeKind) string {
	switch k {
	case ScopeEnv:
		return "environment"
	case ScopePerson:
		return "person"
	}
	return string(k)
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// matcher returns whether a deploy belongs to the scope.
func (d Directory) matcher(s Scope) func(Fact) bool {
	switch s.Kind {
	case ScopeTeam:
		members := d.Teams[s.Name]
		return func(f Fact) bool { return slices.Contains(members, f.Requester) }
	case ScopeProject:
		return func(f Fact) bool { return f.Project == s.Name }
	case ScopeEnv:
		return func(f Fact) bool { return f.Env == s.Name }
	case ScopePerson:
		return func(f Fact) bool { return f.Requester == s.Name }
	}
	return func(Fact) bool { return true }
}
