package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/ferrybot/ferry/bot/dingtalk/fakedingtalk"
	"github.com/ferrybot/ferry/bot/web"
	"github.com/ferrybot/ferry/internal/browsertest"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
	"github.com/ferrybot/ferry/storage/pgtest"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// replicaLease is the lease of the replicas under test: short, so that a
// takeover is quick, and the bound every takeover is held to.
const replicaLease = time.Second

// replicas is a ferry.yaml for ferry serve processes sharing one
// PostgreSQL database and one fleet of local hosts, each replica with its
// own workspace. The staging hosts wait in pre_release until the file
// gate exists; every host appends its name to activated.log in
// post_release, once per activation.
type replicas struct {
	dir, dsn, gate string
	store          *storage.Store // the shared database, as the test reads it
	configs        []string
}

const alicePassword = "alice-replica-password"

func newReplicas(t *testing.T, n int, sections string) *replicas {
	t.Helper()
	r := &replicas{dir: t.TempDir(), dsn: pgtest.Start(t)}
	r.gate = filepath.Join(r.dir, "gate")
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{
		"build.sh": "#!/bin/sh\nset -e\nmkdir -p dist\ncp VERSION dist/\n",
		"VERSION":  "1\n",
	}, "first")
	repo.Tag(t, "v1.0.0")
	hash, err := bcrypt.GenerateFromPassword([]byte(alicePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	activated := fmt.Sprintf("echo $FERRY_HOST >> %s", filepath.Join(r.dir, "activated.log"))
	yaml := fmt.Sprintf(`storage: {path: %q, lease: %s}
session_secret: %s
workspace: workspace
users:
  alice:
    teams: [dev]
    tokens: ["alice-token-0123456789"]
    password_hash: %q
  bob:
    teams: [dev]
    tokens: ["bob-token-0123456789"]
teams:
  dev: {}
projects:
  demo:
    repo: %s
    environments:
      staging:
        branches: ['^main$']
        target: {type: local, hosts: [s1, s2], root: %s, build: ["./build.sh"], path: dist, pre_release: [%q], post_release: [%q]}
        strategy: {batches: [1, "100%%"]}
      prod:
        tags: ['^v']
        approvals: {required: 1, from: [dev]}
        target: {type: local, hosts: [p1], root: %s, build: ["./build.sh"], path: dist, post_release: [%q]}
%s`, r.dsn, replicaLease, strings.Repeat("s", 32), hash, repo.Path(),
		filepath.Join(r.dir, "hosts", "staging"), gateHook(r.gate), activated,
		filepath.Join(r.dir, "hosts", "prod"), activated, sections)
	for i := range n {
		d := filepath.Join(r.dir, fmt.Sprint("replica-", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(d, "ferry.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		r.configs = append(r.configs, path)
	}
	if out, errOut, err := runFerry(t, "check", "--config", r.configs[0]); err != nil {
		t.Fatalf("check: %v\n%s%s", err, out, errOut)
	}
	if _, err := storage.MigratePostgres(context.Background(), r.dsn); err != nil {
		t.Fatal(err)
	}
	if r.store, err = storage.Open(context.Background(), r.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close() })
	return r
}

// start runs replica i and returns its process and address.
func (r *replicas) start(t *testing.T, i int) (*exec.Cmd, string) {
	t.Helper()
	return startServer(t, r.configs[i])
}

// log is what replica i logged so far.
func (r *replicas) log(i int) string {
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(r.configs[i]), "ferry.log"))
	return string(b)
}

// activated is the hosts that ran post_release, in order.
func (r *replicas) activated() []string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "activated.log"))
	return strings.Fields(string(b))
}

// snapshot is everything the database holds of deploy id.
func (r *replicas) snapshot(t *testing.T, id int64) string {
	t.Helper()
	ctx := context.Background()
	d, err := r.store.Deploy(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := r.store.Transitions(ctx, id)
	us, _ := r.store.Units(ctx, id)
	ls, _ := r.store.Logs(ctx, id, 0)
	rs, _ := r.store.UnitReleases(ctx, d.Project, d.Env)
	notices, _ := r.store.Notices(ctx, pipeline.NoticeFilter{})
	var b strings.Builder
	fmt.Fprintf(&b, "%s updated %s;", d.State, d.UpdatedAt.Format(time.RFC3339Nano))
	for _, x := range ts {
		fmt.Fprintf(&b, " %s→%s by %s", x.From, x.To, x.Actor)
	}
	for _, u := range us {
		fmt.Fprintf(&b, "; %s %s %s", u.Name, u.State, u.Finished.Format(time.RFC3339Nano))
	}
	for _, x := range rs {
		fmt.Fprintf(&b, "; %s@%s", x.Unit, x.Release)
	}
	fmt.Fprintf(&b, "; %d log lines, %d notices", len(ls), len(notices))
	return b.String()
}

// command runs a chat command through a ferry's API (POST
// /api/v1/commands) and returns the status and body of the answer.
func command(t *testing.T, server, token, text string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"text": text})
	req, _ := http.NewRequest(http.MethodPost, server+"/api/v1/commands", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// canaryWaiting starts two replicas and deploys staging through the
// first, whose canary then waits in pre_release (the gate is closed); it
// returns the first replica's process and the second's address.
func (r *replicas) canaryWaiting(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	a, serverA := r.start(t, 0)
	_, serverB := r.start(t, 1)
	if code, _ := command(t, serverA, aliceToken, "deploy demo to staging"); code != http.StatusOK {
		t.Fatalf("deploy: %d", code)
	}
	waitFor(t, serverA, 1, "the canary in pre_release", func(d web.APIDetails) bool {
		return slices.ContainsFunc(d.Units, func(u web.APIUnit) bool { return u.Step == "pre_release" })
	})
	if strings.Contains(r.log(1), "resuming deploy") {
		t.Fatal("the second replica resumed a deploy the first still drives")
	}
	return a, serverB
}

// resumedBySecond waits until the second replica resumed the deploy.
func (r *replicas) resumedBySecond(t *testing.T) {
	t.Helper()
	until(t, "the second replica to resume the deploy", func() bool { return strings.Contains(r.log(1), "resuming deploy") })
}

// TestReplicaTakesOverAfterKill: a deploy started through the first
// replica, which is SIGKILLed in the middle of its first batch, is resumed
// by the second within the lease, and succeeds with every host activated
// once.
func TestReplicaTakesOverAfterKill(t *testing.T) {
	r := newReplicas(t, 2, "")
	a, serverB := r.canaryWaiting(t)
	kill(a)
	killed := time.Now()
	r.resumedBySecond(t)
	takeover := time.Since(killed)
	t.Logf("takeover after SIGKILL: %s (lease %s)", takeover.Round(time.Millisecond), replicaLease)
	if bound := replicaLease + replicaLease/3 + time.Second; takeover > bound {
		t.Errorf("the takeover took %s, more than the lease and a sweep (%s)", takeover, bound)
	}
	if err := os.WriteFile(r.gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, serverB, 1, "the deploy to succeed on the second replica", stateIs("succeeded"))
	if got := strings.Join(r.activated(), " "); got != "s1 s2" {
		t.Errorf("hosts activated: %q, want s1 then s2, once each", got)
	}
	for _, h := range []string{"s1", "s2"} {
		if rel := currentRelease(t, r.dir, "staging", h); rel != "1" {
			t.Errorf("%s: current -> %q, want release 1", h, rel)
		}
	}
}

// TestReplicaPausedWritesNothing: a replica stopped (SIGSTOP) in the
// middle of a deploy loses its lease to the other, which finishes the
// deploy; when it wakes (SIGCONT) it writes nothing more, and says why.
func TestReplicaPausedWritesNothing(t *testing.T) {
	r := newReplicas(t, 2, "")
	a, serverB := r.canaryWaiting(t)
	if err := a.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer a.Process.Signal(syscall.SIGCONT)
	r.resumedBySecond(t)
	if err := os.WriteFile(r.gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, serverB, 1, "the deploy to succeed on the second replica", stateIs("succeeded"))
	until(t, "the outbox to drain", func() bool {
		ns, err := r.store.Notices(context.Background(), pipeline.NoticeFilter{})
		return err == nil && len(ns) == 0
	})
	before := r.snapshot(t, 1)

	if err := a.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	until(t, "the woken replica to see it lost the lease", func() bool {
		l := r.log(0)
		return strings.Contains(l, "lease lost") || strings.Contains(l, pipeline.ErrFenced.Error())
	})
	// Whatever it was about to write is refused; give it the time of a
	// few renewals to try.
	time.Sleep(replicaLease)
	if after := r.snapshot(t, 1); after != before {
		t.Errorf("the woken replica wrote:\nbefore %s\nafter  %s", before, after)
	}
	if got := strings.Join(r.activated(), " "); got != "s1 s2" {
		t.Errorf("hosts activated: %q, want s1 then s2, once each", got)
	}
}

// TestReplicasApproveOnce: bob approves a prod deploy on both replicas at
// the same moment; the deploy starts once, with one approval.
func TestReplicasApproveOnce(t *testing.T) {
	r := newReplicas(t, 2, "")
	a, serverA := r.start(t, 0)
	b, serverB := r.start(t, 1)
	if code, _ := command(t, serverA, aliceToken, "deploy demo v1.0.0 to prod"); code != http.StatusOK {
		t.Fatalf("deploy: %d", code)
	}
	waitFor(t, serverB, 1, "the deploy to await approval", stateIs("awaiting_approval"))
	start := make(chan struct{})
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, server := range []string{serverA, serverB} {
		wg.Go(func() {
			<-start
			codes[i], _ = command(t, server, "bob-token-0123456789", "approve 1")
		})
	}
	approved := time.Now()
	close(start)
	d := waitFor(t, serverA, 1, "the first unit to start", func(d web.APIDetails) bool {
		return len(d.Units) > 0 && d.Units[0].State != "pending"
	})
	firstUnit := time.Since(approved)
	wg.Wait()
	waitFor(t, serverA, 1, "the deploy to succeed", stateIs("succeeded"))
	t.Logf("approval → first unit (%s) with two replicas: %s; answers %v; RSS %d and %d kB",
		d.Units[0].State, firstUnit.Round(time.Millisecond), codes, rss(t, a.Process.Pid), rss(t, b.Process.Pid))
	ctx := context.Background()
	ts, err := r.store.Transitions(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	started := 0
	for _, x := range ts {
		if x.To == pipeline.StateRunning {
			started++
		}
	}
	as, err := r.store.Approvals(ctx, 1)
	if err != nil || started != 1 || len(as) != 1 {
		t.Fatalf("the deploy started %d times with %d approvals (%v); want once, with bob's", started, len(as), err)
	}
	if got := strings.Join(r.activated(), " "); got != "p1" {
		t.Errorf("hosts activated: %q, want p1 once", got)
	}
}

// TestReplicasSendADigestOnce: a digest due while two replicas run is sent
// once, by the leader; when the leader is killed, the replica that leads
// next does not send it again.
func TestReplicasSendADigestOnce(t *testing.T) {
	fake := fakedingtalk.New(t, fakedingtalk.Config{ClientID: "dingreplicas", ClientSecret: "dingtalk-app-secret-0123456789"})
	secret := "SEC" + strings.Repeat("b", 64)
	webhook := fake.AddRobot("robot-token-replicas", secret)
	r := newReplicas(t, 2, fmt.Sprintf(`dingtalk:
  robots:
    - {name: ops, webhook: %q, secret: %s, scope: "project:demo"}
dashboards:
  digest:
    channels: ["dingtalk-robot:ops"]
`, webhook, secret))
	a, _ := r.start(t, 0)
	r.start(t, 1)
	digests := func() int {
		n := 0
		for _, m := range fake.RobotMessages() {
			if m.Accepted && strings.Contains(m.Title, "digest") {
				n++
			}
		}
		return n
	}
	// Monday's digest was due before either started: the leader sends it.
	until(t, "the digest", func() bool { return digests() > 0 })
	until(t, "both replicas to have looked at the outbox", func() bool {
		ns, err := r.store.Notices(context.Background(), pipeline.NoticeFilter{})
		return err == nil && len(ns) == 0
	})
	kill(a)
	until(t, "the second replica to lead", func() bool { return strings.Contains(r.log(1), "leading") })
	until(t, "the new leader's catch-up to end", func() bool {
		ns, err := r.store.Notices(context.Background(), pipeline.NoticeFilter{})
		return err == nil && len(ns) == 0
	})
	if n := digests(); n != 1 {
		t.Fatalf("%d digests sent, want 1: %+v", n, fake.RobotMessages())
	}
}

// TestReplicasConsoleLive: a deploy moved by one replica is seen live by a
// browser signed in to the other.
func TestReplicasConsoleLive(t *testing.T) {
	r := newReplicas(t, 2, "")
	_, serverA := r.start(t, 0)
	_, serverB := r.start(t, 1)
	if err := os.WriteFile(r.gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br := browsertest.New(t, ctx)
	br.Step("sign in to the second replica",
		chromedp.Navigate(serverB+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), alicePassword),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#live.on")),
		chromedp.Evaluate[chromedp.Void](`window.stayed = true`),
	)
	if code, _ := command(t, serverA, aliceToken, "deploy demo to staging"); code != http.StatusOK {
		t.Fatalf("deploy: %d", code)
	}
	br.Step("see the deploy the first replica runs succeed", chromedp.WaitVisible(chromedp.CSS(`#stream #deploy-1[data-state="succeeded"]`)))
	stayed, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.stayed === true`))
	if err != nil || !stayed {
		t.Fatalf("the page was reloaded (stayed=%v, %v): the card did not come live", stayed, err)
	}
	br.Screenshot(filepath.Join(t.TempDir(), "replicas.png"))
}
