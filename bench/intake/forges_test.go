package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/storage"
)

var webhooks = []webhook{github, gitlab, gitee}

// number reads the number a body of w's carries where intake writes it.
func number(t *testing.T, w webhook, body []byte) int {
	t.Helper()
	var ev struct {
		PullRequest struct {
			ID int `json:"id"`
		} `json:"pull_request"`
		ObjectAttributes struct {
			Action     string `json:"action"`
			LastCommit struct {
				ID string `json:"id"`
			} `json:"last_commit"`
		} `json:"object_attributes"`
		Action string `json:"action"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("%s body: %v", w.forge, err)
	}
	switch w.forge {
	case forgeGitLab:
		sha := ev.ObjectAttributes.LastCommit.ID
		if ev.ObjectAttributes.Action != "open" || !regexp.MustCompile(`^[0-9]{9}[0-9a-f]{31}$`).MatchString(sha) {
			t.Fatalf("gitlab body: action %q, last commit %q; want open and a SHA starting with 9 digits", ev.ObjectAttributes.Action, sha)
		}
		n, _ := strconv.Atoi(sha[:9])
		return n
	default:
		want := map[string]string{forgeGitHub: "opened", forgeGitee: "open"}[w.forge]
		if ev.Action != want {
			t.Fatalf("%s body: action %q, want %q", w.forge, ev.Action, want)
		}
		return ev.PullRequest.ID
	}
}

func TestEveryForgesBodiesAreUniqueValidJSONOfThePayloadsSize(t *testing.T) {
	for _, w := range webhooks {
		t.Run(w.forge, func(t *testing.T) {
			d, err := newDeliveries(w, []byte("secret"), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if d.size() != len(w.payload) {
				t.Fatalf("bodies are %d bytes, the payload %d", d.size(), len(w.payload))
			}
			// The payload's own number makes the payload itself (GitLab's
			// is hex digits).
			if own, err := strconv.Atoi(w.field[w.at : w.at+w.width]); err == nil && !bytes.Equal(d.body(own-w.first), w.payload) {
				t.Fatal("the body with the payload's own number is not the payload")
			}
			seen := map[string]int{}
			for _, seq := range []int{0, 1, 9, 10, 999, 123456, w.count - 1} {
				b := d.body(seq)
				if n := number(t, w, b); n != w.first+seq {
					t.Errorf("body %d carries %d, want %d", seq, n, w.first+seq)
				}
				if len(b) != len(w.payload) {
					t.Errorf("body %d: %d bytes, want %d", seq, len(b), len(w.payload))
				}
				if prev, ok := seen[string(b)]; ok {
					t.Errorf("bodies %d and %d are the same", prev, seq)
				}
				seen[string(b)] = seq
				if r, err := io.ReadAll(d.reader(seq)); err != nil || !bytes.Equal(r, b) {
					t.Errorf("reader %d differs from body %d (%v)", seq, seq, err)
				}
			}
			if len(strconv.Itoa(w.first+w.count-1)) != w.width || len(strconv.Itoa(w.first)) != w.width {
				t.Errorf("numbers from %d for %d deliveries are not all %d digits", w.first, w.count, w.width)
			}
		})
	}
}

// The vector of SIGNING.md in ../../shared/testdata/payloads (drone/go-scm's
// TestWebhookValid and TestWebhookInvalid).
func TestGiteeSignatureMatchesTheVector(t *testing.T) {
	secret := []byte("bBg5lrt03VixkX85CNqYIcecC0SIGASE")
	if got, want := giteeSignature(secret, "1633679083918"), "Xvh4YPVe6l31XpDRL9J2yeaEXabsckIoUUschpXiVck="; got != want {
		t.Errorf("giteeSignature = %s, want %s", got, want)
	}
	if giteeSignature(secret, "1633679083917") == giteeSignature(secret, "1633679083918") {
		t.Error("one timestamp's token signs another")
	}
}

func TestGiteeTimestampsAreTheirOwnWithinTheHour(t *testing.T) {
	now := time.UnixMilli(1_760_000_000_000)
	d, err := newDeliveries(gitee, []byte("secret"), now)
	if err != nil {
		t.Fatal(err)
	}
	for seq, want := range map[int]time.Time{0: now.Add(-30 * time.Minute), 1: now.Add(-30*time.Minute + time.Millisecond),
		gitee.count - 1: now.Add(30*time.Minute - time.Millisecond)} {
		if got := d.timestamp(seq); got != strconv.FormatInt(want.UnixMilli(), 10) {
			t.Errorf("timestamp %d = %s, want %d", seq, got, want.UnixMilli())
		}
	}
	// A run that would need more timestamps than the hour has is refused
	// before anything is sent.
	s := newSender("http://127.0.0.1:1/hooks/gitee", d, 1)
	o := options{duration: time.Minute, warmup: time.Second, workers: 1, rate: 500}
	if _, err := bench(context.Background(), s, o, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "shorten --duration") {
		t.Errorf("a gitee run of 1m: %v, want it refused", err)
	}
}

func TestEveryForgesTokens(t *testing.T) {
	secret := []byte(randomHex(32))
	for _, w := range webhooks {
		t.Run(w.forge, func(t *testing.T) {
			d, err := newDeliveries(w, secret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			sigs, err := d.signAll(40, 25)
			if err != nil {
				t.Fatal(err)
			}
			for i, sig := range sigs {
				seq := 40 + i
				var want string
				switch w.forge {
				case forgeGitHub:
					want = hubSignature(secret, d.body(seq))
				case forgeGitLab:
					want = string(secret)
				case forgeGitee:
					want = giteeToken(secret, d.timestamp(seq))
				}
				if sig != want {
					t.Errorf("delivery %d: token %s, want %s", seq, sig, want)
				}
				forged := d.forge(seq)
				if forged == sig || len(forged) != len(sig) {
					t.Errorf("delivery %d: forged token %q is right or not the right's length (%d)", seq, forged, len(sig))
				}
				if mac, err := base64.StdEncoding.DecodeString(forged); w.forge == forgeGitee && (err != nil || len(mac) != 32) {
					t.Errorf("delivery %d: forged X-Gitee-Token %q is not well-formed", seq, forged)
				}
			}
			if _, err := d.signAll(w.count-1, 2); err == nil {
				t.Error("signAll past the run's last delivery: no error")
			}
		})
	}
}

func TestBenchSendsEveryForgesDeliveriesOnce(t *testing.T) {
	for _, w := range webhooks {
		t.Run(w.forge, func(t *testing.T) {
			secret := []byte(randomHex(32))
			hooks := newHookServer(w, secret)
			ts := httptest.NewServer(hooks)
			defer ts.Close()
			d, err := newDeliveries(w, secret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			s := newSender(ts.URL+w.route(), d, short.workers)
			defer s.client.CloseIdleConnections()
			rows, err := bench(context.Background(), s, short, nil, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			hooks.mu.Lock()
			defer hooks.mu.Unlock()
			if len(hooks.problems) > 0 {
				t.Fatalf("%d bad deliveries, the first: %s", len(hooks.problems), hooks.problems[0])
			}
			if err := failures(rows); err != nil {
				t.Fatal(err)
			}
			if hooks.accepted < rows[0].sample.sent+rows[1].sample.sent || hooks.refused < rows[2].sample.sent+rows[3].sample.sent {
				t.Errorf("server accepted %d and refused %d; rows sent %d, %d, %d, %d",
					hooks.accepted, hooks.refused, rows[0].sample.sent, rows[1].sample.sent, rows[2].sample.sent, rows[3].sample.sent)
			}
		})
	}
}

func TestRunNamesTheForge(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv(fakeFerryEnv, "serve")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--ferry", os.Args[0], "--forge", "gitee", "--duration", "100ms", "--warmup", "0s", "--workers", "2", "--rate", "100"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"\nforge: gitee, POST /hooks/gitee, 21,041 B Merge Request Hook open deliveries; ", "flags: --forge gitee --duration 100ms"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout has no %q:\n%s", want, stdout.String())
		}
	}
}

// builtFerry is the directory ferryBinary built into, "" before it did.
var builtFerry string

// ferryBinary builds cmd/ferry once for the tests that run the real one.
var ferryBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ferry-bench-intake-test-")
	if err != nil {
		return "", err
	}
	builtFerry = dir
	bin := filepath.Join(dir, "ferry")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ferrybot/ferry/cmd/ferry").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ferry: %v\n%s", err, out)
	}
	return bin, nil
})

// removeFerryBinary removes what ferryBinary built, if it did.
func removeFerryBinary() {
	if builtFerry != "" {
		os.RemoveAll(builtFerry)
	}
}

// storedID is the ID ferry stores delivery seq under.
func storedID(d *deliveries, seq int) string {
	if d.hook.forge == forgeGitee {
		return d.timestamp(seq)
	}
	return d.id(seq)
}

// The real ferry, with the configuration a run writes, accepts every
// forge's accepted deliveries (and stores each under its own ID), refuses
// the forged ones for their token, and stores none of them.
func TestRealFerryStoresAcceptedAndRefusesForged(t *testing.T) {
	bin, err := ferryBinary()
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for _, w := range webhooks {
		t.Run(w.forge, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			secret := randomHex(32)
			config, err := writeConfig(dir, w.forge, secret, randomHex(32), "")
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "check", "--config", config).CombinedOutput(); err != nil {
				t.Fatalf("ferry check: %v\n%s", err, out)
			}
			d, err := newDeliveries(w, []byte(secret), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			f, err := startFerry(ctx, bin, dir, config)
			if err != nil {
				t.Fatal(err)
			}
			stopped := false
			defer func() {
				if !stopped {
					f.stop()
				}
			}()
			s := newSender(f.url+w.route(), d, 8)
			defer s.client.CloseIdleConnections()
			sigs, err := d.signAll(0, n)
			if err != nil {
				t.Fatal(err)
			}
			// 8 senders at once: ferry answers 503 beyond 128.
			good := closedLoop(ctx, s, batch{from: 0, n: n, sig: func(seq int) string { return sigs[seq] }}, 8, time.Minute, accepted)
			forged := closedLoop(ctx, s, batch{from: n, n: n, sig: d.forge}, 8, time.Minute, rejected)
			for name, sm := range map[string]sample{"accepted": good, "forged": forged} {
				if sm.sent != n || len(sm.lat) != n {
					t.Errorf("%s: %d of %d answered as expected: %s", name, len(sm.lat), sm.sent, failedText(sm))
				}
			}
			// Each 401 was for the token, not for a stale or replayed delivery.
			refused := refusals(t, f.url, w.forge)
			wantReason := map[string]string{forgeGitHub: "invalid signature: mismatch", forgeGitLab: "invalid token: mismatch", forgeGitee: "invalid token"}[w.forge]
			if len(refused) != 1 || refused[wantReason] != n {
				t.Errorf("ferry refused %v, want %d for %q", refused, n, wantReason)
			}
			if err := f.stop(); err != nil {
				t.Fatal(err)
			}
			stopped = true

			st, err := storage.Open(ctx, filepath.Join(dir, "ferry.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ids := make([]string, 2*n)
			for seq := range ids {
				ids[seq] = storedID(d, seq)
			}
			known, err := st.KnownDeliveries(ctx, w.forge, ids)
			if err != nil {
				t.Fatal(err)
			}
			for seq, id := range ids {
				if known[id] != (seq < n) {
					t.Errorf("delivery %d (%s): stored %v, want %v", seq, id, known[id], seq < n)
				}
			}
		})
	}
}

// refusals reads ferry_ingress_refused_total of platform from /metrics, by
// reason.
func refusals(t *testing.T, url, platform string) map[string]int {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", res.StatusCode, err)
	}
	out := map[string]int{}
	line := regexp.MustCompile(`(?m)^ferry_ingress_refused_total\{platform="` + platform + `",reason="([^"]*)"\} (\d+)$`)
	for _, m := range line.FindAllStringSubmatch(string(b), -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	return out
}

// run with the real ferry: every forge's four loads answered as expected.
func TestRunWithTheRealFerry(t *testing.T) {
	bin, err := ferryBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", t.TempDir())
	for _, w := range webhooks {
		t.Run(w.forge, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"--ferry", bin, "--forge", w.forge, "--duration", "100ms", "--warmup", "20ms", "--workers", "4", "--rate", "200"}, &stdout, &stderr)
			if err != nil {
				t.Fatalf("run: %v\n%s\n%s", err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "\nforge: "+w.forge+", POST /hooks/"+w.forge+", ") {
				t.Errorf("the table does not name the forge:\n%s", stdout.String())
			}
		})
	}
}
