package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// hookServer stands in for ferry's POST /hooks/github: it checks each
// delivery the way GitHub's would look, answers 200 to a good signature
// and 401 to a wrong one, and refuses (409, 400) what a load must never
// send: a delivery ID or a body seen before, a malformed request.
type hookServer struct {
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

func newHookServer(secret []byte) *hookServer {
	return &hookServer{secret: secret, ids: map[string]bool{}, bodies: map[[32]byte]bool{}}
}

var (
	guid      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	sigFormat = regexp.MustCompile(`^sha256=[0-9a-f]{64}$`)
)

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	id, sig := r.Header.Get("X-GitHub-Delivery"), r.Header.Get("X-Hub-Signature-256")
	var problem string
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/hooks/github":
		problem = "not POST /hooks/github: " + r.Method + " " + r.URL.Path
	case r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-GitHub-Event") != "pull_request":
		problem = "content type or event: " + r.Header.Get("Content-Type") + ", " + r.Header.Get("X-GitHub-Event")
	case !strings.HasPrefix(r.Header.Get("User-Agent"), "GitHub-Hookshot/"):
		problem = "user agent " + r.Header.Get("User-Agent")
	case !guid.MatchString(id) || !sigFormat.MatchString(sig):
		problem = fmt.Sprintf("delivery %q or signature %q malformed", id, sig)
	case len(body) != len(payload):
		problem = fmt.Sprintf("body of %d bytes, not %d", len(body), len(payload))
	}
	good := hmac.Equal([]byte(sig), []byte(hubSignature(h.secret, body)))
	h.mu.Lock()
	sum := sha256.Sum256(body)
	switch {
	case problem != "":
	case h.ids[id]:
		problem = "delivery ID sent twice: " + id
	case h.bodies[sum]:
		problem = "body sent twice, the second time as " + id
	}
	h.ids[id], h.bodies[sum] = true, true
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
			fmt.Fprintf(h.log, "level=WARN msg=\"refused an unsigned delivery\" delivery=%s\n", id)
		}
		http.Error(w, "invalid signature", http.StatusUnauthorized)
	case h.failEvery > 0 && n%h.failEvery == 0:
		http.Error(w, "busy", http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// hubSignature is the X-Hub-Signature-256 GitHub sends with body,
// computed apart from the code under test.
func hubSignature(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return fmt.Sprintf("sha256=%x", m.Sum(nil))
}

// fakeFerryEnv, set in a test, makes the test binary act as ferry when
// run() starts it: "serve" serves a hookServer, "fail" exits at once as a
// ferry refusing its configuration does.
const fakeFerryEnv = "BENCH_INTAKE_FAKE_FERRY"

// fakeFerry is `ferry serve --config F --listen A` for the test: GET
// /readyz, POST /hooks/github with the secret of F, a log line per 401 on
// stderr, and a clean exit on SIGTERM.
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
	m := regexp.MustCompile(`(?m)^  webhook_secret: "([0-9a-f]+)"$`).FindSubmatch(cfg)
	if m == nil {
		fmt.Fprintln(os.Stderr, "fake ferry: no github.webhook_secret in", args[2])
		return 1
	}
	hooks := newHookServer(m[1])
	hooks.log = os.Stderr
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ready") })
	mux.Handle("/hooks/github", hooks)
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
