package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// platform names DingTalk in the store and in logs; a custom robot's
// notices are those of platform RobotPlatform(name).
const platform = "dingtalk"

// RobotPlatform is the outbox platform of a custom robot's notices: each
// robot has its own, so that one robot held back by its rate limit holds
// back no other.
func RobotPlatform(name string) string { return "dingtalk-robot/" + name }

// Modes of receiving commands.
const (
	ModeStream = "stream" // a Stream connection ferry opens: no public address needed
	ModeHTTP   = "http"   // DingTalk POSTs to /chat/dingtalk
)

// Users is what the adapter needs of ferry's configuration, to mention
// who may approve; *config.Config has it.
type Users interface {
	User(name string) (pipeline.User, bool)
	Team(name string) (pipeline.Team, bool)
}

// Projects are ferry's projects, read at each use so that cards follow a
// reload of the configuration; *config.Live has them.
type Projects interface {
	Projects() []pipeline.Project // who approves in each environment
	// DingTalkGroup is the group (openConversationId) of a project's
	// cards; "": it has none.
	DingTalkGroup(project string) string
}

// Store is what the adapter keeps in ferry's database; *storage.Store has
// it.
type Store interface {
	bot.InboxStore
	// AddNotices queues digests in the outbox.
	AddNotices(ctx context.Context, ns []pipeline.Notice) error
}

// Robot is a custom group robot (自定义机器人): a webhook that takes
// messages, signed with its secret (加签), notification-only.
type Robot struct {
	Name    string // required: how digests and the outbox name it
	Webhook string // required: https://oapi.dingtalk.com/robot/send?access_token=…
	Secret  string // SEC…; "": the robot is not signed (a keyword or IP allow-list guards it)
	// Cards says which deploys' cards the robot gets; nil: none (digests
	// only).
	Cards func(d pipeline.Deploy) bool
}

// Config is what an Adapter needs.
type Config struct {
	Bot      *bot.Bot      // required: runs commands
	Users    Users         // required
	Store    Store         // required
	Accounts *bot.Accounts // required: who a DingTalk user is, and link addresses
	// ClientID and ClientSecret are the enterprise-internal app's AppKey
	// and AppSecret; the secret also signs HTTP-mode callbacks. "": no app
	// (robots only: no commands, cards or DMs).
	ClientID, ClientSecret string
	// RobotCode is the app's robot; "": the ClientID.
	RobotCode string
	// Mode is ModeStream (the default) or ModeHTTP.
	Mode string
	// CardTemplateID is the interactive card template (cards/deploy.json
	// imported); "": cards are ActionCard messages whose buttons open the
	// web console.
	CardTemplateID string
	// Projects are ferry's projects, and the groups of their cards.
	// Required.
	Projects Projects
	// DefaultGroup takes the cards of projects without a group ("": not
	// posted).
	DefaultGroup string
	Robots       []Robot
	// UpdateEvery is the least time between two updates of one card (see
	// Pace): DingTalk limits the calls of an app a second. 0 means one
	// second, a negative value no pause.
	UpdateEvery time.Duration
	// APIURL is the OpenAPI's base address; "": DefaultAPIURL. Tests point
	// it at a fake, which the Stream connection then opens at too.
	APIURL string
	// HTTPClient calls DingTalk; nil: a client with a 15-second timeout.
	HTTPClient *http.Client
	// Ingress bounds the requests read at once, shared with the other
	// ingress routes; nil: bounds of the adapter's own.
	Ingress *bot.Ingress
	Logger  *slog.Logger   // nil: discard
	Clock   pipeline.Clock // nil: the system clock
}

// Limits of the adapter.
const (
	maxBody    = 64 << 10         // bytes of a callback from DingTalk
	maxSkew    = time.Hour        // between an HTTP callback's timestamp and now, as DingTalk documents it
	jobTimeout = 30 * time.Second // of one command, once acknowledged
	maxJobs    = 16               // commands run at once
)

// Adapter is ferry's DingTalk app: its robot's commands over Stream or
// HTTP, the card callbacks, and the outbox's sinks for DingTalk (cards,
// DMs, digests) and for each custom robot.
type Adapter struct {
	bot       *bot.Bot
	users     Users
	store     Store
	accounts  *bot.Accounts
	api       *openAPI
	http      *http.Client
	secret    []byte
	robotCode string
	mode      string
	template  string
	group     string
	projects  Projects
	robots    map[string]*robot
	every     time.Duration
	log       *slog.Logger
	clock     pipeline.Clock

	inbox   *bot.Inbox
	refused *bot.Refusals
	gate    *bot.Ingress
}

// New checks cfg and returns an adapter. Call Run to start its background
// work.
func New(cfg Config) (*Adapter, error) {
	switch {
	case cfg.Bot == nil || cfg.Projects == nil || cfg.Users == nil || cfg.Store == nil || cfg.Accounts == nil:
		return nil, errors.New("dingtalk: Bot, Projects, Users, Store and Accounts are required")
	case (cfg.ClientID == "") != (cfg.ClientSecret == ""):
		return nil, errors.New("dingtalk: ClientID and ClientSecret go together")
	case cfg.ClientID == "" && len(cfg.Robots) == 0:
		return nil, errors.New("dingtalk: an app (ClientID) or robots are required")
	case cfg.Mode != "" && cfg.Mode != ModeStream && cfg.Mode != ModeHTTP:
		return nil, fmt.Errorf("dingtalk: Mode is %q, not stream or http", cfg.Mode)
	}
	a := &Adapter{
		bot: cfg.Bot, users: cfg.Users, store: cfg.Store, accounts: cfg.Accounts, http: cfg.HTTPClient,
		secret: []byte(cfg.ClientSecret), robotCode: cfg.RobotCode, mode: cfg.Mode, template: cfg.CardTemplateID,
		group: cfg.DefaultGroup, projects: cfg.Projects, robots: map[string]*robot{},
		every: cfg.UpdateEvery, log: cfg.Logger, clock: cfg.Clock,
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
	if a.mode == "" {
		a.mode = ModeStream
	}
	switch {
	case a.every == 0:
		a.every = time.Second
	case a.every < 0:
		a.every = 0
	}
	if a.robotCode == "" {
		a.robotCode = cfg.ClientID
	}
	base := strings.TrimRight(cfg.APIURL, "/")
	if base == "" {
		base = DefaultAPIURL
	}
	a.api = &openAPI{base: base, clientID: cfg.ClientID, clientSecret: cfg.ClientSecret, http: a.http, clock: a.clock}
	for _, r := range cfg.Robots {
		if r.Name == "" || r.Webhook == "" {
			return nil, errors.New("dingtalk: a robot needs a Name and a Webhook")
		}
		if a.robots[r.Name] != nil {
			return nil, fmt.Errorf("dingtalk: two robots are named %s", r.Name)
		}
		a.robots[r.Name] = &robot{Robot: r}
	}
	a.refused = &bot.Refusals{Platform: platform, Log: a.log, Now: a.clock.Now}
	if a.gate = cfg.Ingress; a.gate == nil {
		a.gate = bot.NewIngress(bot.IngressLimits{})
	}
	var err error
	a.inbox, err = bot.NewInbox(bot.InboxConfig{Platform: platform, Store: cfg.Store, Handle: a.handle,
		Workers: maxJobs, Timeout: jobTimeout, Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("dingtalk: %w", err)
	}
	return a, nil
}

// app reports whether the adapter runs as an app (not robots only).
func (a *Adapter) app() bool { return a.api.clientID != "" }

// Refusals counts the requests the HTTP route refused, by reason.
func (a *Adapter) Refusals() []bot.Refusal { return a.refused.Counts() }

// Run opens the Stream connection (in stream mode) and runs the commands
// and clicks DingTalk delivered, first those a previous ferry stored and
// did not run. When ctx ends it closes the connection, waits for the
// commands running, and returns.
func (a *Adapter) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if a.app() && a.mode == ModeStream {
		wg.Go(func() { a.runStream(ctx) })
	}
	err := a.inbox.Run(ctx)
	wg.Wait()
	return err
}

// Handler serves POST /chat/dingtalk in HTTP mode; otherwise it answers 404.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	if a.app() && a.mode == ModeHTTP {
		mux.HandleFunc("POST /chat/dingtalk", a.serveHTTP)
	}
	return a.gate.Route(a.refused, mux)
}

// groupOf is the group a project's cards go to; "" for none.
func (a *Adapter) groupOf(project string) string {
	if g := a.projects.DingTalkGroup(project); g != "" {
		return g
	}
	return a.group
}

// logErr logs an error the person who asked does not see.
func (a *Adapter) logErr(ctx context.Context, msg string, err error, keys ...any) {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return
	}
	a.log.ErrorContext(ctx, "dingtalk: "+msg, append(keys, "platform", platform, "err", err)...)
}
