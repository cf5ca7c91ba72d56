package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ferrybot/ferry/bot"
	dingtalkbot "github.com/ferrybot/ferry/bot/dingtalk"
	slackbot "github.com/ferrybot/ferry/bot/slack"
	"github.com/ferrybot/ferry/bot/web"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/dashboards/chart"
	"github.com/ferrybot/ferry/forge"
	forgegitee "github.com/ferrybot/ferry/forge/gitee"
	forgegithub "github.com/ferrybot/ferry/forge/github"
	forgegitlab "github.com/ferrybot/ferry/forge/gitlab"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
	"github.com/ferrybot/ferry/targets/workspace"
)

// app is one ferry server, wired from its configuration.
type app struct {
	cfg     *config.Config // as ferry started: what only a restart changes
	live    *config.Live   // what a reload changes: users, teams, projects, freezes
	store   *storage.Store
	engine  *pipeline.Engine
	bot     *bot.Bot
	web     *web.Server
	metrics *metrics
	slack   *slackbot.Adapter       // nil without slack: in ferry.yaml
	ding    *dingtalkbot.Adapter    // nil without dingtalk: in ferry.yaml
	forges  map[string]forgeAdapter // github, gitlab, gitee: those ferry.yaml has
	dash    *dashboards.Dashboards
	digests *dashboards.Scheduler // nil without digest channels
	outbox  *bot.Dispatcher
	elector *pipeline.Elector // the replicas' leader election, over a lease in the store
	charts  dashboards.Signer
	drivers *drivers
	reload  *reloader // nil when ferry was not started from a file
	handler http.Handler
	log     *slog.Logger
}

// newApp opens the store and builds every part of the server. The caller
// runs app.engine and calls app.close. src is the file cfg was read from,
// which a reload reads again; the zero value: ferry does not reload.
func newApp(ctx context.Context, cfg *config.Config, src source, baseURL string, log *slog.Logger, clock pipeline.Clock) (*app, error) {
	ws, err := workspace.New(workspace.Config{Dir: cfg.Workspace})
	if err != nil {
		return nil, err
	}
	resolver, err := workspace.NewResolver(cfg.Workspace)
	if err != nil {
		return nil, err
	}
	drivers := &drivers{dir: cfg.Dir, ws: ws, clock: clock, built: map[string]pipeline.Target{}}
	for _, p := range cfg.Projects {
		for _, env := range p.Envs {
			if err := drivers.prepare(ctx, p, env, log); err != nil {
				return nil, fmt.Errorf("project %s environment %s: %w", p.Name, env.Name, err)
			}
		}
	}
	st, err := storage.Open(ctx, cfg.Storage)
	if err != nil {
		return nil, err
	}
	// ferry on SQLite is one process per file: what the one before it
	// held (running deploys, the schedules, inbox and outbox rows) is its
	// own again at once. On PostgreSQL, replicas share the database, and
	// what a stopped one held is taken over when its leases expire.
	if !storage.IsPostgres(cfg.Storage) {
		if err := errors.Join(st.ReleaseClaims(ctx), st.ReleaseNoticeClaims(ctx), st.ReleaseLeases(ctx)); err != nil {
			st.Close()
			return nil, err
		}
	}
	replica := pipeline.RandomOwner()
	live := config.NewLive(cfg)
	a := &app{cfg: cfg, live: live, store: st, drivers: drivers, log: log.With("replica", replica), forges: map[string]forgeAdapter{}}
	log = a.log
	a.elector = pipeline.NewElector(st, replica, cfg.Lease, clock, log)
	a.metrics = newMetrics(st)
	// What each platform is owed when a deploy changes goes to the outbox
	// in the change's commit; the dispatcher delivers it through the
	// adapters below, which the engine does not know.
	subs := pipeline.Subscribers{a.metrics, web.Subscriber{}}
	if cfg.Slack.Enabled() {
		subs = append(subs, slackbot.Subscriber{})
	}
	robots, err := dingtalkRobots(cfg, live)
	if err != nil {
		st.Close()
		return nil, err
	}
	if dingtalkEnabled(cfg) {
		subs = append(subs, dingtalkbot.Subscriber{App: cfg.DingTalk.Enabled(), Robots: robots})
	}
	// A forge is owed statuses and comments only when ferry can call it.
	if cfg.GitHub.Enabled() && (cfg.GitHub.Token != "" || cfg.GitHub.AppID != 0) {
		subs = append(subs, forgegithub.NewSubscriber(live, cfg.GitHub.BaseURL))
	}
	if cfg.GitLab.Enabled() && cfg.GitLab.Token != "" {
		subs = append(subs, forgegitlab.NewSubscriber(live, cfg.GitLab.BaseURL))
	}
	if cfg.Gitee.Enabled() && cfg.Gitee.Token != "" {
		subs = append(subs, forgegitee.NewSubscriber(live, cfg.Gitee.BaseURL))
	}
	a.engine, err = pipeline.New(pipeline.Config{
		Store:       st,
		Projects:    cfg.Projects,
		Target:      drivers.target,
		Resolver:    resolver,
		Subscribers: subs,
		Freezes:     cfg.Freezes,
		Clock:       clock,
		Logger:      log,
		Owner:       replica,
		LeaseTTL:    cfg.Lease,
		Leader:      a.elector,
	})
	key := []byte(cfg.SessionSecret)
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
		log.Info("no session_secret in the configuration: web sessions and chart links end when ferry restarts")
	}
	var reload web.Reload // stays nil without a file
	if err == nil && src.path != "" {
		now := time.Now
		if clock != nil {
			now = clock.Now
		}
		a.reload = newReloader(src, live, a.engine, drivers, st, now, log)
		reload = a.reload.reload
	}
	if err == nil {
		a.charts = dashboards.Signer{Key: deriveKey(key, "ferry chart links"), BaseURL: baseURL}
		a.dash, err = newDashboards(cfg, st, a.charts, clock)
	}
	if err == nil {
		a.bot, err = bot.New(bot.Config{Engine: a.engine, BaseURL: baseURL, Logger: log, Digests: a.dash})
	}
	// Every ingress route shares one set of bounds: a flood through one
	// platform leaves the others' requests (and the console) served.
	ingress := bot.NewIngress(bot.IngressLimits{})
	if err == nil {
		var linker web.Linker // stays a nil interface without a chat
		var accounts *bot.Accounts
		accounts, err = bot.NewAccounts(bot.AccountsConfig{Users: live, Store: st, BaseURL: baseURL, Key: deriveKey(key, "ferry chat link tokens"), Logger: log})
		if err == nil && cfg.Slack.Enabled() {
			linker = accounts
			a.slack, err = slackbot.New(slackbot.Config{
				Bot: a.bot, Projects: live, Users: live, Store: st, Accounts: accounts,
				BotToken: cfg.Slack.BotToken, SigningSecret: cfg.Slack.SigningSecret,
				AppToken: cfg.Slack.AppToken, DefaultChannel: cfg.Slack.DefaultChannel,
				Ingress: ingress, Logger: log,
			})
		}
		if err == nil && dingtalkEnabled(cfg) {
			if cfg.DingTalk.Enabled() {
				linker = accounts
			}
			d := cfg.DingTalk
			a.ding, err = dingtalkbot.New(dingtalkbot.Config{
				Bot: a.bot, Users: live, Store: st, Accounts: accounts, ClientID: d.ClientID, ClientSecret: d.ClientSecret,
				RobotCode: d.RobotCode, Mode: d.Mode, CardTemplateID: d.CardTemplateID, DefaultGroup: d.DefaultGroup,
				Projects: live, Robots: robots, APIURL: d.APIURL, Ingress: ingress, Logger: log, Clock: clock,
			})
		}
		if err == nil && len(cfg.Dashboards.Digests) > 0 {
			var posters digestRouter
			if a.slack != nil {
				posters.slack = a.slack.Digests()
			}
			if a.ding != nil {
				posters.dingtalk = a.ding.Digests()
			}
			a.digests, err = newScheduler(cfg, a.dash, st, posters, a.elector, clock, log)
		}
		if err == nil {
			err = a.newForges(ingress, baseURL)
		}
		if err == nil {
			a.web, err = web.New(web.Config{Bot: a.bot, Engine: a.engine, Users: live, Sessions: st, SessionKey: key, BaseURL: baseURL, Linker: linker, Dashboards: a.dash, Outbox: st, Replicas: st, Tokens: st, Setup: githubSetup(cfg, st), Logger: log,
				OIDC: webOIDC(cfg.Auth.OIDC, live), NoPassword: cfg.Auth.NoPassword, Reload: reload})
		}
	}
	if err == nil {
		a.outbox, err = newDispatcher(a, clock)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	inbox := &inboxCollector{st: st, refused: map[string]func() []bot.Refusal{}, sinks: slices.Sorted(maps.Keys(a.sinks()))}
	if a.slack != nil {
		inbox.refused["slack"] = a.slack.Refusals
	}
	if a.ding != nil {
		inbox.refused["dingtalk"] = a.ding.Refusals
	}
	for platform, f := range a.forges {
		inbox.refused[platform] = f.Refusals
	}
	a.metrics.reg.MustRegister(inbox)
	a.handler = a.routes()
	return a, nil
}

// webOIDC is the identity provider of auth.oidc for the console; nil
// without one.
func webOIDC(o *config.OIDC, people web.People) *web.OIDC {
	if o == nil {
		return nil
	}
	return &web.OIDC{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret, Name: o.Name, Scopes: o.Scopes,
		UserClaim: o.UserClaim, GroupsClaim: o.GroupsClaim, TeamsFromGroups: o.TeamsFromGroups, People: people}
}

// githubSetup registers a GitHub App from ferry's manifest, on github.com
// or the GitHub Enterprise Server github.base_url names.
func githubSetup(cfg *config.Config, st *storage.Store) web.Setup {
	api := cfg.GitHub.BaseURL
	return web.Setup{GitHubURL: forgegithub.WebURL(api), Audit: st,
		ConvertGitHub: func(ctx context.Context, code string) (web.GitHubApp, error) {
			c, err := forgegithub.ConvertManifest(ctx, api, code)
			return web.GitHubApp(c), err
		}}
}

// forgeAdapter is what ferry needs of a forge's adapter: its webhook route
// (POST /hooks/<platform>), the refusals it counted, the loop that handles
// what it stored, and the outbox's sink for what the forge is owed.
type forgeAdapter interface {
	Handler() http.Handler
	Refusals() []bot.Refusal
	Run(ctx context.Context) error
	bot.Sink
}

// newForges builds the adapter of each forge ferry.yaml has.
func (a *app) newForges(ingress *bot.Ingress, baseURL string) error {
	cfg := a.cfg
	if g := cfg.GitHub; g.Enabled() {
		appKey, err := githubKey(g.PrivateKey)
		if err != nil {
			return err
		}
		if a.forges["github"], err = forgegithub.New(forgegithub.Config{
			Engine: a.engine, Users: a.live, Store: a.store, WebhookSecret: g.WebhookSecret, Bot: a.bot,
			Token: g.Token, AppID: g.AppID, PrivateKey: appKey, APIURL: g.BaseURL, BaseURL: baseURL, Ingress: ingress, Logger: a.log,
			RepoConfig: a.repoRules("github"), RedeliverInterval: g.RedeliverInterval, Leader: a.elector,
		}); err != nil {
			return err
		}
	}
	if g := cfg.GitLab; g.Enabled() {
		var err error
		if a.forges["gitlab"], err = forgegitlab.New(forgegitlab.Config{
			Engine: a.engine, Users: a.live, Store: a.store, WebhookSecret: g.WebhookSecret, SigningToken: g.SigningToken, Bot: a.bot,
			Token: g.Token, APIURL: g.BaseURL, BaseURL: baseURL, Ingress: ingress, Logger: a.log, RepoConfig: a.repoRules("gitlab"),
		}); err != nil {
			return err
		}
	}
	if g := cfg.Gitee; g.Enabled() {
		var err error
		if a.forges["gitee"], err = forgegitee.New(forgegitee.Config{
			Engine: a.engine, Users: a.live, Store: a.store, WebhookSecret: g.WebhookSecret, Bot: a.bot,
			Token: g.Token, APIURL: g.BaseURL, BaseURL: baseURL, Ingress: ingress, Logger: a.log, RepoConfig: a.repoRules("gitee"),
		}); err != nil {
			return err
		}
	}
	return nil
}

// repoRules is a forge's repo_config for its adapter: a nil interface
// when it has none, so that the adapter reads no .ferry.yaml. The
// repo_config is the one ferry started with; the projects and users it
// checks a .ferry.yaml against are those loaded now.
func (a *app) repoRules(platform string) forge.RepoConfig {
	if a.cfg.RepoRules(platform) == nil {
		return nil
	}
	return liveRepoRules{live: a.live, platform: platform}
}

// liveRepoRules is a forge's repo_config over the configuration loaded
// now.
type liveRepoRules struct {
	live     *config.Live
	platform string
}

func (r liveRepoRules) RepoProject(p pipeline.Project, file string, data []byte) (pipeline.Project, error) {
	return r.live.Config().RepoRules(r.platform).RepoProject(p, file, data)
}

// newDispatcher delivers the outbox through the sinks of the platforms
// ferry.yaml has.
func newDispatcher(a *app, clock pipeline.Clock) (*bot.Dispatcher, error) {
	return bot.NewDispatcher(bot.DispatcherConfig{Store: a.store, Bot: a.bot, Sinks: a.sinks(), Wake: a.store.Noticed(),
		GiveUp: a.cfg.GiveUp, Clock: clock, Logger: a.log})
}

// sinks are the outbox's sinks, by platform.
func (a *app) sinks() map[string]bot.Sink {
	sinks := map[string]bot.Sink{metricsPlatform: a.metrics, "web": a.web}
	if a.slack != nil {
		sinks["slack"] = a.slack
	}
	if a.ding != nil {
		maps.Copy(sinks, a.ding.Sinks())
	}
	for platform, f := range a.forges {
		sinks[platform] = f
	}
	return sinks
}

// replicaServices keep this replica in step with the others on its
// database: the leader election, the LISTEN connection, and the console's
// view of the changes the others make. It campaigns once first, so that
// whatever asks who leads knows it from the start.
func (a *app) replicaServices(ctx context.Context) []func(context.Context) error {
	a.elector.Campaign(ctx)
	return []func(context.Context) error{a.elector.Run, a.web.Run, func(ctx context.Context) error {
		return a.store.Listen(ctx, a.log)
	}}
}

// close releases the store and the targets' connections.
func (a *app) close() {
	a.drivers.close()
	a.store.Close()
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	// /livez and /healthz: the process serves; /readyz: and can reach
	// its database, then which configuration is loaded.
	live := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }
	mux.HandleFunc("GET /healthz", live)
	mux.HandleFunc("GET /livez", live)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := a.store.Ping(r.Context()); err != nil {
			http.Error(w, "storage is not reachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
		if a.reload != nil {
			fmt.Fprint(w, a.reload.status())
		}
	})
	if a.cfg.Metrics.Listen == "" {
		mux.Handle("GET /metrics", a.metrics.handler(a.cfg.Metrics.Token))
	}
	mux.Handle("GET "+dashboards.ChartPath, chart.Handler(a.dash, a.charts, a.log))
	if a.slack != nil {
		mux.Handle("/chat/slack/", a.slack.Handler())
	}
	if a.ding != nil {
		mux.Handle("/chat/dingtalk", a.ding.Handler())
	}
	for platform, f := range a.forges {
		mux.Handle("/hooks/"+platform, f.Handler())
	}
	mux.Handle("/", a.web.Handler())
	return a.metrics.instrument(mux)
}

// githubKey is the GitHub App's private key: github.private_key is the PEM
// itself or a path to it; "" is no key.
func githubKey(v string) ([]byte, error) {
	if v == "" || strings.HasPrefix(strings.TrimSpace(v), "-----BEGIN") {
		return []byte(v), nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("github.private_key: %w", err)
	}
	return b, nil
}

// deriveKey derives the key of one use (account-link tokens, chart
// addresses) from the session key, so every part of ferry agrees on it.
func deriveKey(sessionKey []byte, use string) []byte {
	m := hmac.New(sha256.New, sessionKey)
	m.Write([]byte(use))
	return m.Sum(nil)
}
