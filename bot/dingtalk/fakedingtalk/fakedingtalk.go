// Package fakedingtalk is a fake of the parts of DingTalk (钉钉) ferry talks
// to, on an httptest.Server bound to 127.0.0.1 that speaks DingTalk's wire
// format, so that the real client code, and the Stream SDK
// (github.com/open-dingtalk/dingtalk-stream-sdk-go), run against it:
//
//   - the OpenAPI ferry calls: the app's access token
//     (/v1.0/oauth2/accessToken), interactive cards
//     (/v1.0/card/instances/createAndDeliver and PUT /v1.0/card/instances)
//     and robot messages to a group or to users
//     (/v1.0/robot/groupMessages/send, /v1.0/robot/oToMessages/batchSend),
//     each wanting a token the fake issued in x-acs-dingtalk-access-token;
//   - Stream mode: /v1.0/gateway/connections/open and the WebSocket it
//     points at, on which a test sends CALLBACK frames (robot messages, card
//     clicks), pings and disconnects, and reads the acks the client answers
//     with;
//   - the session webhooks a robot message carries (/robot/sendBySession);
//   - custom group robots (自定义机器人) with signed webhooks (加签,
//     /robot/send) and DingTalk's limit of 20 messages a minute, after which
//     a robot is throttled for 10 minutes.
//
// It records every call and what it was sent as state for tests to look at,
// runs on an injectable clock, and answers with a given failure when told to
// (FailNext). Wait blocks until a condition on that state holds, checking it
// after every change, without polling.
package fakedingtalk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Config is what the fake accepts and the clock it runs on.
type Config struct {
	// ClientID and ClientSecret are the app's AppKey and AppSecret, which
	// the token call and connections/open want; required. ClientID is also
	// a robot code the robot APIs accept.
	ClientID, ClientSecret string
	// Now is the clock for token expiry, robot signatures, session expiry
	// and rate windows; nil: time.Now.
	Now func() time.Time
	// TokenTTL is the lifetime of an access token; 0: 7200 s.
	TokenTTL time.Duration
}

// Call is one HTTP call the fake answered (or refused), in the order they
// came.
type Call struct {
	Method string
	Path   string // without the query
	Query  string // the raw query, e.g. "access_token=…&timestamp=…&sign=…"
	Body   []byte // raw
	At     time.Time
	Status int // the HTTP status answered; 101 for an accepted WebSocket
}

// Server is a fake DingTalk. The zero value is not usable; use New.
type Server struct {
	cfg      Config
	srv      *httptest.Server
	upgrader websocket.Upgrader
	appID    string // the appId header of the frames sent

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	calls   []Call
	fails   map[string][]failure // "METHOD /path" → answers to give next
	tokens  map[string]time.Time // access token → expiry
	issued  int
	codes   map[string]bool // robot codes the robot APIs accept

	stream
	cards  map[string]*Card
	robots robots
}

type failure struct {
	status int
	body   string
}

// New starts a fake DingTalk on 127.0.0.1; it stops at the end of the test.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		t.Fatal("fakedingtalk: Config.ClientID and Config.ClientSecret are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 7200 * time.Second
	}
	s := &Server{
		cfg:      cfg,
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		appID:    uuid(),
		changed:  make(chan struct{}),
		fails:    map[string][]failure{},
		tokens:   map[string]time.Time{},
		codes:    map[string]bool{cfg.ClientID: true},
		cards:    map[string]*Card{},
	}
	s.stream.init()
	s.robots.init()
	mux := http.NewServeMux()
	mux.Handle("POST /v1.0/oauth2/accessToken", s.api(false, s.accessToken))
	mux.Handle("POST /v1.0/gateway/connections/open", s.api(false, s.openConnection))
	mux.HandleFunc("GET /connect", s.connect)
	mux.Handle("POST /v1.0/card/instances/createAndDeliver", s.api(true, s.createAndDeliver))
	mux.Handle("PUT /v1.0/card/instances", s.api(true, s.updateCard))
	mux.Handle("POST /v1.0/robot/groupMessages/send", s.api(true, s.groupSend))
	mux.Handle("POST /v1.0/robot/oToMessages/batchSend", s.api(true, s.batchSend))
	mux.Handle("POST /robot/sendBySession", s.api(false, s.sendBySession))
	mux.Handle("POST /robot/send", s.api(false, s.robotSend))
	mux.Handle("/", s.api(false, notFound))

	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.Start() // httptest listens on 127.0.0.1
	t.Cleanup(func() {
		s.closeConnections()
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

// URL is the base address of the OpenAPI, e.g. http://127.0.0.1:1234 (no
// trailing /); it is also the Stream SDK's openApiHost.
func (s *Server) URL() string { return s.srv.URL }

// Calls returns every call answered, failures and refusals included, in
// order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := slices.Clone(s.calls)
	for i := range cs {
		cs[i].Body = slices.Clone(cs[i].Body)
	}
	return cs
}

// CallCount returns how many calls were made to path (without the query),
// whatever their method and answer.
func (s *Server) CallCount(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Path == path {
			n++
		}
	}
	return n
}

// FailNext makes the next n calls of method and path (without the query)
// answer status and body verbatim, as JSON, before the fake serves them
// again. It applies to every endpoint, the WebSocket's GET /connect
// included, before any check of the call.
func (s *Server) FailNext(method, path string, n int, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := method + " " + path
	for range n {
		s.fails[k] = append(s.fails[k], failure{status, body})
	}
}

// TokensIssued returns how many access tokens the token call issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// ExpireTokens makes every access token issued so far invalid at once, as
// if their time were up.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok := range s.tokens {
		s.tokens[tok] = time.Time{}
	}
}

// SetRobotCode makes code a robot code the robot APIs accept, besides
// Config.ClientID.
func (s *Server) SetRobotCode(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = true
}

// Wait blocks until cond holds, evaluating it now and after every recorded
// call, ack, connection and disconnection, or until ctx ends. cond runs
// without the fake's lock, so it may call the fake's methods.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fakedingtalk: waiting: %w", context.Cause(ctx))
		}
	}
}

// changedLocked wakes Wait; s.mu is held.
func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// handler serves one API call with s.mu held: it answers an HTTP status
// and a value to encode as JSON.
type handler func(r *http.Request, body []byte, now time.Time) (int, any)

type obj = map[string]any

// api serves an endpoint: it records the call, answers a failure FailNext
// set, checks the access token when auth, and runs h.
func (s *Server) api(auth bool, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		s.mu.Lock()
		now := s.now()
		var status int
		var out []byte
		if f, ok := s.takeFailLocked(r.Method, r.URL.Path); ok {
			status, out = f.status, []byte(f.body)
		} else {
			var v any
			switch {
			case err != nil:
				status, v = http.StatusBadRequest, apiError("InvalidParameter", "读取请求失败: "+err.Error())
			case auth && !s.authorizedLocked(r, now):
				status, v = http.StatusUnauthorized, apiError("InvalidAuthentication", "不合法的access_token")
			default:
				status, v = h(r, body, now)
			}
			out, _ = json.Marshal(v)
		}
		s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, At: now, Status: status})
		s.changedLocked()
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(out)
	})
}

// takeFailLocked returns the failure to answer method and path with next,
// if any; s.mu is held.
func (s *Server) takeFailLocked(method, path string) (failure, bool) {
	k := method + " " + path
	fs := s.fails[k]
	if len(fs) == 0 {
		return failure{}, false
	}
	s.fails[k] = fs[1:]
	return fs[0], true
}

func (s *Server) authorizedLocked(r *http.Request, now time.Time) bool {
	exp, ok := s.tokens[r.Header.Get("x-acs-dingtalk-access-token")]
	return ok && now.Before(exp)
}

// apiError is the body of an OpenAPI error.
func apiError(code, message string) obj {
	return obj{"code": code, "message": message, "requestid": uuid()}
}

func badParam(message string) (int, any) {
	return http.StatusBadRequest, apiError("InvalidParameter", message)
}

func notFound(r *http.Request, _ []byte, _ time.Time) (int, any) {
	return http.StatusNotFound, apiError("InvalidAction.NotFound", "Specified api is not found, please check your url and method: "+r.Method+" "+r.URL.Path)
}

// decode decodes a JSON request body into v.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		return fmt.Errorf("empty body")
	}
	return json.Unmarshal(body, v)
}

// accessToken serves POST /v1.0/oauth2/accessToken.
func (s *Server) accessToken(_ *http.Request, body []byte, now time.Time) (int, any) {
	var b struct {
		AppKey    string `json:"appKey"`
		AppSecret string `json:"appSecret"`
	}
	if err := decode(body, &b); err != nil {
		return badParam("请求体不是合法的JSON: " + err.Error())
	}
	if b.AppKey != s.cfg.ClientID || b.AppSecret != s.cfg.ClientSecret {
		return http.StatusBadRequest, apiError("invalidClientIdOrSecret", "无效的clientId或者clientSecret")
	}
	tok := randomHex(16)
	s.tokens[tok] = now.Add(s.cfg.TokenTTL)
	s.issued++
	return http.StatusOK, obj{"accessToken": tok, "expireIn": int64(s.cfg.TokenTTL / time.Second)}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// uuid returns a random UUID, upper case, as DingTalk's request IDs are.
func uuid() string {
	h := strings.ToUpper(randomHex(16))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
