package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// platform names Slack in the store and in logs.
const platform = "slack"

// Users is what the adapter needs of ferry's configuration, to mention
// who may approve; *config.Config has it.
type Users interface {
	User(name string) (pipeline.User, bool)
	Team(name string) (pipeline.Team, bool)
}

// Projects are ferry's projects, read at each use so that cards follow a
// reload of the configuration; *config.Live and *pipeline.Engine have
// them.
type Projects interface {
	Projects() []pipeline.Project
}

// Store is what the adapter keeps in ferry's database; *storage.Store has
// it.
type Store interface {
	bot.InboxStore
	// AddNotices queues digests in the outbox.
	AddNotices(ctx context.Context, ns []pipeline.Notice) error
}

// Config is what an Adapter needs.
type Config struct {
	Bot *bot.Bot // required: runs commands
	// Projects are ferry's projects: their channels, and who approves.
	// Required.
	Projects Projects
	Users    Users // required
	Store    Store // required
	// Accounts says who a Slack user is and makes link addresses.
	// Required.
	Accounts *bot.Accounts
	// BotToken (xoxb-…) calls the Web API. Required.
	BotToken string
	// SigningSecret verifies HTTP requests; "": the HTTP routes answer 404
	// and Slack is heard over Socket Mode only.
	SigningSecret string
	// AppToken (xapp-…) opens Socket Mode in Run; "": no Socket Mode.
	AppToken string
	// DefaultChannel takes the cards of projects without a channel; "":
	// those cards are not posted.
	DefaultChannel string
	// UpdateEvery is the least time between two edits of one card (see
	// Pace); 0 means one second, a negative value no pause.
	UpdateEvery time.Duration
	// APIURL is the Web API's base address, ending in /; "": Slack's. Tests
	// point it at a fake.
	APIURL string
	// HTTPClient calls the Web API and response URLs; nil: a client with a
	// 15-second timeout.
	HTTPClient *http.Client
	// Ingress bounds the requests read at once, with the other ingress
	// routes it is shared with; nil: bounds of the adapter's own.
	Ingress *bot.Ingress
	Logger  *slog.Logger   // nil: discard
	Clock   pipeline.Clock // nil: the system clock; for signatures, link expiry, backoff and pauses
}

// Limits of the adapter.
const (
	maxBody      = 64 << 10         // bytes of a request from Slack
	maxSkew      = 5 * time.Minute  // between a request's timestamp and now
	linkTTL      = 10 * time.Minute // of a link address
	jobTimeout   = 30 * time.Second // of one command, once acknowledged
	maxJobs      = 32               // commands run at once
	callAttempts = 4                // tries of one answer, across rate limits
)

// Adapter is ferry's Slack app: HTTP handlers, a Socket Mode client, and
// the outbox's Slack sink, which keeps deploy cards up to date.
type Adapter struct {
	bot      *bot.Bot
	projects Projects
	users    Users
	store    Store
	api      *slackapi.Client
	http     *http.Client
	secret   []byte
	appToken string
	channel  string
	accounts *bot.Accounts
	every    time.Duration
	log      *slog.Logger
	clock    pipeline.Clock

	inbox    *bot.Inbox
	refused  *bot.Refusals
	gate     *bot.Ingress
	dms      sync.Map // Slack user ID → the ID of their direct message channel
	channels sync.Map // channel name → ID, for uploads
}

// New checks cfg and returns an adapter. Call Run to start its background
// work.
func New(cfg Config) (*Adapter, error) {
	switch {
	case cfg.Bot == nil || cfg.Projects == nil || cfg.Users == nil || cfg.Store == nil || cfg.Accounts == nil:
		return nil, errors.New("slack: Bot, Projects, Users, Store and Accounts are required")
	case !strings.HasPrefix(cfg.BotToken, "xoxb-"):
		return nil, errors.New("slack: BotToken must be a bot token (xoxb-…)")
	case cfg.AppToken != "" && !strings.HasPrefix(cfg.AppToken, "xapp-"):
		return nil, errors.New("slack: AppToken must be an app-level token (xapp-…)")
	case cfg.SigningSecret == "" && cfg.AppToken == "":
		return nil, errors.New("slack: a SigningSecret (HTTP) or an AppToken (Socket Mode) is required")
	}
	a := &Adapter{
		bot: cfg.Bot, projects: cfg.Projects, users: cfg.Users, store: cfg.Store,
		http: cfg.HTTPClient, secret: []byte(cfg.SigningSecret), appToken: cfg.AppToken,
		channel: cfg.DefaultChannel, accounts: cfg.Accounts, every: cfg.UpdateEvery,
		log: cfg.Logger, clock: cfg.Clock,
	}
	if a.http == nil {
		a.http = &http.Client{Timeout: 15 * time.Second}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = pipeline.SystemClock{}
	}
	switch {
	case a.every == 0:
		a.every = time.Second
	case a.every < 0:
		a.every = 0
	}
	opts := []slackapi.Option{slackapi.OptionHTTPClient(a.http)}
	if cfg.APIURL != "" {
		opts = append(opts, slackapi.OptionAPIURL(cfg.APIURL))
	}
	if cfg.AppToken != "" {
		opts = append(opts, slackapi.OptionAppLevelToken(cfg.AppToken))
	}
	a.api = slackapi.New(cfg.BotToken, opts...)
	a.refused = &bot.Refusals{Platform: platform, Log: a.log, Now: a.clock.Now}
	if a.gate = cfg.Ingress; a.gate == nil {
		a.gate = bot.NewIngress(bot.IngressLimits{})
	}
	var err error
	a.inbox, err = bot.NewInbox(bot.InboxConfig{Platform: platform, Store: cfg.Store, Handle: a.handle,
		Workers: maxJobs, Timeout: jobTimeout, Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	return a, nil
}

// Refusals counts the requests the handlers refused, by reason.
func (a *Adapter) Refusals() []bot.Refusal { return a.refused.Counts() }

// Run starts Socket Mode, with an app token, and runs the commands the
// handlers acknowledged, first those a previous ferry acknowledged and did
// not run. When ctx ends it stops taking commands, waits for those
// running, and returns. Cards are sent by the outbox's dispatcher, through
// Deliver.
func (a *Adapter) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if a.appToken != "" {
		wg.Go(func() { a.runSocket(ctx) })
	}
	err := a.inbox.Run(ctx)
	wg.Wait()
	return err
}

// Handler serves the three HTTP routes under /chat/slack/. Without a
// signing secret every route answers 404.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	if len(a.secret) > 0 {
		mux.HandleFunc("POST /chat/slack/commands", a.ingress("command", a.serveCommand))
		mux.HandleFunc("POST /chat/slack/interactions", a.ingress("interaction", a.serveInteraction))
		mux.HandleFunc("POST /chat/slack/events", a.ingress("event", a.serveEvent))
	}
	return a.gate.Route(a.refused, mux)
}

// logErr logs an error the person who asked does not see.
func (a *Adapter) logErr(ctx context.Context, msg string, err error, keys ...any) {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return
	}
	a.log.ErrorContext(ctx, "slack: "+msg, append(keys, "platform", platform, "err", err)...)
}
