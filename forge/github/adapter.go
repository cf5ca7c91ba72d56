package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// platform names GitHub in the store, in logs and in users.forge.
const platform = "github"

// SystemActor is who a push from a login ferry does not know deploys as.
const SystemActor = "github"

// Limits of the adapter.
const (
	maxBody    = 25 << 20         // bytes of a delivery: GitHub caps payloads at 25 MiB
	jobTimeout = 60 * time.Second // of processing one delivery, once acknowledged
	maxJobs    = 32               // deliveries processed at once
	permTTL    = time.Minute      // how long a commenter's permission is kept
)

// Users is what the adapter needs of ferry's configuration; *config.Config
// has it.
type Users interface {
	UserByForge(platform, login string) (pipeline.User, bool)
	Actor(name string) pipeline.Actor
}

// Store keeps deliveries and what ferry made on GitHub; *storage.SQLite
// has it.
type Store interface {
	bot.InboxStore
	// KnownDeliveries returns which of ids were recorded.
	KnownDeliveries(ctx context.Context, platform string, ids []string) (map[string]bool, error)
	// NoticeRef and PutNoticeRef keep what an outbox destination made (a
	// sticky comment's ID), and the App installation of each repository.
	NoticeRef(ctx context.Context, platform, dest string) (string, error)
	PutNoticeRef(ctx context.Context, platform, dest, ref string) error
}

// RepoConfig applies a repository's .ferry.yaml (data; nil when it has
// none) to a project of the repository; *config.Config has it. The error
// is the file's problems, one a line.
type RepoConfig interface {
	RepoProject(p pipeline.Project, file string, data []byte) (pipeline.Project, error)
}

// Engine is what the adapter asks of the pipeline; *pipeline.Engine has it.
type Engine interface {
	Projects() []pipeline.Project
	Request(ctx context.Context, a pipeline.Actor, r pipeline.Request) (pipeline.Deploy, error)
	Deploys(ctx context.Context, f pipeline.DeployFilter) ([]pipeline.Deploy, error)
}

// Config is what an Adapter needs.
type Config struct {
	Engine Engine // required
	Users  Users  // required
	Store  Store  // required
	// WebhookSecret verifies deliveries. Required.
	WebhookSecret string
	// Bot runs the commands of pull request comments; nil: comments are
	// stored and not acted on.
	Bot *bot.Bot
	// Token calls GitHub's API: to check a commenter's permission, read a
	// pull request and answer on it. Not together with AppID.
	Token string
	// AppID and PrivateKey (PEM) call the API as a GitHub App, with a
	// token of the installation each delivery names (ghinstallation,
	// which renews it before it expires). 0: no App. Without a Token or
	// an App, comments are not acted on.
	AppID      int64
	PrivateKey []byte
	// APIURL is a GitHub Enterprise Server's address (api/v3/ is added as
	// go-github does); "": api.github.com.
	APIURL string
	// BaseURL is ferry's web console, for the link of each commit status;
	// "": statuses link nowhere.
	BaseURL string
	// RepoConfig reads a repository's .ferry.yaml, at the commit of each
	// push, label and command, for the events of its repository; nil:
	// ferry reads none, and optional environments are left out.
	RepoConfig RepoConfig
	// RedeliverInterval is how often, as an App, ferry lists the App's
	// recent deliveries and redelivers the failed ones it did not store
	// (and once when Run starts); 0: never.
	RedeliverInterval time.Duration
	// HTTPClient calls the API; nil: a client with a 15-second timeout.
	HTTPClient *http.Client
	// Ingress bounds the deliveries read at once, with the other ingress
	// routes it is shared with; nil: bounds of the adapter's own.
	Ingress *bot.Ingress
	Logger  *slog.Logger   // nil: discard
	Clock   pipeline.Clock // nil: the system clock; for the permission cache
}

// Adapter is ferry's GitHub webhook receiver.
type Adapter struct {
	engine Engine
	users  Users
	store  Store
	secret []byte
	bot    *bot.Bot
	api    *gh.Client                    // with a Token; nil otherwise
	app    *ghinstallation.AppsTransport // with an App; nil otherwise
	appAPI *gh.Client                    // calls as the App itself (its JWT); nil without an App
	newAPI func(http.RoundTripper) (*gh.Client, error)
	apiMu  sync.Mutex
	apis   map[int64]*gh.Client // an App's clients, by installation
	log    *slog.Logger
	clock  pipeline.Clock

	baseURL string
	host    string // the API's Enterprise host; "" for github.com

	instMu   sync.Mutex
	installs map[string]int64 // owner/name, lower case → App installation
	stickyMu sync.Mutex       // held while a sticky comment is found and written

	permMu  sync.Mutex
	perms   map[string]permEntry // owner/repo/login → permission
	inbox   *bot.Inbox
	refused *bot.Refusals
	ingress *bot.Ingress

	repoConfig RepoConfig
	repoFiles  repoFiles

	redeliverEvery time.Duration
	redeliver      redeliverState // the redelivery loop's own
}

// New checks cfg and returns an adapter. Call Run to process deliveries.
func New(cfg Config) (*Adapter, error) {
	switch {
	case cfg.Engine == nil || cfg.Users == nil || cfg.Store == nil:
		return nil, errors.New("github: Engine, Users and Store are required")
	case cfg.WebhookSecret == "":
		return nil, errors.New("github: WebhookSecret is required")
	}
	a := &Adapter{engine: cfg.Engine, users: cfg.Users, store: cfg.Store, secret: []byte(cfg.WebhookSecret), bot: cfg.Bot, log: cfg.Logger, clock: cfg.Clock, perms: map[string]permEntry{},
		baseURL: cfg.BaseURL, installs: map[string]int64{},
		repoConfig: cfg.RepoConfig, redeliverEvery: cfg.RedeliverInterval, host: apiHost(cfg.APIURL)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = pipeline.SystemClock{}
	}
	a.refused = &bot.Refusals{Platform: platform, Log: a.log, Now: a.clock.Now}
	if a.ingress = cfg.Ingress; a.ingress == nil {
		a.ingress = bot.NewIngress(bot.IngressLimits{})
	}
	var err error
	a.inbox, err = bot.NewInbox(bot.InboxConfig{Platform: platform, Store: cfg.Store, Handle: a.handle,
		Workers: maxJobs, Timeout: jobTimeout, Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	a.apis = map[int64]*gh.Client{}
	a.newAPI = func(tr http.RoundTripper) (*gh.Client, error) {
		c := *hc
		if tr != nil {
			c.Transport = tr
		}
		opts := []gh.ClientOptionsFunc{gh.WithHTTPClient(&c)}
		if cfg.APIURL != "" {
			opts = append(opts, gh.WithEnterpriseURLs(cfg.APIURL, cfg.APIURL))
		}
		if tr == nil {
			opts = append(opts, gh.WithAuthToken(cfg.Token))
		}
		return gh.NewClient(opts...)
	}
	switch {
	case cfg.Token != "" && cfg.AppID != 0:
		return nil, errors.New("github: a Token or an App (AppID, PrivateKey), not both")
	case cfg.Token != "":
		api, err := a.newAPI(nil)
		if err != nil {
			return nil, fmt.Errorf("github: API client: %w", err)
		}
		a.api = api
	case cfg.AppID != 0:
		base := hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		atr, err := ghinstallation.NewAppsTransport(base, cfg.AppID, cfg.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("github: App %d: %w", cfg.AppID, err) // the error names no part of the key
		}
		probe, err := a.newAPI(base)
		if err != nil {
			return nil, fmt.Errorf("github: API client: %w", err)
		}
		atr.BaseURL = strings.TrimRight(probe.BaseURL(), "/")
		a.app = atr
		if a.appAPI, err = a.newAPI(atr); err != nil {
			return nil, fmt.Errorf("github: API client: %w", err)
		}
	}
	return a, nil
}

// client returns the API client for a delivery of installation: the
// token's, or the App's for that installation.
func (a *Adapter) client(installation int64) (*gh.Client, error) {
	switch {
	case a.api != nil:
		return a.api, nil
	case a.app == nil:
		return nil, bot.Permanent(errors.New("no token and no App configured: set github.token or github.app_id"))
	case installation == 0:
		return nil, errors.New("the delivery names no App installation")
	}
	a.apiMu.Lock()
	defer a.apiMu.Unlock()
	if c, ok := a.apis[installation]; ok {
		return c, nil
	}
	itr := ghinstallation.NewFromAppsTransport(a.app, installation)
	itr.BaseURL = a.app.BaseURL
	c, err := a.newAPI(itr)
	if err != nil {
		return nil, err
	}
	a.apis[installation] = c
	return c, nil
}

// Handler serves POST /hooks/github.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/github", a.ingress.Route(a.refused, http.HandlerFunc(a.serve)))
	return mux
}

// Refusals counts the deliveries the handler refused, by reason.
func (a *Adapter) Refusals() []bot.Refusal { return a.refused.Counts() }

// Run processes the deliveries the handler acknowledged, first those a
// previous ferry acknowledged and did not process. When ctx ends it stops
// taking deliveries, waits for those being processed, and returns.
// Statuses and comments are sent by the outbox's dispatcher, through
// Deliver.
func (a *Adapter) Run(ctx context.Context) error {
	redelivered := make(chan struct{})
	go func() { a.redeliverLoop(ctx); close(redelivered) }()
	err := a.inbox.Run(ctx)
	<-redelivered
	return err
}
