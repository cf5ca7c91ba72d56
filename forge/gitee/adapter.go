package gitee

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// platform names Gitee in the store, in logs, in users.forge and in
// ferry.yaml.
const platform = "gitee"

// SystemActor is who a push from a login ferry does not know deploys as.
const SystemActor = platform

// Limits of the adapter.
const (
	maxBody    = 25 << 20         // bytes of a delivery
	jobTimeout = 60 * time.Second // of processing one delivery, once acknowledged
	maxJobs    = 32               // deliveries processed at once
	apiTimeout = 15 * time.Second // of one API call, by default
)

// Store keeps deliveries and what ferry made on Gitee (a sticky comment's
// ID, a check run's, the labels a pull request had); *storage.Store has
// it.
type Store interface {
	bot.InboxStore
	forge.Store
}

// Config is what an Adapter needs.
type Config struct {
	Engine forge.Engine // required
	Users  forge.Users  // required
	Store  Store        // required
	// WebhookSecret is the WebHook's password or signing key, whichever
	// the webhook is set to send (see the package comment). Required.
	WebhookSecret string
	// Token is a personal access token that calls Gitee's API v5: to check
	// a commenter's permission, read a pull request, answer on it and set
	// check runs. "": no API calls; ferry deploys from the webhooks and
	// says nothing on Gitee.
	Token string
	// APIURL is the API v5 base of a self-hosted Gitee
	// (https://gitee.example.com/api/v5); "": https://gitee.com/api/v5.
	APIURL string
	// BaseURL is ferry's web console, for the details link of each check
	// run; "": check runs link nowhere.
	BaseURL string
	// Bot runs the commands of pull request comments and labels; nil: they
	// are stored and not acted on.
	Bot *bot.Bot
	// RepoConfig reads a repository's .ferry.yaml, at the commit of each
	// push, label and command; nil: ferry reads none, and optional
	// environments are left out.
	RepoConfig forge.RepoConfig
	// HTTPClient calls the API; nil: a client with a 15-second timeout.
	// ferry follows no redirect with it, so that the token goes to the
	// API's host only.
	HTTPClient *http.Client
	// Ingress bounds the deliveries read at once, with the other ingress
	// routes it is shared with; nil: bounds of the adapter's own.
	Ingress *bot.Ingress
	Logger  *slog.Logger   // nil: discard
	Clock   pipeline.Clock // nil: the system clock; for timestamps and caches
}

// Adapter is ferry's Gitee webhook receiver: it verifies, stores and
// normalizes deliveries, and hands them to a forge.Core, which calls
// Gitee through the client.
type Adapter struct {
	core   *forge.Core
	api    *client // nil without a Token
	store  Store
	secret []byte
	log    *slog.Logger
	clock  pipeline.Clock

	inbox   *bot.Inbox
	refused *bot.Refusals
	ingress *bot.Ingress

	labelsMu sync.Mutex // held while a pull request's labels are compared with those last seen
}

// New checks cfg and returns an adapter. Call Run to process deliveries.
func New(cfg Config) (*Adapter, error) {
	switch {
	case cfg.Engine == nil || cfg.Users == nil || cfg.Store == nil:
		return nil, errors.New("gitee: Engine, Users and Store are required")
	case cfg.WebhookSecret == "":
		return nil, errors.New("gitee: WebhookSecret is required")
	}
	a := &Adapter{store: cfg.Store, secret: []byte(cfg.WebhookSecret), log: cfg.Logger, clock: cfg.Clock}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = pipeline.SystemClock{}
	}
	var err error
	if a.api, err = newClient(cfg, a.clock); err != nil {
		return nil, err
	}
	host := apiHost(cfg.APIURL)
	core := forge.Config{Platform: platform, Name: "Gitee", Engine: cfg.Engine, Users: cfg.Users, Store: cfg.Store,
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

// Handler serves POST /hooks/gitee.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/gitee", a.ingress.Route(a.refused, http.HandlerFunc(a.serve)))
	return mux
}

// Refusals counts the deliveries the handler refused, by reason.
func (a *Adapter) Refusals() []bot.Refusal { return a.refused.Counts() }

// Run processes the deliveries the handler acknowledged, first those a
// previous ferry acknowledged and did not process. When ctx ends it stops
// taking deliveries, waits for those being processed, and returns. Check
// runs and comments are sent by the outbox's dispatcher, through Deliver.
func (a *Adapter) Run(ctx context.Context) error { return a.inbox.Run(ctx) }
