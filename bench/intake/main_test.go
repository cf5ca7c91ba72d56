package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/internal/golden"
)

func TestMain(m *testing.M) {
	switch os.Getenv(fakeFerryEnv) {
	case "serve":
		os.Exit(fakeFerry(os.Args[1:]))
	case "fail":
		fmt.Fprintln(os.Stderr, "ferry.yaml:3: github has no webhook_secret")
		os.Exit(1)
	}
	code := m.Run()
	removeFerryBinary()
	os.Exit(code)
}

func TestBodiesAreUniqueValidJSONOfThePayloadsSize(t *testing.T) {
	d, err := newDeliveries(github, []byte("secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if d.size() != len(payload) {
		t.Fatalf("bodies are %d bytes, the payload %d", d.size(), len(payload))
	}
	// The payload's own id makes the payload itself.
	if got := d.body(279147437 - github.first); !bytes.Equal(got, payload) {
		t.Fatal("the body with the payload's pull_request.id is not the payload")
	}
	seen := map[string]int{}
	for _, seq := range []int{0, 1, 2, 9, 10, 999, 123456, github.count - 1} {
		b := d.body(seq)
		var ev struct {
			Action      string `json:"action"`
			PullRequest struct {
				ID int64 `json:"id"`
			} `json:"pull_request"`
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("body %d: %v", seq, err)
		}
		if ev.Action != "opened" || ev.PullRequest.ID != int64(github.first+seq) {
			t.Errorf("body %d: action %q, pull_request.id %d; want opened, %d", seq, ev.Action, ev.PullRequest.ID, github.first+seq)
		}
		if len(b) != len(payload) {
			t.Errorf("body %d: %d bytes, want %d", seq, len(b), len(payload))
		}
		if prev, ok := seen[string(b)]; ok {
			t.Errorf("bodies %d and %d are the same", prev, seq)
		}
		seen[string(b)] = seq
		r, err := io.ReadAll(d.reader(seq))
		if err != nil || !bytes.Equal(r, b) {
			t.Errorf("reader %d differs from body %d (%v)", seq, seq, err)
		}
	}
}

func TestDeliveryIDsAreUniqueGUIDs(t *testing.T) {
	d, err := newDeliveries(github, []byte("secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for seq := range 10_000 {
		id := d.id(seq)
		if !guid.MatchString(id) {
			t.Fatalf("delivery %d: %q is not shaped like a GUID", seq, id)
		}
		if seen[id] {
			t.Fatalf("delivery %d: %q used twice", seq, id)
		}
		seen[id] = true
	}
	other, _ := newDeliveries(github, []byte("secret"), time.Now())
	if other.id(0) == d.id(0) {
		t.Errorf("two runs share delivery ID %s", d.id(0))
	}
}

// The vector of GitHub's docs ("Testing the webhook payload validation"),
// as SIGNING.md in ../../shared/testdata/payloads quotes it.
func TestSignatureMatchesGitHubsVector(t *testing.T) {
	got := signature([]byte("It's a Secret to Everybody"), []byte("Hello, "), []byte("World!"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Errorf("signature = %s, want %s", got, want)
	}
}

func TestSignAndForge(t *testing.T) {
	secret := []byte("bench-secret")
	d, err := newDeliveries(github, secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := d.signAll(40, 25)
	if err != nil {
		t.Fatal(err)
	}
	for i, sig := range sigs {
		seq := 40 + i
		if want := hubSignature(secret, d.body(seq)); sig != want || d.sign(seq) != want {
			t.Errorf("delivery %d: signed %s (sign: %s), want %s", seq, sig, d.sign(seq), want)
		}
		forged := d.forge(seq)
		if !sigFormat.MatchString(forged) || forged == sig {
			t.Errorf("delivery %d: forged signature %q is malformed or right", seq, forged)
		}
	}
	if _, err := d.signAll(github.count-1, 2); err == nil {
		t.Error("signAll past the last 9-digit id: no error")
	}
}

func TestQuantile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, c := range []struct {
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{ms(7), 0.5, 7 * time.Millisecond},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2), 0.5, 1 * time.Millisecond},
		{ms(1, 2, 3), 0.5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(hundred...), 0.5, 50 * time.Millisecond},
		{ms(hundred...), 0.99, 99 * time.Millisecond},
		{ms(hundred...), 1, 100 * time.Millisecond},
		{ms(hundred...), 0, 1 * time.Millisecond},
		{ms(append(hundred, 101)...), 0.99, 100 * time.Millisecond},
	} {
		if got, ok := quantile(c.sorted, c.q); !ok || got != c.want {
			t.Errorf("quantile(%d values, %g) = %s, %v; want %s", len(c.sorted), c.q, got, ok, c.want)
		}
	}
	if _, ok := quantile(nil, 0.5); ok {
		t.Error("quantile of no values: ok")
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 5210: "5,210", 1234567: "1,234,567", -4321: "-4,321"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		850 * time.Microsecond: "0.85ms", 5100 * time.Microsecond: "5.10ms", 14 * time.Millisecond: "14.0ms",
		1500 * time.Millisecond: "1.50s",
	} {
		if got := millis(d); got != want {
			t.Errorf("millis(%s) = %q, want %q", d, got, want)
		}
	}
}

// durations makes n latencies from lo to hi, sorted.
func durations(n int, lo, hi time.Duration) []time.Duration {
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = lo + (hi-lo)*time.Duration(i)/time.Duration(max(n-1, 1))
	}
	return d
}

func TestTableGolden(t *testing.T) {
	rows := []row{
		{name: "accepted, closed loop (32)", rate: 2104.4, measured: true,
			used: usage{ferryCPU: 6210 * time.Millisecond, selfCPU: 2500 * time.Millisecond, cpu: true},
			sample: sample{sent: 10_524, elapsed: 5001 * time.Millisecond, lat: durations(10_522, 2*time.Millisecond, 40*time.Millisecond),
				failed: map[string]int{"HTTP 503": 1, "no answer": 1}, errs: []error{errors.New("read: connection reset by peer")}}},
		{name: "accepted, open loop 500/s", rate: 499.8, measured: true,
			sample: sample{sent: 2500, elapsed: 5002 * time.Millisecond, lat: durations(2500, 800*time.Microsecond, 12*time.Millisecond)}},
		{name: "rejected, closed loop (32)", rate: 9876.5, measured: true,
			used:   usage{logLines: 49_383, logBytes: 6_716_088, ferryCPU: 5 * time.Second, selfCPU: 4 * time.Second, cpu: true},
			sample: sample{sent: 49_383, elapsed: 5 * time.Second, lat: durations(49_383, time.Millisecond, 9*time.Millisecond)}},
		{name: "rejected, open loop 500/s", rate: 500, measured: true,
			used:   usage{logLines: 1, logBytes: 154, ferryCPU: time.Second, selfCPU: 500 * time.Millisecond, cpu: true},
			sample: sample{sent: 500, elapsed: time.Second, lat: durations(500, 300*time.Microsecond, 2*time.Millisecond), bounded: true}},
	}
	var out bytes.Buffer
	if err := writeTable(&out, rows, "machine: 2 CPUs; flags: --duration 5s"); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "table.golden"), out.Bytes())
	if err := failures(rows); err != nil {
		t.Errorf("2 of 10,524 failed (0.02%%), yet: %v", err)
	}
	rows[0].sample.failed["HTTP 503"] = 20
	rows[0].sample.lat = rows[0].sample.lat[:10_503]
	if err := failures(rows); err == nil || !strings.Contains(err.Error(), "accepted, closed loop (32): 21 of 10524") {
		t.Errorf("21 of 10,524 failed (0.2%%): %v", err)
	}
}

// short are options for loads that take a fraction of a second.
var short = options{duration: 200 * time.Millisecond, warmup: 50 * time.Millisecond, workers: 8, rate: 500}

func TestBenchSendsEveryDeliveryOnceAndMeasuresIt(t *testing.T) {
	secret := []byte("bench-secret")
	hooks := newHookServer(github, secret)
	ts := httptest.NewServer(hooks)
	defer ts.Close()
	d, err := newDeliveries(github, secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(ts.URL+"/hooks/github", d, short.workers)
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
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	if err := failures(rows); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 3} {
		if n := rows[i].sample.sent; n != 100 {
			t.Errorf("%s sent %d deliveries, want 500/s × 200ms = 100", rows[i].name, n)
		}
	}
	for _, r := range rows {
		if r.rate <= 0 || len(r.sample.lat) != r.sample.sent || r.measured {
			t.Errorf("%s: rate %.0f, %d answered of %d, measured %v", r.name, r.rate, len(r.sample.lat), r.sample.sent, r.measured)
		}
	}
	// The server also saw the warm-ups, which the rows leave out.
	if hooks.accepted < rows[0].sample.sent+rows[1].sample.sent || hooks.refused < rows[2].sample.sent+rows[3].sample.sent {
		t.Errorf("server accepted %d and refused %d; rows sent %d, %d, %d, %d",
			hooks.accepted, hooks.refused, rows[0].sample.sent, rows[1].sample.sent, rows[2].sample.sent, rows[3].sample.sent)
	}
}

func TestBenchCountsFailures(t *testing.T) {
	secret := []byte("bench-secret")
	hooks := newHookServer(github, secret)
	hooks.failEvery = 20
	ts := httptest.NewServer(hooks)
	defer ts.Close()
	d, err := newDeliveries(github, secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(ts.URL+"/hooks/github", d, 4)
	defer s.client.CloseIdleConnections()
	o := options{duration: 100 * time.Millisecond, workers: 4, rate: 500}
	rows, err := bench(context.Background(), s, o, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[1].sample.failed["HTTP 503"]; got < 2 {
		t.Errorf("open loop: %d deliveries answered 503, want about 1 in 20 of 50", got)
	}
	if err := failures(rows); err == nil {
		t.Error("5% failed, no error")
	}
	var out bytes.Buffer
	writeTable(&out, rows, "footer")
	if !strings.Contains(out.String(), "errors in accepted, open loop 500/s: HTTP 503 × ") {
		t.Errorf("the table does not say what failed:\n%s", out.String())
	}
}

func TestRunStartsMeasuresAndStopsFerry(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv(fakeFerryEnv, "serve")
	// A path relative to the working directory, as make passes bin/ferry.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := filepath.Rel(wd, os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"--ferry", bin, "--duration", "100ms", "--warmup", "20ms", "--workers", "4", "--rate", "200"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"load ", "accepted, closed loop (4) ", "accepted, open loop 200/s ", "rejected, closed loop (4) ",
		"rejected, open loop 200/s ", "accepted/rejected throughput ", "\nmachine: ", "--duration 100ms --warmup 20ms --workers 4 --rate 200",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout has no %q:\n%s", want, out)
		}
	}
	// The fake logs a line per refused delivery, as ferry does; the CPU of
	// both sides is read on Linux.
	if m := regexp.MustCompile(`rejected, open loop 200/s .* (\d+%) +(\d+%) +(\d+) lines`).FindStringSubmatch(out); m == nil || m[3] != "20" {
		t.Errorf("rejected open loop: CPU and ferry log %q, want CPU shares and 20 lines (200/s × 100ms):\n%s", m, out)
	}
	url := regexp.MustCompile(`ferry ready at (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(stderr.String())
	if url == nil {
		t.Fatalf("stderr does not say where ferry was:\n%s", stderr.String())
	}
	if res, err := http.Get(url[1] + "/readyz"); err == nil {
		res.Body.Close()
		t.Errorf("ferry still answers at %s after run", url[1])
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("run left %s in the temporary directory", left[0].Name())
	}
}

func TestRunReportsAFerryThatDoesNotStart(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv(fakeFerryEnv, "fail")
	err := run(context.Background(), []string{"--ferry", os.Args[0], "--duration", "100ms"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ferry exited before it was ready") || !strings.Contains(err.Error(), "github has no webhook_secret") {
		t.Errorf("run = %v, want ferry's exit with its output", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("run left %s in the temporary directory", left[0].Name())
	}
}

func TestRunFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--ferry", "bin/ferry", "extra"},
		{"--ferry", "bin/ferry", "--duration", "0s"},
		{"--ferry", "bin/ferry", "--workers", "0"},
		{"--ferry", "bin/ferry", "--rate", "-1"},
		{"--ferry", "bin/ferry", "--forge", "bitbucket"},
		{"--ferry", "bin/ferry", "--forge", "gitlab", "--flood", "5"},
		{"--no-such-flag"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}
