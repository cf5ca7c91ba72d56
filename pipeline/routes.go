package pipeline

import (
	"fmt"
	"regexp"
	"strings"
)

// Route is where a pushed ref deploys, and why.
type Route struct {
	Env    Environment
	Rule   string // the regex that matched
	Why    string // a sentence a person reads
	Branch string
	Tag    string
}

// RefName splits a full ref (refs/heads/x, refs/tags/v1) into its kind and
// short name. A ref without a prefix is taken as a branch.
func RefName(ref string) (kind, name string) {
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		return "branch", strings.TrimPrefix(ref, "refs/heads/")
	case strings.HasPrefix(ref, "refs/tags/"):
		return "tag", strings.TrimPrefix(ref, "refs/tags/")
	}
	return "branch", ref
}

// RouteRef picks the environment of p that a full ref deploys to. It returns
// ErrNotFound, with the rules it tried, when no environment matches.
func RouteRef(p Project, ref string) (Route, error) {
	kind, name := RefName(ref)
	var tried []string
	for _, e := range p.Envs {
		rules := e.Branches
		if kind == "tag" {
			rules = e.Tags
		}
		for _, re := range rules {
			if re.MatchString(name) {
				return Route{
					Env:  e,
					Rule: re.String(),
					Why:  fmt.Sprintf("%s %q matches %s rule %s of environment %s", kind, name, kind, re, e.Name),
				}.named(kind, name), nil
			}
			tried = append(tried, fmt.Sprintf("%s: %s", e.Name, re))
		}
	}
	if len(tried) == 0 {
		return Route{}, fmt.Errorf("%w: project %s has no %s rules; %s %q deploys nowhere", ErrNotFound, p.Name, kind, kind, name)
	}
	return Route{}, fmt.Errorf("%w: %s %q matches no %s rule of project %s (tried %s)", ErrNotFound, kind, name, kind, p.Name, strings.Join(tried, ", "))
}

// Allows reports whether a manual deploy of the commit may go to e: a tag must
// match the tag rules, a branch the branch rules; an environment without
// rules takes anything. It returns a reason when it refuses.
func (e Environment) Allows(c Commit) (bool, string) {
	if len(e.Branches) == 0 && len(e.Tags) == 0 {
		return true, ""
	}
	if c.Tag != "" {
		for _, re := range e.Tags {
			if re.MatchString(c.Tag) {
				return true, ""
			}
		}
	}
	if c.Branch != "" {
		for _, re := range e.Branches {
			if re.MatchString(c.Branch) {
				return true, ""
			}
		}
	}
	return false, fmt.Sprintf("%s only takes %s", e.Name, e.describeRules())
}

func (e Environment) describeRules() string {
	var parts []string
	if len(e.Branches) > 0 {
		parts = append(parts, "branches matching "+joinRegex(e.Branches))
	}
	if len(e.Tags) > 0 {
		parts = append(parts, "tags matching "+joinRegex(e.Tags))
	}
	return strings.Join(parts, " or ")
}

func joinRegex(rs []*regexp.Regexp) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

func (r Route) named(kind, name string) Route {
	if kind == "tag" {
		r.Tag = name
	} else {
		r.Branch = name
	}
	return r
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
