package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot/web"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// gateHook is a pre_release hook that waits until the file gate exists;
// "" is a hook that waits for nothing.
func gateHook(gate string) string {
	if gate == "" {
		return "true"
	}
	return fmt.Sprintf("while [ ! -f %s ]; do sleep 0.02; done", gate)
}

// e2eConfig writes a ferry.yaml over a real demo repository whose staging
// hosts wait in pre_release until the file gate exists, when gate is set.
func e2eConfig(t testing.TB, gate string) (cfgPath, dir string, repo *gittest.Repo) {
	t.Helper()
	dir = t.TempDir()
	repo = gittest.NewRepo(t)
	repo.Commit(t, map[string]string{
		"build.sh": "#!/bin/sh\nset -e\nmkdir -p dist\ncp VERSION dist/\necho built $(cat VERSION)\n",
		"VERSION":  "1\n",
	}, "first")
	repo.Tag(t, "v1.0.0")
	hook := gateHook(gate)
	cfg := fmt.Sprintf(`storage: ferry.db
workspace: workspace
users:
  alice:
    teams: [dev]
    tokens: ["alice-token-0123456789"]
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
        target: {type: local, hosts: [s1, s2], root: hosts/staging, build: ["./build.sh"], path: dist, pre_release: [%q]}
      prod:
        tags: ['^v']
        approvals: {required: 1, from: [dev]}
        target: {type: local, hosts: [p1, p2], root: hosts/prod, build: ["./build.sh"], path: dist}
        strategy: {batches: [1, "100%%"]}
`, repo.Path(), hook)
	cfgPath = filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dir, repo
}

var ferryBinary string

// buildFerry builds the ferry binary once per test run.
func buildFerry(t testing.TB) string {
	t.Helper()
	if ferryBinary != "" {
		return ferryBinary
	}
	bin := filepath.Join(os.TempDir(), fmt.Sprintf("ferry-e2e-%d", os.Getpid()))
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ferryBinary = bin
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ferryBinary != "" {
		os.Remove(ferryBinary)
	}
	os.Exit(code)
}

var readyLine = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

// startServer starts the ferry binary on a free loopback port and returns
// the process and its base URL once it says it is ready.
func startServer(t testing.TB, cfgPath string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(buildFerry(t), "serve", "--config", cfgPath, "--listen", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	logf, _ := os.Create(filepath.Join(filepath.Dir(cfgPath), "ferry.log"))
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				ready <- "http://" + m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case url := <-ready:
		return cmd, url
	case <-time.After(30 * time.Second):
		log, _ := os.ReadFile(logf.Name())
		t.Fatalf("ferry did not become ready:\n%s", log)
	}
	return nil, ""
}

// cli runs a client command against server as the owner of token.
func cli(t *testing.T, server, token string, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := runFerry(t, append([]string{"--server", server, "--token", token}, args...)...)
	return out + errOut, err
}

// apiGet asks server for path as the owner of token, decodes the JSON
// answer into out unless it is nil, and returns the answer's status.
func apiGet(t *testing.T, server, token, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, server+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode
}

func getDeploy(t *testing.T, server string, id int) web.APIDetails {
	t.Helper()
	var d web.APIDetails
	apiGet(t, server, aliceToken, fmt.Sprintf("/api/v1/deploys/%d", id), &d)
	return d
}

// waitFor polls the deploy until ok says yes, for at most 30 s of real time.
func waitFor(t *testing.T, server string, id int, what string, ok func(web.APIDetails) bool) web.APIDetails {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := getDeploy(t, server, id)
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("deploy %d: waited for %s; it is %s (%s) %+v", id, what, d.Deploy.State, d.Deploy.Reason, d.Units)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stateIs(s string) func(web.APIDetails) bool {
	return func(d web.APIDetails) bool { return d.Deploy.State == s }
}

// currentRelease is the release a host of the local target runs: the
// deploy that built the directory current links to, releases/<id>-<sha>.
func currentRelease(t *testing.T, dir, env, host string) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(dir, "hosts", env, host, "current"))
	if err != nil {
		return ""
	}
	id, _, _ := strings.Cut(filepath.Base(target), "-")
	return id
}

// TestKillNineResumes kills ferry with SIGKILL while a unit is in its
// pre_release hook, starts it again, and expects the deploy to finish from
// its journal with both hosts switched.
func TestKillNineResumes(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	cfgPath, dir, _ := e2eConfig(t, gate)
	proc, server := startServer(t, cfgPath)
	out, err := cli(t, server, "alice-token-0123456789", "deploy", "demo", "to", "staging")
	if err != nil || !strings.Contains(out, "#1 demo main@") {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	waitFor(t, server, 1, "a unit in pre_release", func(d web.APIDetails) bool {
		for _, u := range d.Units {
			if u.Step == "pre_release" {
				return true
			}
		}
		return false
	})
	proc.Process.Kill() // SIGKILL: no shutdown, no cleanup
	proc.Wait()
	os.WriteFile(gate, nil, 0o644)
	_, server = startServer(t, cfgPath)
	d := waitFor(t, server, 1, "success after restart", stateIs("succeeded"))
	for _, u := range d.Units {
		if u.State != "done" {
			t.Errorf("unit %+v", u)
		}
	}
	for _, host := range []string{"s1", "s2"} {
		if rel := currentRelease(t, dir, "staging", host); rel != "1" {
			t.Errorf("%s: current -> %q, want release 1", host, rel)
		}
	}
}

// TestQuickstartFlow walks the README's flow with the CLI against a real
// server: staging, prod with approval, rollback, and the refusals on the way.
func TestQuickstartFlow(t *testing.T) {
	cfgPath, dir, repo := e2eConfig(t, "")
	_, server := startServer(t, cfgPath)
	alice, bob := "alice-token-0123456789", "bob-token-0123456789"

	if out, err := cli(t, server, alice, "deploy", "demo", "to", "staging"); err != nil {
		t.Fatalf("staging: %v %s", err, out)
	}
	waitFor(t, server, 1, "staging succeeded", stateIs("succeeded"))
	if out, err := cli(t, server, alice, "deploy", "demo", "nope", "to", "staging"); err == nil || !strings.Contains(out, `ref "nope" not found`) {
		t.Errorf("missing ref: %v %s", err, out)
	}
	if out, err := cli(t, server, "wrong-token-0123456789", "status"); err == nil || !strings.Contains(out, "refused the token") {
		t.Errorf("wrong token: %v %s", err, out)
	}
	out, err := cli(t, server, alice, "deploy", "demo", "v1.0.0", "to", "prod")
	if err != nil || !strings.Contains(out, "awaiting approval") {
		t.Fatalf("prod: %v %s", err, out)
	}
	if out, err := cli(t, server, alice, "approve", "2"); err == nil || !strings.Contains(out, "someone else must approve") {
		t.Errorf("self-approval: %v %s", err, out)
	}
	if out, err := cli(t, server, bob, "approve", "2"); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	waitFor(t, server, 2, "prod succeeded", stateIs("succeeded"))

	repo.Commit(t, map[string]string{"VERSION": "2\n"}, "second")
	repo.Tag(t, "v1.1.0")
	cli(t, server, alice, "deploy", "demo", "v1.1.0", "to", "prod")
	cli(t, server, bob, "approve", "3")
	waitFor(t, server, 3, "second prod deploy", stateIs("succeeded"))
	if rel := currentRelease(t, dir, "prod", "p2"); rel != "3" {
		t.Fatalf("p2 runs %q", rel)
	}
	if out, err := cli(t, server, bob, "rollback", "demo", "prod"); err != nil || !strings.Contains(out, "#4") {
		t.Fatalf("rollback: %v %s", err, out)
	}
	waitFor(t, server, 4, "rollback", stateIs("succeeded"))
	for _, h := range []string{"p1", "p2"} {
		if rel := currentRelease(t, dir, "prod", h); rel != "2" {
			t.Errorf("%s runs %q after rollback, want 2", h, rel)
		}
	}
	out, err = cli(t, server, alice, "status")
	if err != nil || !regexp.MustCompile(`demo\s+prod\s+v1\.0\.0\s+bob`).MatchString(out) {
		t.Errorf("status after rollback: %v\n%s", err, out)
	}

	for path, want := range map[string]string{
		"/healthz":       "ok",
		"/livez":         "ok",
		"/readyz":        "ready",
		"/metrics":       `ferry_deploys{state="succeeded"} 4`,
		"/metrics?route": `ferry_http_request_duration_seconds_count{code="200",route="POST /api/v1/commands"}`,
	} {
		res, err := http.Get(server + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, want %q in:\n%s", path, res.Status, want, body)
		}
	}

	// A build that fails: the deploy fails with the log tail, and the
	// previous release stays current.
	repo.Commit(t, map[string]string{"build.sh": "#!/bin/sh\necho compiling\necho 'error: missing semicolon' >&2\nexit 2\n"}, "broken")
	cli(t, server, alice, "deploy", "demo", "to", "staging")
	waitFor(t, server, 5, "failed build", stateIs("failed"))
	out, _ = cli(t, server, alice, "show", "5")
	if !strings.Contains(out, "error: missing semicolon") {
		t.Errorf("the failed build's card lacks its log tail:\n%s", out)
	}
	if rel := currentRelease(t, dir, "staging", "s1"); rel != "1" {
		t.Errorf("s1 runs %q after a failed build, want 1", rel)
	}
}
