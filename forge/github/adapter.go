package github

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// platform names GitHub in the store, in logs and in users.forge.
const platform = "github"

// SystemActor is who a push from a login ferry does not know deploys as.
const SystemActor = platform

// Limits of the adapter.
const (
	maxBody    = 25 << 20         // bytes of a delivery: GitHub caps payloads at 25 MiB
	jobTimeout = 60 * time.Second // of processing one delivery, once acknowledged
	maxJobs    = 32               // deliveries processed at once
	apiTimeout = 15 * time.Second // of one API call, by default
)

// Store keeps deliveries and what ferry made on GitHub; *storage.Store
// has it.
type Store interface {
	bot.InboxStore
	// KnownDeliveries returns which of ids were recorded.
	KnownDeliveries(ctx context.Context, platform string, ids []string) (map[string]bool, error)
	// NoticeRef and PutNoticeRef keep what an outbox destination made (a
	// sticky comment's ID), and the App installation of each repository.
	forge.Store
}

// Config is what an Adapter needs.
type Config struct {
	Engine forge.Engine // required
	Users  forge.Users  // required
	Store  Store        // required
	// WebhookSecret verifies deliveries. Required.
	WebhookSecret string
	// Bot runs the commands of pull request comments; nil: comments are
	// stored and not acted on.
	Bot *bot.Bot
	// Token calls GitHub's API: to check a commenter's permission, read a
	// pull request and answer on it. Not together with AppID.
	Token string
	// AppID and PrivateKey (PEM) call the API as a GitHub App, with a
	// token of the installation each repository's deliveries name
	// (ghinstallation, which renews it before it expires). 0: no App.
	// Without a Token or an App, ferry deploys from the webhooks and says
	// nothing on GitHub.
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
	RepoConfig forge.RepoConfig
	// RedeliverInterval is how often, as an App, ferry lists the App's
	// recent deliveries and redelivers the failed ones it did not store
	// (and once when Run starts); 0: never.
	RedeliverInterval time.Duration
	// Leader says whether this replica is the one that scans for missed
	// deliveries; nil: ferry runs alone and always scans.
	Leader pipeline.Leadership
	// HTTPClient calls the API; nil: a client with a 15-second timeout.
	HTTPClient *http.Client
	// Ingress bounds the deliveries read at once, with the other ingress
	// routes it is shared with; nil: bounds of the adapter's own.
	Ingress *bot.Ingress
	Logger  *slog.Logger   // nil: discard
	Clock   pipeline.Clock // nil: the system clock; for the permission cache
}

// Adapter is ferry's GitHub webhook receiver: it verifies, stores and
// normalizes deliveries, and hands them to a forge.Core, which calls
// GitHub through the client.
type Adapter struct {
	core   *forge.Core
	api    *client // nil without a Token or an App
	store  Store
	secret []byte
	log    *slog.Logger
	clock  pipeline.Clock

	inbox   *bot.Inbox
	refused *bot.Refusals
	ingress *bot.Ingress

	redeliverEvery time.Duration
	redeliver      redeliverState      // the redelivery loop's own
	leader         pipeline.Leadership // nil: alone, so always scans
}

// New checks cfg and returns an adapter. Call Run to process deliveries.
func New(cfg Config) (*Adapter, error) {
	switch {
	case cfg.Engine == nil || cfg.Users == nil || cfg.Store == nil:
		return nil, errors.New("github: Engine, Users and Store are required")
	case cfg.WebhookSecret == "":
		return nil, errors.New("github: WebhookSecret is required")
	}
	a := &Adapter{store: cfg.Store, secret: []byte(cfg.WebhookSecret), log: cfg.Logger, clock: cfg.Clock, redeliverEvery: cfg.RedeliverInterval, leader: cfg.Leader}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = pipeline.SystemClock{}
	}
	var err error
	if a.api, err = newClient(cfg, a.log, a.clock); err != nil {
		return nil, err
	}
	host := apiHost(cfg.APIURL)
	core := forge.Config{Platform: platform, Name: "GitHub", Engine: cfg.Engine, Users: cfg.Users, Store: cfg.Store,
		RepoOn: func(u string) (string, bool) { return repoOn(u, host) },
		Bot:    cfg.Bot, RepoConfig: cfg.RepoConfig, BaseURL: cfg.BaseURL, Logger: a.log, Clock: a.clock}
	if a.api != nil { // a nil *client is not a nil forge.Client
		core.Client = a.api
	}
	in, err := forge.NewIntake(forge.IntakeConfig{Core: core, Ingress: cfg.Ingress, Store: cfg.Store, Handle: a.handle,
		Workers: maxJobs, Timeout: jobTimeout})
	if err != nil {
		return nil, err
	}
	a.refused, a.ingress, a.core, a.inbox = in.Refused, in.Ingress, in.Core, in.Inbox
	return a, nil
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
