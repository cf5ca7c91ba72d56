package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

// Users verifies people; cmd/ferry adapts the configuration to it.
type Users interface {
	// User returns the person signing in by name; PasswordHash is bcrypt.
	User(name string) (pipeline.User, bool)
	// UserByToken returns the owner of an API bearer token. Comparing
	// tokens in constant time is the implementer's job.
	UserByToken(token string) (pipeline.User, bool)
	// Actor is the identity commands of the named user run as.
	Actor(name string) pipeline.Actor
}

// Config is what a Server needs.
type Config struct {
	Bot    *bot.Bot         // required: runs the commands
	Engine *pipeline.Engine // required: the board, history and deploy details
	Users  Users            // required
	// Sessions keeps sign-outs and failed sign-ins across restarts;
	// required. *storage.Store has it.
	Sessions Sessions
	// SessionKey signs session cookies and derives CSRF tokens; at least
	// 32 bytes, required. Changing it signs everybody out.
	SessionKey []byte
	// BaseURL is where people reach ferry, like http://127.0.0.1:8080.
	// Cookies are Secure when it is https, and its origin is trusted for
	// cross-origin checks. "": cookies are not Secure.
	BaseURL string
	// Linker links chat accounts to ferry users at /link/{token}; nil: those
	// pages are not served.
	Linker Linker
	// Dashboards serve the metrics and leaderboard pages; nil: those pages
	// are not served.
	Dashboards *dashboards.Dashboards
	// Outbox serves the Outbox page and /api/v1/outbox to admins; nil:
	// those routes answer 404, saying the outbox is not available.
	Outbox Outbox
	// Replicas carries the changes of deploys between the consoles of
	// replicas sharing a database; *storage.Store has it. nil: ferry runs
	// alone, and its console hears of every change through Deliver.
	Replicas Replicas
	// Tokens keeps personal API tokens, made on the Tokens page; nil: only
	// ferry.yaml's tokens work, and the page is not served.
	Tokens TokenStore
	// Setup serves the admins' one-click set-up pages of Slack and GitHub.
	Setup Setup
	// OIDC is the identity provider people may sign in with; nil: none.
	// Its callback is BaseURL/login/oidc/callback.
	OIDC *OIDC
	// NoPassword switches signing in with a password off, and ends the
	// sessions signed in with one.
	NoPassword bool
	// Reload reads the configuration file again for an admin at POST
	// /api/v1/reload; nil: that route answers 404.
	Reload Reload
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now; for session expiry and sign-in throttling
}

// Limits of the server.
const (
	maxBody    = 64 << 10 // bytes of any request body
	sessionTTL = 12 * time.Hour
	pingEvery  = 15 * time.Second
)

// Server serves the console and the API. It is the engine's notifier.
type Server struct {
	bot        *bot.Bot
	engine     *pipeline.Engine
	users      Users
	sessions   Sessions
	linker     Linker
	dash       *dashboards.Dashboards
	outbox     Outbox
	replicas   Replicas
	tokens     TokenStore
	setup      Setup
	idp        *idp // nil without OIDC
	noPassword bool
	reload     Reload // nil: none
	baseURL    string // BaseURL without a trailing /
	key        []byte
	secure     bool
	origin     string // scheme://host of BaseURL; "" for none
	log        *slog.Logger
	now        func() time.Time

	pages   map[string]*template.Template // page name → layout + partials + page
	parts   *template.Template            // partials: card, reply
	static  fs.FS
	assets  map[string]string // asset name → content hash, for cache busting
	ping    time.Duration
	dummy   func() []byte // a bcrypt hash to compare against for unknown names
	flashes *flashes
	hub     *hub
}

// New checks cfg and returns a server.
func New(cfg Config) (*Server, error) {
	if cfg.Bot == nil || cfg.Engine == nil || cfg.Users == nil || cfg.Sessions == nil {
		return nil, errors.New("web: Bot, Engine, Users and Sessions are required")
	}
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("web: SessionKey must be at least 32 bytes")
	}
	s := &Server{
		bot: cfg.Bot, engine: cfg.Engine, users: cfg.Users, sessions: cfg.Sessions, linker: cfg.Linker, dash: cfg.Dashboards, outbox: cfg.Outbox, replicas: cfg.Replicas, tokens: cfg.Tokens, setup: cfg.Setup, reload: cfg.Reload, baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		key: append([]byte(nil), cfg.SessionKey...),
		log: cfg.Logger, now: cfg.Now,
		ping:    pingEvery,
		dummy:   sync.OnceValue(dummyHash),
		flashes: newFlashes(),
		hub:     newHub(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.NoPassword && cfg.OIDC == nil {
		return nil, errors.New("web: NoPassword needs OIDC, or nobody could sign in")
	}
	if o := cfg.OIDC; o != nil {
		if o.People == nil || o.Issuer == "" || o.ClientID == "" || cfg.BaseURL == "" {
			return nil, errors.New("web: OIDC needs Issuer, ClientID, People and a BaseURL for its callback")
		}
		s.idp = &idp{OIDC: *o, redirect: s.baseURL + callback}
		if s.idp.Client == nil {
			s.idp.Client = &http.Client{Timeout: oidcWait}
		}
	}
	s.noPassword = cfg.NoPassword
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("web: BaseURL %q is not an http or https address", cfg.BaseURL)
		}
		s.secure = u.Scheme == "https"
		s.origin = u.Scheme + "://" + u.Host
	}
	if err := s.loadTemplates(); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler serves every route of the console and the API.
func (s *Server) Handler() http.Handler {
	console := http.NewServeMux()
	console.HandleFunc("GET /{$}", s.page(s.console))
	console.HandleFunc("GET /login", s.loginPage)
	console.HandleFunc("POST /login", s.login)
	console.HandleFunc("POST /logout", s.form(s.logout))
	if s.idp != nil {
		console.HandleFunc("GET "+oidcPath, s.oidcStart)
		console.HandleFunc("GET "+callback, s.oidcCallback)
	}
	console.HandleFunc("POST /console/command", s.form(s.command))
	console.HandleFunc("POST /console/action", s.form(s.action))
	console.HandleFunc("GET /events", s.events)
	console.HandleFunc("GET /board", s.page(s.boardPage))
	console.HandleFunc("GET /deploys/{id}", s.page(s.deployPage))
	console.HandleFunc("GET /history", s.page(s.historyPage))
	console.HandleFunc("GET /audit", s.page(s.auditPage))
	console.HandleFunc("GET /outbox", s.page(s.outboxPage))
	console.HandleFunc("POST /outbox/{id}/retry", s.form(s.outboxRetry))
	console.HandleFunc("GET /setup/slack", s.page(s.setupSlack))
	console.HandleFunc("GET /setup/github", s.page(s.setupGitHub))
	console.HandleFunc("GET /setup/github/callback", s.page(s.githubCallback))
	console.HandleFunc("GET /tokens", s.page(s.tokensPage))
	console.HandleFunc("POST /tokens", s.form(s.createToken))
	console.HandleFunc("POST /tokens/{id}/revoke", s.form(s.revokeToken))
	console.HandleFunc("GET /deploys/{id}/live", s.page(s.deployLive))
	if s.dash != nil {
		console.HandleFunc("GET /dashboard", s.page(s.dashboardPage))
		console.HandleFunc("GET /leaderboards", s.page(s.leaderboardsPage))
	}
	console.Handle("GET /static/", s.staticHandler())
	if s.linker != nil {
		console.HandleFunc("GET /link/{token}", s.page(s.linkPage))
		console.HandleFunc("POST /link/{token}", s.form(s.link))
	}

	cop := http.NewCrossOriginProtection()
	if s.origin != "" {
		_ = cop.AddTrustedOrigin(s.origin) // checked in New
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.refuse(w, r, http.StatusForbidden, "ferry refused a request sent from another site; use ferry's own pages")
	}))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/commands", s.api(s.apiCommand))
	mux.HandleFunc("GET /api/v1/deploys/{id}", s.api(s.apiDeploy))
	mux.HandleFunc("GET /api/v1/deploys", s.api(s.apiDeploys))
	mux.HandleFunc("GET /api/v1/board", s.api(s.apiBoard))
	mux.HandleFunc("GET /api/v1/audit", s.api(s.apiAudit))
	mux.HandleFunc("GET /api/v1/outbox", s.api(s.apiOutbox))
	mux.HandleFunc("POST /api/v1/outbox/{id}/retry", s.api(s.apiOutboxRetry))
	mux.HandleFunc("POST /api/v1/reload", s.api(s.apiReload))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, APIError{Error: r.Method + " " + r.URL.Path + " is not part of ferry's API"})
	})
	mux.Handle("/", cop.Handler(console))
	return s.guard(mux)
}

// contentPolicy is the Content-Security-Policy of every page: only ferry's
// own scripts, styles and forms, plus forms posting to formTo if set.
func contentPolicy(formTo string) string {
	if formTo != "" {
		formTo = " " + formTo
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'" + formTo + "; frame-ancestors 'none'; base-uri 'none'"
}

// guard caps every request body and sets the headers every response needs.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentPolicy(""))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if r.ContentLength > maxBody {
			s.refuse(w, r, http.StatusRequestEntityTooLarge, tooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

const tooLarge = "the request is larger than ferry accepts (64 KiB)"

// kindStatus is the HTTP status of each kind of failed command.
var kindStatus = map[bot.ErrorKind]int{
	bot.KindInvalid:   http.StatusBadRequest,
	bot.KindForbidden: http.StatusForbidden,
	bot.KindNotFound:  http.StatusNotFound,
	bot.KindConflict:  http.StatusConflict,
	bot.KindLocked:    http.StatusLocked,
	bot.KindInternal:  http.StatusInternalServerError,
}

// status maps an error to the HTTP status of the answer. It is the one
// place errors become statuses; replies of failed commands go through
// replyStatus, which reads the same table.
func status(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return kindStatus[bot.ErrorKindOf(err)]
}

// replyStatus is the HTTP status of a command's reply.
func replyStatus(r bot.Reply) int {
	if !r.Error {
		return http.StatusOK
	}
	if st, ok := kindStatus[r.Kind]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// explain is what a person may read about err, and its status. Errors that
// are not about the request are logged, with the keys given, and not shown.
func (s *Server) explain(ctx context.Context, err error, keys ...any) (string, int) {
	st := status(err)
	if st == http.StatusRequestEntityTooLarge {
		return tooLarge, st
	}
	msg, ok := bot.Explain(err)
	if !ok {
		s.log.ErrorContext(ctx, "web: request failed", append(keys, "platform", "web", "err", err)...)
	}
	return msg, st
}

// refuse answers a request ferry will not serve: JSON for the API, a short
// page or fragment otherwise.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, st int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, st, APIError{Error: msg})
		return
	}
	if fromScript(r) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(st)
		s.renderPart(w, "notice", notice{Error: true, Text: msg})
		return
	}
	s.renderPage(w, r, st, "error", pageData{Title: http.StatusText(st)}, notice{Error: true, Text: msg})
}

// fromScript reports whether the console's script sent the request with
// fetch and wants an HTML fragment back rather than a page.
func fromScript(r *http.Request) bool { return r.Header.Get("X-Requested-With") == "fetch" }

// localPath returns p if it is a path on this server, else "/". Both p and
// the path it is written as are checked: /%2Fevil.example/é is written
// //evil.example/%C3%A9, another site's address.
func localPath(p string) string {
	local := func(p string) bool {
		return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "/\\")
	}
	if !local(p) {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Host != "" || u.Scheme != "" || !local(u.RequestURI()) {
		return "/"
	}
	return u.RequestURI()
}
