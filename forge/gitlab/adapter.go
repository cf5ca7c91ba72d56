package gitlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// platform names GitLab in the store, in logs, in users.forge and in
// ferry.yaml.
const platform = "gitlab"

// SystemActor is who a push from a username ferry does not know deploys
// as; it is the platform's name too.
const SystemActor = platform

// Limits of the adapter.
const (
	maxBody    = 25 << 20         // bytes of a delivery: GitLab's own limit for a webhook payload is 25 MiB
	jobTimeout = 60 * time.Second // of processing one delivery, once acknowledged
	maxJobs    = 32               // deliveries processed at once
	apiTimeout = 15 * time.Second // of one API call, by default
)

// Store keeps deliveries and what ferry made on GitLab (a sticky note's
// ID, what it shows); *storage.Store has it.
type Store interface {
	bot.InboxStore
	forge.Store
}

// Config is what an Adapter needs.
type Config struct {
	Engine forge.Engine // required
	Users  forge.Users  // required
	Store  Store        // required
	// WebhookSecret is the webhook's Secret token, which GitLab sends
	// verbatim in X-Gitlab-Token. Required.
	WebhookSecret string
	// SigningToken is the webhook's Signing token as GitLab shows it,
	// "whsec_" + base64: with it, each delivery's webhook-signature
	// (Standard Webhooks) must verify too, over its ID, timestamp and
	// body; "": the secret token alone.
	SigningToken string
	// Token calls GitLab's API: a personal, project or group access token
	// with the api scope (see the package doc for the role it needs). "":
	// no API calls; ferry deploys from the webhooks and says nothing on
	// GitLab.
	Token string
	// APIURL is the instance, https://gitlab.example.com, with or without
	// /api/v4; "": https://gitlab.com.
	APIURL string
	// BaseURL is ferry's web console, for the link of each commit status;
	// "": statuses link nowhere.
	BaseURL string
	// Bot runs the commands of merge request notes, labels and approvals;
	// nil: they are not acted on.
	Bot *bot.Bot
	// RepoConfig reads a repository's .ferry.yaml, at the commit of each
	// push, label and command, for the events of its repository; nil:
	// ferry reads none, and optional environments are left out.
	RepoConfig forge.RepoConfig
	// HTTPClient calls the API; nil: a client with a 15-second timeout.
	HTTPClient *http.Client
	// Ingress bounds the deliveries read at once, with the other ingress
	// routes it is shared with; nil: bounds of the adapter's own.
	Ingress *bot.Ingress
	Logger  *slog.Logger   // nil: discard
	Clock   pipeline.Clock // nil: the system clock; for signatures' timestamps and the access cache
}

// Adapter is ferry's GitLab webhook receiver: it verifies, stores and
// normalizes deliveries, and hands them to a forge.Core, which calls
// GitLab through the client.
type Adapter struct {
	core    *forge.Core
	api     *client // nil without a Token
	secret  [32]byte
	signing []byte // the signing token's key; nil without one
	log     *slog.Logger
	clock   pipeline.Clock

	inbox   *bot.Inbox
	refused *bot.Refusals
	ingress *bot.Ingress
}

// New checks cfg and returns an adapter. Call Run to process deliveries.
func New(cfg Config) (*Adapter, error) {
	switch {
	case cfg.Engine == nil || cfg.Users == nil || cfg.Store == nil:
		return nil, errors.New("gitlab: Engine, Users and Store are required")
	case cfg.WebhookSecret == "":
		return nil, errors.New("gitlab: WebhookSecret is required")
	}
	a := &Adapter{secret: digest(cfg.WebhookSecret), log: cfg.Logger, clock: cfg.Clock}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = pipeline.SystemClock{}
	}
	var err error
	if cfg.SigningToken != "" {
		if a.signing, err = signingKey(cfg.SigningToken); err != nil {
			return nil, fmt.Errorf("gitlab: SigningToken: %w", err)
		}
	}
	if a.api, err = newClient(cfg, a.log, a.clock); err != nil {
		return nil, err
	}
	inst := instanceOf(cfg.APIURL)
	core := forge.Config{Platform: platform, Name: "GitLab", Engine: cfg.Engine, Users: cfg.Users, Store: cfg.Store,
		RepoOn: func(u string) (string, bool) { return repoOn(u, inst) },
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

// Handler serves POST /hooks/gitlab.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/gitlab", a.ingress.Route(a.refused, http.HandlerFunc(a.serve)))
	return mux
}

// Refusals counts the deliveries the handler refused, by reason.
func (a *Adapter) Refusals() []bot.Refusal { return a.refused.Counts() }

// Run processes the deliveries the handler acknowledged, first those a
// previous ferry acknowledged and did not process. When ctx ends it stops
// taking deliveries, waits for those being processed, and returns.
// Statuses, deployments and notes are sent by the outbox's dispatcher,
// through Deliver.
func (a *Adapter) Run(ctx context.Context) error { return a.inbox.Run(ctx) }
