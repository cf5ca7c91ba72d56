package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// hookServer stands in for ferry's POST /hooks/<forge>: it checks each
// delivery the way the forge's would look, answers 200 to a right token
// and 401 to a wrong one, and refuses (409, 400) what a load must never
// send: a delivery ID (GitLab's Idempotency-Key and event UUID, Gitee's
// timestamp) or a body seen before, a malformed request.
type hookServer struct {
	hook   webhook
	secret []byte
	log    io.Writer // a line per 401, as ferry logs one; nil: none
	// failEvery, when not 0, answers 503 to every failEvery-th accepted
	// delivery.
	failEvery int

	mu       sync.Mutex
	ids      map[string]bool
	bodies   map[[32]byte]bool
	accepted int
	refused  int
	problems []string
}

func newHookServer(w webhook, secret []byte) *hookServer {
	return &hookServer{hook: w, secret: secret, ids: map[string]bool{}, bodies: map[[32]byte]bool{}}
}

var (
	guid        = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	sigFormat   = regexp.MustCompile(`^sha256=[0-9a-f]{64}$`)
	tokenFormat = regexp.MustCompile(`^[0-9a-f]+$`) // the run's secret token: hex
	millisecond = regexp.MustCompile(`^[0-9]{13}$`)
)

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	ids, good, problem := h.check(r.Header)
	switch {
	case r.Method != http.MethodPost || r.URL.Path != h.hook.route():
		problem = "not POST " + h.hook.route() + ": " + r.Method + " " + r.URL.Path
	case r.Header.Get("Content-Type") != "application/json":
		problem = "content type " + r.Header.Get("Content-Type")
	case problem != "":
	case len(body) != len(h.hook.payload) || !json.Valid(body):
		problem = fmt.Sprintf("body of %d bytes, not %d, or not JSON", len(body), len(h.hook.payload))
	case h.hook.forge == forgeGitHub:
		good = hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(hubSignature(h.secret, body)))
	}
	h.mu.Lock()
	sum := sha256.Sum256(body)
	for _, id := range ids {
		if problem == "" && h.ids[id] {
			problem = "delivery ID sent twice: " + id
		}
		h.ids[id] = true
	}
	if problem == "" && h.bodies[sum] {
		problem = fmt.Sprintf("body sent twice, the second time as %s", ids)
	}
	h.bodies[sum] = true
	if problem != "" {
		h.problems = append(h.problems, problem)
	} else if good {
		h.accepted++
	} else {
		h.refused++
	}
	n := h.accepted
	h.mu.Unlock()
	switch {
	case problem != "":
		http.Error(w, problem, http.StatusConflict)
	case !good:
		if h.log != nil {
			fmt.Fprintf(h.log, "level=WARN msg=\"refused an unsigned delivery\" delivery=%s\n", ids[0])
		}
		http.Error(w, "invalid signature", http.StatusUnauthorized)
	case h.failEvery > 0 && n%h.failEvery == 0:
		http.Error(w, "busy", http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// check reads a delivery's headers as the forge sends them: the IDs that
// must be new, whether its token is right (GitHub's is decided with the
// body), or what is wrong with them.
func (h *hookServer) check(hd http.Header) (ids []string, good bool, problem string) {
	switch h.hook.forge {
	case forgeGitLab:
		id, event, token := hd.Get("Idempotency-Key"), hd.Get("X-Gitlab-Event-UUID"), hd.Get("X-Gitlab-Token")
		switch {
		case hd.Get("X-Gitlab-Event") != "Merge Request Hook" || !strings.HasPrefix(hd.Get("User-Agent"), "GitLab/"):
			return nil, false, "event or user agent: " + hd.Get("X-Gitlab-Event") + ", " + hd.Get("User-Agent")
		case !guid.MatchString(id) || !guid.MatchString(event) || id == event:
			return nil, false, fmt.Sprintf("Idempotency-Key %q or X-Gitlab-Event-UUID %q malformed", id, event)
		case len(token) != len(h.secret) || !tokenFormat.MatchString(token):
			return nil, false, fmt.Sprintf("token of %d characters, not %d hex digits", len(token), len(h.secret))
		}
		return []string{id, "event " + event}, subtle.ConstantTimeCompare([]byte(token), h.secret) == 1, ""
	case forgeGitee:
		ts, token := hd.Get("X-Gitee-Timestamp"), hd.Get("X-Gitee-Token")
		if hd.Get("X-Gitee-Event") != "Merge Request Hook" || hd.Get("User-Agent") != "git-oschina-hook" {
			return nil, false, "event or user agent: " + hd.Get("X-Gitee-Event") + ", " + hd.Get("User-Agent")
		}
		ms, err := strconv.ParseInt(ts, 10, 64)
		if !millisecond.MatchString(ts) || err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Hour {
			return nil, false, fmt.Sprintf("timestamp %q malformed or not within the hour", ts)
		}
		if mac, err := base64.StdEncoding.DecodeString(token); err != nil || len(mac) != sha256.Size {
			return nil, false, fmt.Sprintf("X-Gitee-Token %q not the Base64 of a SHA-256", token)
		}
		return []string{ts}, hmac.Equal([]byte(token), []byte(giteeToken(h.secret, ts))), ""
	default:
		id, sig := hd.Get("X-GitHub-Delivery"), hd.Get("X-Hub-Signature-256")
		switch {
		case hd.Get("X-GitHub-Event") != "pull_request" || !strings.HasPrefix(hd.Get("User-Agent"), "GitHub-Hookshot/"):
			return nil, false, "event or user agent: " + hd.Get("X-GitHub-Event") + ", " + hd.Get("User-Agent")
		case !guid.MatchString(id) || !sigFormat.MatchString(sig):
			return nil, false, fmt.Sprintf("delivery %q or signature %q malformed", id, sig)
		}
		return []string{id}, false, ""
	}
}

// hubSignature is the X-Hub-Signature-256 GitHub sends with body,
// computed apart from the code under test.
func hubSignature(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return fmt.Sprintf("sha256=%x", m.Sum(nil))
}

// giteeToken is the X-Gitee-Token Gitee sends in signature mode with
// timestamp, computed apart from the code under test.
func giteeToken(secret []byte, timestamp string) string {
	m := hmac.New(sha256.New, secret)
	m.Write(append(append([]byte(timestamp), '\n'), secret...))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// fakeFerryEnv, set in a test, makes the test binary act as ferry when
// run() starts it: "serve" serves a hookServer, "fail" exits at once as a
// ferry refusing its configuration does.
const fakeFerryEnv = "BENCH_INTAKE_FAKE_FERRY"

// fakeFerry is `ferry serve --config F --listen A` for the test: GET
// /readyz, POST /hooks/<forge> with the forge and the secret of F, a log
// line per 401 on stderr, and a clean exit on SIGTERM.
func fakeFerry(args []string) int {
	if len(args) != 5 || args[0] != "serve" || args[1] != "--config" || args[3] != "--listen" {
		fmt.Fprintf(os.Stderr, "fake ferry: unexpected arguments %q\n", args)
		return 2
	}
	cfg, err := os.ReadFile(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake ferry:", err)
		return 1
	}
	m := regexp.MustCompile(`(?m)^([a-z]+):\n  webhook_secret: "([0-9a-f]+)"$`).FindSubmatch(cfg)
	if m == nil {
		fmt.Fprintln(os.Stderr, "fake ferry: no forge's webhook_secret in", args[2])
		return 1
	}
	hook, err := webhookOf(string(m[1]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake ferry:", err)
		return 1
	}
	hooks := newHookServer(hook, m[2])
	hooks.log = os.Stderr
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ready") })
	mux.Handle(hook.route(), hooks)
	ln, err := net.Listen("tcp", args[4])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake ferry:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	fmt.Println("fake ferry is ready")
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return 1
	}
	return 0
}
