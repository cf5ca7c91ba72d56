package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot/slack/fakeslack"
	"github.com/ferrybot/ferry/bot/web"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// The repository of the real push payload, which the forge serves.
const (
	ghRepo        = "Codertocat/Hello-World"
	webhookSecret = "It's a Secret to Everybody"
	ghToken       = "ghp_e2e_token"
	aliceToken    = "alice-token-0123456789"
)

// forgeHost is a GitHub Enterprise host on 127.0.0.1, as ferry sees one:
// the repository Codertocat/Hello-World over git's smart HTTP (git
// http-backend on a real repository) and the fake GitHub API under
// /api/v3/. Every git request waits while the host holds git; while it
// refuses, commit and Deployment statuses answer 500.
type forgeHost struct {
	URL  string
	repo *gittest.Repo
	api  *fakegithub.Server

	mu       sync.Mutex
	gate     chan struct{} // closed: git requests pass
	gitAsked atomic.Int32  // git requests that arrived
	refusing atomic.Bool
	refused  atomic.Int32 // status calls answered 500
}

func newForgeHost(t *testing.T) *forgeHost {
	t.Helper()
	f := &forgeHost{repo: gittest.NewRepo(t), api: fakegithub.New(t, ghToken), gate: make(chan struct{})}
	close(f.gate)
	f.repo.Commit(t, map[string]string{
		"build.sh": "#!/bin/sh\nset -e\nmkdir -p dist\ncp VERSION dist/\necho built $(cat VERSION)\n",
		"VERSION":  "1\n",
	}, "first")
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "Codertocat"), 0o755)
	if err := os.Symlink(filepath.Join(f.repo.Path(), ".git"), filepath.Join(root, ghRepo+".git")); err != nil {
		t.Fatal(err)
	}
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	git := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull},
	}
	apiURL, _ := url.Parse(f.api.URL)
	api := httputil.NewSingleHostReverseProxy(apiURL)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v3/") {
			f.gitAsked.Add(1)
			f.mu.Lock()
			gate := f.gate
			f.mu.Unlock()
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
			git.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/statuses") && f.refusing.Load() {
			f.refused.Add(1)
			// The fake answers it, in GitHub's wire format.
			f.api.Limit("POST "+r.URL.Path, fakegithub.Limited{Status: http.StatusInternalServerError, Message: "Server Error"})
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { f.open(); srv.Close() })
	f.URL = srv.URL
	return f
}

// RepoURL is where ferry clones the repository from.
func (f *forgeHost) RepoURL() string { return f.URL + "/" + ghRepo + ".git" }

// hold makes git requests wait until open.
func (f *forgeHost) hold() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = make(chan struct{})
}

func (f *forgeHost) open() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.gate:
	default:
		close(f.gate)
	}
}

// killConfig writes a ferry.yaml with sections (github:, slack:) whose
// project demo deploys main of the forge's repository to staging, on a
// push too; its host waits in pre_release until the file gate exists.
func killConfig(t *testing.T, f *forgeHost, sections, gate string) (cfgPath, dir string) {
	t.Helper()
	dir = t.TempDir()
	hook := gateHook(gate)
	cfg := fmt.Sprintf(`storage: ferry.db
workspace: workspace
%s
users:
  alice:
    teams: [dev]
    tokens: [%q]
    forge: {github: Codertocat}
teams:
  dev: {}
projects:
  demo:
    repo: %s
    environments:
      staging:
        branches: ['^main$']
        auto: true
        target: {type: local, hosts: [s1], root: hosts/staging, build: ["./build.sh"], path: dist, pre_release: [%q]}
`, sections, aliceToken, f.RepoURL(), hook)
	cfgPath = filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dir
}

// pushOfMain is the real push payload of forge/github/testdata, pushed by
// Codertocat, made a push of main at head to the forge's repository.
func pushOfMain(t *testing.T, f *forgeHost, head string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../forge/github/testdata/push.branch.json")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	p["ref"], p["after"] = "refs/heads/main", head
	repo := p["repository"].(map[string]any)
	repo["clone_url"] = f.RepoURL()
	repo["html_url"] = f.URL + "/" + ghRepo
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// deliver posts a push delivery to ferry as GitHub signs it and returns
// the answer's status code. A 503 is sent again, for at most 5 s: ferry
// answers it, asking for the delivery again, until its inbox runs, which
// may be just after it says it is ready.
func deliver(t *testing.T, server, id string, body []byte) int {
	t.Helper()
	m := hmac.New(sha256.New, []byte(webhookSecret))
	m.Write(body)
	sig := "sha256=" + hex.EncodeToString(m.Sum(nil))
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("POST", server+"/hooks/github", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("X-Hub-Signature-256", sig)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return res.StatusCode
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inboxPending is ferry_inbox_pending of GitHub: deliveries acknowledged
// and not processed; 0 when the metric is absent.
func inboxPending(t *testing.T, server string) int {
	t.Helper()
	res, err := http.Get(server + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), `ferry_inbox_pending{platform="github"} `); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}

func listDeploys(t *testing.T, server string) []web.APIDeploy {
	t.Helper()
	var l web.APIDeployList
	apiGet(t, server, aliceToken, "/api/v1/deploys?project=demo", &l)
	return l.Deploys
}

// until polls cond, for at most 30 s of real time.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func kill(proc *exec.Cmd) {
	proc.Process.Kill() // SIGKILL: no shutdown, no cleanup
	proc.Wait()
}

// TestKillBetweenAckAndHandling kills ferry after it acknowledged a push
// and while it handles it (resolving main, which the forge holds), starts
// it again, and expects the push to be deployed once, by its pusher, and
// the same delivery sent again to deploy nothing more.
func TestKillBetweenAckAndHandling(t *testing.T) {
	f := newForgeHost(t)
	cfgPath, dir := killConfig(t, f, "github:\n  webhook_secret: "+webhookSecret, "")
	head := f.repo.Head(t)
	body := pushOfMain(t, f, head)
	f.hold()
	proc, server := startServer(t, cfgPath)

	if code := deliver(t, server, "d6a0e5a0-push-1", body); code != http.StatusOK {
		t.Fatalf("push delivery: %d", code)
	}
	until(t, "the push's handling to ask the repository", func() bool { return f.gitAsked.Load() > 0 })
	if n := inboxPending(t, server); n != 1 {
		t.Fatalf("while the push is handled the inbox owes %d deliveries, want 1", n)
	}
	if ds := listDeploys(t, server); len(ds) != 0 {
		t.Fatalf("deploys before the push is handled: %+v", ds)
	}
	kill(proc)
	f.open()

	_, server = startServer(t, cfgPath)
	d := waitFor(t, server, 1, "the push deployed after restart", stateIs("succeeded"))
	if d.Deploy.Requester != "alice" || d.Deploy.Commit != head || d.Deploy.Env != "staging" {
		t.Errorf("deploy #1 is %s of %s to %s, want alice's of %s to staging", d.Deploy.Requester, d.Deploy.Commit, d.Deploy.Env, head)
	}
	if rel := currentRelease(t, dir, "staging", "s1"); rel != "1" {
		t.Errorf("s1: current -> %q, want release 1", rel)
	}

	if code := deliver(t, server, "d6a0e5a0-push-1", body); code != http.StatusOK {
		t.Fatalf("the same delivery again: %d", code)
	}
	until(t, "the inbox to owe nothing", func() bool { return inboxPending(t, server) == 0 })
	if ds := listDeploys(t, server); len(ds) != 1 {
		t.Fatalf("%d deploys of the push, want 1: %+v", len(ds), ds)
	}
}

// slackHost serves the fake Slack where ferry calls Slack,
// https://slack.com/api/, since ferry.yaml has no Slack API address: a
// CONNECT proxy (HTTPS_PROXY) tunnels slack.com:443 to a TLS server whose
// certificate is the one ferry trusts (SSL_CERT_FILE), in front of the
// fake. While it refuses, chat.* calls answer 429 with Retry-After: 1.
type slackHost struct {
	fake     *fakeslack.Server
	proxy    string // HTTPS_PROXY
	certFile string // SSL_CERT_FILE
	refusing atomic.Bool
	refused  atomic.Int32
}

func newSlackHost(t *testing.T) *slackHost {
	t.Helper()
	s := &slackHost{fake: fakeslack.New(t)}
	cert, certPEM := selfSigned(t, "slack.com")
	s.certFile = filepath.Join(t.TempDir(), "slack.pem")
	if err := os.WriteFile(s.certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	fakeURL, _ := url.Parse(s.fake.APIURL())
	fakeURL.Path = ""
	toFake := httputil.NewSingleHostReverseProxy(fakeURL)
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if method := strings.TrimPrefix(r.URL.Path, "/api/"); strings.HasPrefix(method, "chat.") && s.refusing.Load() {
			s.refused.Add(1)
			s.fake.RateLimit(method, 1) // the fake answers it, in Slack's wire format
		}
		toFake.ServeHTTP(w, r)
	}))
	front.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	front.StartTLS()
	var mu sync.Mutex
	var tunnels []net.Conn
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Host != "slack.com:443" {
			http.Error(w, "this proxy reaches slack.com:443 only", http.StatusForbidden)
			return
		}
		up, err := net.Dial("tcp", front.Listener.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		down, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		mu.Lock()
		tunnels = append(tunnels, up, down)
		mu.Unlock()
		io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() { io.Copy(up, buf); up.Close() }()
		go func() { io.Copy(down, up); down.Close() }()
	}))
	t.Cleanup(func() {
		proxy.Close()
		mu.Lock()
		for _, c := range tunnels {
			c.Close()
		}
		mu.Unlock()
		front.Close()
	})
	s.proxy = proxy.URL
	return s
}

// selfSigned makes a certificate for host that is its own authority.
func selfSigned(t *testing.T, host string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// card is the one deploy card the fake Slack has; "" before it is posted.
func (s *slackHost) card(t *testing.T) string {
	ms := s.fake.Messages()
	if len(ms) > 1 {
		t.Fatalf("%d messages in Slack, want one card: %+v", len(ms), ms)
	}
	if len(ms) == 0 {
		return ""
	}
	return ms[0].Text
}

// lastStatus is the last commit status ferry/staging of commit.
func (f *forgeHost) lastStatus(commit string) string {
	state := ""
	for _, s := range f.api.Statuses() {
		if s.Repo == ghRepo && s.SHA == commit && s.Context == "ferry/staging" {
			state = s.State
		}
	}
	return state
}

// lastDeploymentState is the last state of the GitHub Deployment of
// commit, "" with none.
func (f *forgeHost) lastDeploymentState(commit string) string {
	for _, d := range f.api.Deployments() {
		if d.Repo == ghRepo && d.SHA == commit && len(d.States) > 0 {
			return d.States[len(d.States)-1]
		}
	}
	return ""
}

// TestKillWithNoticesPending runs a deploy to success while Slack and
// GitHub refuse ferry's card edits and statuses, kills ferry before they
// show it, starts it again with both answering, and expects the same card
// edited to succeeded and the commit status and Deployment to say success.
func TestKillWithNoticesPending(t *testing.T) {
	f := newForgeHost(t)
	s := newSlackHost(t)
	gate := filepath.Join(t.TempDir(), "gate")
	sections := fmt.Sprintf(`github:
  webhook_secret: %q
  token: %s
  base_url: %s/
slack:
  bot_token: %s
  signing_secret: slack-signing-secret
  default_channel: "#deploys"`, webhookSecret, ghToken, f.URL, s.fake.BotToken)
	cfgPath, _ := killConfig(t, f, sections, gate)
	t.Setenv("HTTPS_PROXY", s.proxy) // ferry's; the test calls nothing over https
	t.Setenv("SSL_CERT_FILE", s.certFile)
	head := f.repo.Head(t)
	proc, server := startServer(t, cfgPath)

	if out, err := cli(t, server, aliceToken, "deploy", "demo", "to", "staging"); err != nil || !strings.Contains(out, "#1 demo main@") {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	waitFor(t, server, 1, "a unit in pre_release", func(d web.APIDetails) bool {
		return len(d.Units) > 0 && d.Units[0].Step == "pre_release"
	})
	until(t, "the card and a pending status", func() bool {
		return s.card(t) != "" && f.lastStatus(head) == "pending"
	})
	s.refusing.Store(true)
	f.refusing.Store(true)
	os.WriteFile(gate, nil, 0o644)
	waitFor(t, server, 1, "success", stateIs("succeeded"))
	until(t, "Slack and GitHub to refuse ferry", func() bool { return s.refused.Load() > 0 && f.refused.Load() > 0 })
	kill(proc)
	if card, st := s.card(t), f.lastStatus(head); strings.HasSuffix(card, ": succeeded") || st == "success" {
		t.Fatalf("before the kill Slack shows %q and the status is %q: the refusals did not hold them back", card, st)
	}

	s.refusing.Store(false)
	f.refusing.Store(false)
	startServer(t, cfgPath)
	until(t, "the card, the commit status and the Deployment to say succeeded", func() bool {
		return strings.HasSuffix(s.card(t), ": succeeded") && f.lastStatus(head) == "success" && f.lastDeploymentState(head) == "success"
	})
	if card, want := s.card(t), "#1 Deploy demo main@"+head[:7]+" to staging: succeeded"; card != want {
		t.Errorf("card: %q", card)
	}
	if n := len(f.api.Deployments()); n != 1 {
		t.Errorf("%d GitHub Deployments, want 1", n)
	}
}
