package forge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
	"golang.org/x/sync/singleflight"
)

// Users is what the decisions need of ferry's configuration;
// *config.Config has it.
type Users interface {
	UserByForge(platform, login string) (pipeline.User, bool)
	Actor(name string) pipeline.Actor
}

// Store keeps what ferry made on a forge (a sticky comment's ID, what it
// shows); *storage.Store has it.
type Store interface {
	NoticeRef(ctx context.Context, platform, dest string) (string, error)
	PutNoticeRef(ctx context.Context, platform, dest, ref string) error
}

// RepoConfig applies a repository's .ferry.yaml (data; nil when it has
// none) to a project of the repository; *config.Config has it. The error
// is the file's problems, one a line.
type RepoConfig interface {
	RepoProject(p pipeline.Project, file string, data []byte) (pipeline.Project, error)
}

// Engine is what the decisions ask of the pipeline; *pipeline.Engine has
// it.
type Engine interface {
	Projects() []pipeline.Project
	Request(ctx context.Context, a pipeline.Actor, r pipeline.Request) (pipeline.Deploy, error)
	Deploys(ctx context.Context, f pipeline.DeployFilter) ([]pipeline.Deploy, error)
}

// Config is what a Core needs.
type Config struct {
	// Platform names the forge in the store, in logs, in users.forge and
	// in ferry.yaml: github, gitlab, gitee. Required.
	Platform string
	// Name is the forge as people write it: GitHub. Required.
	Name   string
	Engine Engine // required
	Users  Users  // required
	Store  Store  // required
	// RepoOn is owner/name (a GitLab path: group/sub/name) of a project's
	// repo when the repository is on this forge. Required.
	RepoOn func(repoURL string) (string, bool)
	// Client calls the forge's API; nil: ferry deploys from the webhooks
	// and says nothing on the forge.
	Client Client
	// Bot runs the commands of comments, labels and reviews; nil: they are
	// not acted on.
	Bot *bot.Bot
	// RepoConfig reads a repository's .ferry.yaml at the commit of each
	// push, label and command; nil: ferry reads none, and optional
	// environments are left out.
	RepoConfig RepoConfig
	// BaseURL is ferry's web console, for the links of statuses; "": they
	// link nowhere.
	BaseURL string
	Logger  *slog.Logger   // nil: discard
	Clock   pipeline.Clock // nil: the system clock; for the access cache
}

// Core is what ferry does with one forge's events, and what it says there
// through the outbox (Deliver). Its methods are safe for concurrent use.
type Core struct {
	platform, name string
	engine         Engine
	users          Users
	store          Store
	repoOn         func(string) (string, bool)
	projects       *projectsSeen // the engine's, for what deploys are owed
	client         Client
	bot            *bot.Bot
	repoConfig     RepoConfig
	baseURL        string
	log            *slog.Logger
	clock          pipeline.Clock

	stickyMu sync.Mutex // held while a sticky comment is found and written
	access   accessCache
	files    repoFiles
}

// NewCore checks cfg and returns a Core.
func NewCore(cfg Config) (*Core, error) {
	if cfg.Platform == "" || cfg.Name == "" || cfg.Engine == nil || cfg.Users == nil || cfg.Store == nil || cfg.RepoOn == nil {
		return nil, errors.New("forge: Platform, Name, Engine, Users, Store and RepoOn are required")
	}
	c := &Core{platform: cfg.Platform, name: cfg.Name, engine: cfg.Engine, users: cfg.Users, store: cfg.Store, repoOn: cfg.RepoOn, projects: newProjectsSeen(cfg.Engine),
		client: cfg.Client, bot: cfg.Bot, repoConfig: cfg.RepoConfig, baseURL: cfg.BaseURL, log: cfg.Logger, clock: cfg.Clock,
		access: accessCache{entries: map[string]accessEntry{}}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.clock == nil {
		c.clock = pipeline.SystemClock{}
	}
	return c, nil
}

// SystemActor is who an event from a login ferry does not know acts as:
// the forge's platform name (github), not an admin, in no team.
func (c *Core) SystemActor() string { return c.platform }

// actor is who a forge login acts as: its linked ferry user, or the system
// actor.
func (c *Core) actor(login string) pipeline.Actor {
	if u, ok := c.users.UserByForge(c.platform, login); ok && login != "" {
		return c.users.Actor(u.Name)
	}
	return pipeline.Actor{Name: c.SystemActor()}
}

// ProjectsOf returns the configured projects whose repo is r.
func (c *Core) ProjectsOf(r Repo) []pipeline.Project {
	names := map[string]bool{}
	for _, u := range []string{r.CloneURL, r.SSHURL, r.HTMLURL} {
		if u != "" {
			names[RepoKey(u)] = true
		}
	}
	var out []pipeline.Project
	for _, p := range c.engine.Projects() {
		k := RepoKey(p.Repo)
		if names[k] || (r.FullName != "" && strings.EqualFold(k, r.FullName)) {
			out = append(out, p)
		}
	}
	return out
}

// RepoKey writes a repository address one way: host/owner/name, lower
// case, whether it was an https, ssh or scp-like git URL; owner/name stays
// so.
func RepoKey(u string) string { return strings.ToLower(RepoPath(u)) }

// RepoPath is RepoKey with the case kept, for calling an API.
func RepoPath(u string) string {
	s := strings.TrimSpace(u)
	if i := strings.Index(strings.ToLower(s), "://"); i >= 0 {
		s = s[i+3:]
		if at := strings.LastIndex(strings.SplitN(s, "/", 2)[0], "@"); at >= 0 {
			s = s[at+1:]
		}
	} else if at := strings.Index(s, "@"); at >= 0 && strings.Contains(s, ":") {
		s = strings.Replace(s[at+1:], ":", "/", 1)
	}
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
	return s
}

// repoOfProject is the repository of a project when it is on this forge.
// A project a reload removed is the one last seen.
func (c *Core) repoOfProject(name string) (Repo, bool) {
	p, ok := c.projects.project(name)
	if !ok {
		return Repo{}, false
	}
	full, ok := c.repoOn(p.Repo)
	return Repo{FullName: full}, ok
}

// envOf is the environment of a deploy as ferry.yaml configures it (as
// last seen, when a reload removed it); the zero Environment when it was
// never seen.
func (c *Core) envOf(d pipeline.Deploy) pipeline.Environment {
	p, _ := c.projects.project(d.Project)
	e, _ := p.Env(d.Env)
	return e
}

// refusal is a reason nothing was done, said to whoever asked.
type refusal string

func (r refusal) Error() string { return string(r) }

// authorize returns the ferry user a forge user acts as, when the forge
// says they may ask and ferry.yaml links them; otherwise a refusal that
// says why.
func (c *Core) authorize(ctx context.Context, log *slog.Logger, repo Repo, who User) (pipeline.Actor, error) {
	acc, err := c.accessOf(ctx, repo, who)
	if err != nil {
		log.ErrorContext(ctx, c.platform+": permission of a user", "err", err)
		return pipeline.Actor{}, refusal("ferry could not check your permission on this repository because of an error; it is in ferry's log. Nothing was done.")
	}
	if !acc.MayAsk {
		return pipeline.Actor{}, refusal(fmt.Sprintf("ferry takes commands from people with %s on %s; you have %s. Nothing was done.", acc.Needs, repo.FullName, acc.Has))
	}
	u, ok := c.users.UserByForge(c.platform, who.Login)
	if !ok {
		return pipeline.Actor{}, refusal(fmt.Sprintf("ferry does not know your %s login %s: ask an admin to add forge: {%s: %s} to your user in ferry.yaml. Nothing was done.",
			c.name, who.Login, c.platform, who.Login))
	}
	return c.users.Actor(u.Name), nil
}

// Limits of the access cache.
const (
	accessTTL  = time.Minute // how long a user's access is kept
	maxAccess  = 1024        // entries kept at most
	accessKeep = "%s/%s/%d"  // repo, login, id: the key of an entry
)

// accessCache keeps users' access to repositories for accessTTL: when it
// is full, the expired ones go, then the one that expires first.
type accessCache struct {
	mu      sync.Mutex
	entries map[string]accessEntry
	asking  singleflight.Group // one question per user and repository at a time
}

type accessEntry struct {
	access  Access
	expires time.Time
}

// accessOf is a user's access to a repository, asked of the forge and kept
// a while.
func (c *Core) accessOf(ctx context.Context, repo Repo, who User) (Access, error) {
	key := strings.ToLower(fmt.Sprintf(accessKeep, repo.FullName, who.Login, who.ID))
	now := c.clock.Now()
	c.access.mu.Lock()
	e, ok := c.access.entries[key]
	c.access.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.access, nil
	}
	// Comments by one person handled at once ask the forge once.
	v, err, _ := c.access.asking.Do(key, func() (any, error) {
		acc, err := c.client.Access(ctx, repo, who)
		if err == nil {
			c.access.keep(key, accessEntry{access: acc, expires: now.Add(accessTTL)}, now)
		}
		return acc, err
	})
	if err != nil {
		return Access{}, fmt.Errorf("permission of %s on %s: %w", who.Login, repo.FullName, err)
	}
	return v.(Access), nil
}

// keep keeps e under key, making room first when maxAccess are kept.
func (a *accessCache) keep(key string, e accessEntry, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.entries[key]; !ok && len(a.entries) >= maxAccess {
		for k, old := range a.entries {
			if !now.Before(old.expires) {
				delete(a.entries, k)
			}
		}
		for len(a.entries) >= maxAccess {
			first := ""
			for k, old := range a.entries {
				if first == "" || old.expires.Before(a.entries[first].expires) {
					first = k
				}
			}
			delete(a.entries, first)
		}
	}
	a.entries[key] = e
}

// markdown renders a reply for a comment: a one-line text as it is, and
// anything longer (cards, tables, help), which is aligned plain text, in a
// code block.
func markdown(r bot.Reply) string {
	text := strings.TrimRight(bot.RenderReply(r), "\n")
	if !strings.Contains(text, "\n") {
		return text
	}
	return "```\n" + text + "\n```"
}

func projectNames(ps []pipeline.Project) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// short is a commit's first seven characters.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
