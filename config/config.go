package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Retention is how long the inbox keeps deliveries.
type Retention struct {
	// Bodies of processed deliveries are deleted this long after they
	// were processed.
	Bodies time.Duration
	// Deliveries (their IDs, which deduplicate redeliveries) are deleted
	// this long after they arrived. GitHub redelivers up to 3 days back.
	Deliveries time.Duration
}

// Default retentions of the inbox.
const (
	DefaultBodyRetention     = 24 * time.Hour
	DefaultDeliveryRetention = 7 * 24 * time.Hour
	// DefaultGiveUp is how long the outbox retries a notice.
	DefaultGiveUp = 24 * time.Hour
)

// Metrics is metrics: in ferry.yaml. The zero value serves /metrics on
// Listen, to anyone who reaches it.
type Metrics struct {
	// Listen is a host:port of its own for /metrics, which Listen then
	// does not serve; "": /metrics on Listen.
	Listen string
	// Token, when set, must come as "Authorization: Bearer <token>".
	Token string
}

// Config is a parsed and validated ferry.yaml. Paths in it are absolute,
// resolved against Dir.
type Config struct {
	Dir     string // directory of the configuration file; relative paths start here
	Listen  string // host:port of the HTTP server; default 127.0.0.1:8080
	Storage string // SQLite file, default Dir/ferry.db; or a PostgreSQL URL (postgres://…), kept as written
	// Retention is how long the inbox keeps what it stored:
	// storage.retention.bodies (default 24h) and .deliveries (default 7d).
	Retention Retention
	// Lease is how long a replica's lease on a running deploy, and the
	// leader's on the schedules, lasts without renewal (storage.lease,
	// default 15s): when a replica dies, another takes its work over
	// within it.
	Lease     time.Duration
	Workspace string // build workspace; default Dir/workspace
	BaseURL   string // where people reach ferry, for links in messages; default http://<listen>, no trailing /
	// SessionSecret signs web console sessions; "" means generate one at
	// start (sessions then end when ferry restarts).
	SessionSecret string
	// Auth says how people sign in to the web console: passwords, the
	// company's identity provider, or both.
	Auth     Auth
	Slack    Slack    // the Slack app; the zero value: no Slack
	DingTalk DingTalk // the DingTalk app, robots and projects' groups; the zero value: no DingTalk
	GitHub   GitHub   // GitHub's webhook and API; the zero value: no GitHub
	GitLab   Forge    // GitLab's webhook and API; the zero value: no GitLab
	Gitee    Forge    // Gitee's webhook and API; the zero value: no Gitee
	// Dashboards says how the metrics count and where digests go.
	Dashboards Dashboards
	// Freezes are the change freezes, in file order; see pipeline.Freeze.
	Freezes []pipeline.Freeze
	// Metrics says where /metrics is served and who may read it.
	Metrics Metrics
	// GiveUp is how long the outbox retries a notice (a card edit, a
	// commit status) before it marks it dead: outbox.give_up, default 24h.
	GiveUp time.Duration

	Users    []pipeline.User    // in file order; Teams merged from both sides
	Teams    []pipeline.Team    // in file order; Members merged from both sides
	Projects []pipeline.Project // in file order

	// targetLines has, per "project\x00environment", the line of target:
	// ("") and of each of its keys.
	targetLines map[string]map[string]int
}

// TargetLine is the line of key in the target of an environment, or of
// the target itself when key is not one of its keys; 0 when unknown.
func (c *Config) TargetLine(project, env, key string) int {
	lines := c.targetLines[project+"\x00"+env]
	if l, ok := lines[key]; ok && key != "" {
		return l
	}
	return lines[""]
}

// Project returns the named project.
func (c *Config) Project(name string) (pipeline.Project, bool) {
	for _, p := range c.Projects {
		if p.Name == name {
			return p, true
		}
	}
	return pipeline.Project{}, false
}

// User returns the named user.
func (c *Config) User(name string) (pipeline.User, bool) {
	for _, u := range c.Users {
		if u.Name == name {
			return u, true
		}
	}
	return pipeline.User{}, false
}

// Team returns the named team.
func (c *Config) Team(name string) (pipeline.Team, bool) {
	for _, t := range c.Teams {
		if t.Name == name {
			return t, true
		}
	}
	return pipeline.Team{}, false
}

// UserByToken returns the user an API token belongs to. It compares the
// SHA-256 digest of token with that of every token of every user in
// constant time, so neither where a match is nor how long a token is
// leaks through timing.
func (c *Config) UserByToken(token string) (pipeline.User, bool) {
	if token == "" {
		return pipeline.User{}, false
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i, u := range c.Users {
		for _, t := range u.Tokens {
			ts := sha256.Sum256([]byte(t))
			if subtle.ConstantTimeCompare(sum[:], ts[:]) == 1 {
				found = i
			}
		}
	}
	if found < 0 {
		return pipeline.User{}, false
	}
	return c.Users[found], true
}

// UserByChat returns the user whose identity on a chat platform (slack,
// dingtalk, web) is id. A DingTalk identity is the enterprise userId, a
// robot message's senderStaffId.
func (c *Config) UserByChat(platform, id string) (pipeline.User, bool) {
	return c.userBy(platform, id, func(u pipeline.User) map[string]string { return u.Chat })
}

// UserByForge returns the user whose login on a forge (github, gitlab,
// gitee) is login.
func (c *Config) UserByForge(platform, login string) (pipeline.User, bool) {
	return c.userBy(platform, login, func(u pipeline.User) map[string]string { return u.Forge })
}

func (c *Config) userBy(platform, id string, ids func(pipeline.User) map[string]string) (pipeline.User, bool) {
	if id == "" {
		return pipeline.User{}, false
	}
	for _, u := range c.Users {
		if ids(u)[platform] == id {
			return u, true
		}
	}
	return pipeline.User{}, false
}

// Actor is the identity a command of the named user acts as: their admin
// flag and every team they are in, whether the user lists the team or the
// team lists the user. An unknown name is an actor without rights.
func (c *Config) Actor(name string) pipeline.Actor {
	u, ok := c.User(name)
	if !ok {
		return pipeline.Actor{Name: name}
	}
	a := pipeline.Actor{Name: u.Name, Admin: u.Admin, Teams: append([]string(nil), u.Teams...)}
	// Parse merges both sides already; a Config built by hand may not have.
	for _, t := range c.Teams {
		if contains(t.Members, name) {
			a.Teams = appendNew(a.Teams, t.Name)
		}
	}
	return a
}
