package config

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ferrybot/ferry/dashboards"
)

// Dashboards is the dashboards: section of ferry.yaml: how the metrics are
// counted and where the weekly digest goes. The zero value counts with the
// defaults and sends no digest.
type Dashboards struct {
	// Production names the environments the DORA metrics count; empty:
	// those named prod…, prd or live.
	Production    []string
	FailureWindow time.Duration  // 0: 24h
	MinDeploys    int            // 0: 3
	Top           int            // 0: 5
	OptOut        []string       // users left out of the leaderboards of people
	Location      *time.Location // of pages and, by default, of digests; UTC when not set
	Digests       []Digest       // in file order
}

// Digest is one channel's digest.
type Digest struct {
	// Channel is where the digest goes: a Slack channel (an ID like
	// C0123, or #name), dingtalk:<openConversationId> for a DingTalk
	// group the app posts to, or dingtalk-robot:<name> for one of
	// dingtalk.robots. DigestPlatform tells them apart.
	Channel  string
	Scope    string // as dashboards.Directory.ParseScope reads it; "" is all
	Schedule dashboards.Schedule
}

var (
	dashboardsKeys = []string{"production", "failure_window", "min_deploys", "top", "opt_out", "timezone", "digest"}
	digestKeys     = []string{"schedule", "timezone", "channels"}
	channelKeys    = []string{"channel", "scope", "schedule", "timezone"}
)

// dashboards decodes the dashboards: section. Names in it are checked
// against users and environments by validate.
func (d *decoder) dashboards(f field) Dashboards {
	db := Dashboards{Location: time.UTC}
	if f.line == 0 || isNull(f.val) {
		return db
	}
	fs := d.fields(f.val, "dashboards", dashboardsKeys...)
	for _, t := range d.texts(fs["production"].val, "dashboards.production") {
		db.Production = append(db.Production, t.s)
		d.notes.dashboards.production = append(d.notes.dashboards.production, t)
	}
	for _, t := range d.texts(fs["opt_out"].val, "dashboards.opt_out") {
		db.OptOut = append(db.OptOut, t.s)
		d.notes.dashboards.optOut = append(d.notes.dashboards.optOut, t)
	}
	db.FailureWindow = d.duration(fs["failure_window"].val, "dashboards.failure_window")
	db.MinDeploys = d.count(fs["min_deploys"].val, "dashboards.min_deploys")
	db.Top = d.count(fs["top"].val, "dashboards.top")
	db.Location = d.location(fs["timezone"].val, "dashboards.timezone", time.UTC)
	if g := fs["digest"]; g.line != 0 && !isNull(g.val) {
		db.Digests = d.digests(g, db.Location)
	}
	return db
}

// digests decodes dashboards.digest: a schedule and time zone for every
// channel, and the channels, each a name or a mapping that overrides them.
func (d *decoder) digests(f field, loc *time.Location) []Digest {
	fs := d.fields(f.val, "dashboards.digest", digestKeys...)
	loc = d.location(fs["timezone"].val, "dashboards.digest.timezone", loc)
	cron := d.str(fs["schedule"].val, "dashboards.digest.schedule")
	if cron == "" {
		cron = dashboards.DefaultCron
	}
	line := f.line
	if fs["schedule"].line != 0 {
		line = fs["schedule"].line
	}
	items := d.list(fs["channels"].val, "dashboards.digest.channels")
	if len(items) == 0 {
		d.addf(f.line, `dashboards.digest has no channels: add channels: ["#deploys"] (Slack channels, by ID or #name; dingtalk:<openConversationId> or dingtalk-robot:<robot name> for DingTalk)`)
	}
	var out []Digest
	for i, item := range items {
		what := "channel " + strconv.Itoa(i+1) + " of dashboards.digest.channels"
		g := Digest{}
		var ch text
		itemCron, itemLoc, cronLine := cron, loc, line
		if n := resolve(item); n.Kind == yaml.MappingNode {
			if k, ok := destinationKey(n); ok {
				d.addf(n.Line, `%s is read as a mapping with the key %s, because of the space after the colon; write "%s:<%s>" with no space, in quotes`, what, k, k, digestDests[k])
				continue
			}
			cf := d.fields(n, what, channelKeys...)
			ch, _ = d.scalar(cf["channel"].val, "channel of "+what)
			if t, ok := d.scalar(cf["scope"].val, "scope of "+what); ok && t.s != "" {
				g.Scope = t.s
				d.notes.dashboards.scopes = append(d.notes.dashboards.scopes, t)
			}
			if c := d.str(cf["schedule"].val, "schedule of "+what); c != "" {
				itemCron, cronLine = c, cf["schedule"].line
			}
			itemLoc = d.location(cf["timezone"].val, "timezone of "+what, loc)
		} else {
			ch, _ = d.scalar(item, what)
		}
		g.Channel = strings.TrimSpace(ch.s)
		if g.Channel == "" {
			d.addf(item.Line, "%s names no channel: give a Slack channel ID like C0123 or a name like #deploys, or dingtalk:<openConversationId> or dingtalk-robot:<robot name> for DingTalk", what)
			continue
		}
		ch.s = g.Channel
		d.notes.dashboards.channels = append(d.notes.dashboards.channels, ch)
		s, err := dashboards.ParseSchedule(itemCron, itemLoc)
		if err != nil {
			d.addf(cronLine, "%s", err)
			continue
		}
		g.Schedule = s
		out = append(out, g)
	}
	return out
}

// digestDests are the destinations a channel may name with a prefix, and
// what follows the prefix.
var digestDests = map[string]string{DigestDingTalk: "openConversationId", DigestDingTalkRobot: "robot name"}

// destinationKey reports whether n, a digest's channel, is a mapping of
// one of digestDests' prefixes alone: what YAML makes of - dingtalk: cid….
func destinationKey(n *yaml.Node) (string, bool) {
	if len(n.Content) != 2 || n.Content[0].Kind != yaml.ScalarNode {
		return "", false
	}
	k := n.Content[0].Value
	_, ok := digestDests[k]
	return k, ok
}

// location decodes an IANA time zone name; def when it is not set.
func (d *decoder) location(n *yaml.Node, what string, def *time.Location) *time.Location {
	t, ok := d.scalar(n, what)
	if !ok || t.s == "" {
		return def
	}
	loc, err := time.LoadLocation(t.s)
	if err != nil || strings.EqualFold(t.s, "local") {
		d.addf(t.line, "%s must be a time zone name like Europe/Berlin, Asia/Shanghai or UTC, not %s", what, t.shown())
		return def
	}
	return loc
}

// dashboardsNames checks the names the dashboards: section uses: the
// production environments exist in some project, opted-out people are
// users, scopes name something, and digests have a chat to go to (see
// digestChannels).
func (d *decoder) dashboardsNames(cfg *Config) {
	n := d.notes.dashboards
	dir := cfg.Directory()
	for _, t := range n.production {
		if !contains(dir.Envs, t.s) {
			d.missing(t, "dashboards.production names environment "+t.shown()+", which no project has", dir.Envs, "name an environment of a project")
		}
	}
	for _, t := range n.optOut {
		if !contains(dir.Users, t.s) {
			d.missing(t, "dashboards.opt_out names "+t.shown()+", who is not a user", dir.Users, "add them under users:")
		}
	}
	for _, t := range n.scopes {
		if _, err := dir.ParseScope(t.s); err != nil {
			d.addf(t.line, "%s", err)
		}
	}
	d.digestChannels(cfg)
}

// Directory is what the dashboards know of the configuration: projects,
// environment names, teams with their members, and users.
func (c *Config) Directory() dashboards.Directory {
	dir := dashboards.Directory{Teams: map[string][]string{}}
	for _, p := range c.Projects {
		dir.Projects = append(dir.Projects, p.Name)
		for _, e := range p.Envs {
			if !contains(dir.Envs, e.Name) {
				dir.Envs = append(dir.Envs, e.Name)
			}
		}
	}
	for _, u := range c.Users {
		dir.Users = append(dir.Users, u.Name)
		for _, t := range c.Actor(u.Name).Teams {
			dir.Teams[t] = append(dir.Teams[t], u.Name)
		}
	}
	for _, t := range c.Teams {
		if _, ok := dir.Teams[t.Name]; !ok {
			dir.Teams[t.Name] = nil
		}
	}
	return dir
}
