package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ferrybot/ferry/pipeline"
)

// notes is what decoding leaves for the checks that need the whole file.
type notes struct {
	memberships []membership
	tokens      []owned
	identities  []identity
	teamLines   []int          // the line of each team, in the order of Config.Teams
	projects    []projectNotes // in the order of Config.Projects
	slack       int            // the line of slack:; 0 when there is none
	dingtalk    dingtalkNotes  // the line of dingtalk: and the robots' scopes
	allow       []allowNote    // the keys of each forge's repo_config.allow
	dashboards  dashboardsNotes
	freezeEnvs  []freezeEnv // the envs of every freeze
	auth        authNotes
}

// dashboardsNotes are the names in dashboards:, checked once every
// project and user is known.
type dashboardsNotes struct {
	production, optOut, scopes []text
	channels                   []text // the digests' channels, trimmed, with their lines
}

// membership is a user in a team, as a user's teams or a team's members
// list it.
type membership struct {
	user, team string
	t          text // the name as written in the list
	byTeam     bool // from a team's members, not a user's teams
}

// owned is a token and its user.
type owned struct {
	user string
	t    text
}

// identity is a user's ID on a chat platform or forge.
type identity struct {
	user, kind, platform string
	t                    text
}

// projectNotes is what the checks need of a project.
type projectNotes struct {
	line          int        // the project's line
	envs          []envNotes // in the order of Project.Envs
	dingtalkGroup text       // its dingtalk_group; "" when it has none
}

// envNotes is what the checks need of an environment: its rules and the
// names in its policy, with their lines.
type envNotes struct {
	name            string
	branches, tags  []rule
	deployers, from []text
	required        required
	optional        int            // the line of optional:; 0 when there is none
	target          map[string]int // the line of target: ("") and of each of its keys
}

// validate checks what one value alone cannot show: names that refer to
// users and teams, unique tokens and identities, approvers enough for the
// approvals required, and rules two environments share. It completes team
// memberships from both sides.
func (d *decoder) validate(cfg *Config) {
	users := map[string]int{}
	for i, u := range cfg.Users {
		users[u.Name] = i
	}
	teams := map[string]int{}
	for i, t := range cfg.Teams {
		teams[t.Name] = i
		if _, clash := users[t.Name]; clash {
			d.addf(d.notes.teamLines[i], "team %s has the name of a user; rename one of them, or approvals.from and deployers cannot tell them apart", t.Name)
		}
	}
	d.memberships(cfg, users, teams)
	d.tokens()
	d.uniqueIdentities()
	for i, pn := range d.notes.projects {
		p := cfg.Projects[i]
		for j, n := range pn.envs {
			d.policy(cfg, p.Envs[j], n, users, teams)
		}
		d.overlaps(pn)
	}
	d.slackChannels(cfg)
	d.dingtalkNames(cfg)
	d.dashboardsNames(cfg)
	d.freezeNames(cfg)
	d.authNames(cfg, teams)
	d.repoConfig(cfg)
}

func (d *decoder) memberships(cfg *Config, users, teams map[string]int) {
	var valid []membership
	for _, m := range d.notes.memberships {
		_, okUser := users[m.user]
		_, okTeam := teams[m.team]
		switch {
		case !m.byTeam && !okTeam:
			d.missing(m.t, fmt.Sprintf("user %s is in team %s, which is not declared under teams:", m.user, m.t.shown()),
				keys(teams), "declare it there")
		case m.byTeam && !okUser:
			d.missing(m.t, fmt.Sprintf("team %s lists member %s, who is not a user", m.team, m.t.shown()),
				keys(users), "add them under users:")
		default:
			valid = append(valid, m)
		}
	}
	addTeam := func(m membership) {
		u := &cfg.Users[users[m.user]]
		u.Teams = appendNew(u.Teams, m.team)
	}
	addMember := func(m membership) {
		t := &cfg.Teams[teams[m.team]]
		t.Members = appendNew(t.Members, m.user)
	}
	// Each side lists its own names first, then those from the other side.
	for _, m := range valid {
		if m.byTeam {
			addMember(m)
		} else {
			addTeam(m)
		}
	}
	for _, m := range valid {
		if m.byTeam {
			addTeam(m)
		} else {
			addMember(m)
		}
	}
}

func (d *decoder) tokens() {
	seen := map[string]owned{}
	for _, o := range d.notes.tokens {
		switch {
		case o.t.s == "":
			d.addf(o.t.line, "a token of user %s is empty; set its variable, or remove it", o.user)
			continue
		case len(o.t.s) < minTokenLen:
			d.addf(o.t.line, "a token of user %s is shorter than %d characters; make one with: openssl rand -hex 32", o.user, minTokenLen)
		}
		if prev, dup := seen[o.t.s]; dup {
			d.addf(o.t.line, "a token of user %s is also a token of user %s (line %d); every token must be unique", o.user, prev.user, prev.t.line)
			continue
		}
		seen[o.t.s] = o
	}
}

func (d *decoder) uniqueIdentities() {
	seen := map[string]identity{}
	for _, id := range d.notes.identities {
		key := id.kind + "\x00" + id.platform + "\x00" + id.t.s
		if prev, dup := seen[key]; dup {
			d.addf(id.t.line, "%s.%s of user %s is %s, which user %s has too (line %d); an identity belongs to one user",
				id.kind, id.platform, id.user, id.t.shown(), prev.user, prev.t.line)
			continue
		}
		seen[key] = id
	}
}

// policy checks the names an environment's policy refers to, and that
// enough people may approve.
func (d *decoder) policy(cfg *Config, env pipeline.Environment, n envNotes, users, teams map[string]int) {
	where := "environment " + n.name
	for _, t := range n.deployers {
		d.principal(t, "deployers of "+where, users, teams)
	}
	for _, t := range n.from {
		d.principal(t, "approvals.from of "+where, users, teams)
	}
	if n.required.n == 0 {
		return
	}
	approvers := map[string]bool{}
	for _, u := range cfg.Users {
		if len(env.Approvals.From) == 0 || cfg.Actor(u.Name).Is(env.Approvals.From) {
			approvers[u.Name] = true
		}
	}
	if n.required.n <= len(approvers) {
		return
	}
	names := keys(approvers)
	list := "nobody"
	if len(names) > 0 {
		list = strings.Join(names, ", ")
	}
	if len(env.Approvals.From) == 0 {
		d.addf(n.required.line, "approvals.required of %s is %d, but there are only %s to approve (%s); lower it or add users",
			where, n.required.n, plural(len(names), "user", "users"), list)
		return
	}
	d.addf(n.required.line, "approvals.required of %s is %d, but approvals.from lets only %s approve (%s); lower it or add approvers to approvals.from",
		where, n.required.n, plural(len(names), "person", "people"), list)
}

// principal checks that a name in a policy is a user or a team.
func (d *decoder) principal(t text, what string, users, teams map[string]int) {
	_, isUser := users[t.s]
	_, isTeam := teams[t.s]
	if isUser || isTeam {
		return
	}
	d.missing(t, fmt.Sprintf("%s names %s, which is neither a user nor a team", what, t.shown()),
		append(keys(users), keys(teams)...), "add it under users: or teams:")
}

// missing reports a name that refers to nothing, with the closest existing
// name when there is one, or with fix. A name that came from a variable
// gets no suggestion, which would hint at its value.
func (d *decoder) missing(t text, msg string, candidates []string, fix string) {
	if s, ok := suggest(t.s, candidates); ok && !t.fromEnv {
		d.addf(t.line, "%s; did you mean %q?", msg, s)
		return
	}
	d.addf(t.line, "%s; %s", msg, fix)
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func appendNew(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
