package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/internal/logtest"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// reloadYAML is a ferry.yaml with alice, an admin, and the users given,
// deploying demo from repo to one local host.
func reloadYAML(repo, users string) string {
	return fmt.Sprintf(`storage: ferry.db
workspace: workspace
users:
  alice: {admin: true, tokens: ["alice-token-0123456789"]}
%sprojects:
  demo:
    repo: %s
    environments:
      staging: {branches: ['^main$'], target: {type: local, hosts: [s1], root: hosts}}
`, users, repo)
}

// logged reports whether a line of the log holds every one of parts.
func logged(log string, parts ...string) bool {
	for line := range strings.Lines(log) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// reloadApp runs a server on yaml; it returns it with its file and its
// log.
func reloadApp(t *testing.T, yaml string) (*app, string, *logtest.Buffer) {
	t.Helper()
	var logs logtest.Buffer
	a, _ := startApp(t, yaml, slog.New(slog.NewTextHandler(&logs, nil)))
	return a, a.reload.path, &logs
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// shortSum is the digest ferry shows of a file's content.
func shortSum(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:6])
}

// lastAudit is the newest entry of the audit log.
func lastAudit(t *testing.T, a *app) pipeline.AuditEntry {
	t.Helper()
	es, err := a.store.AuditLog(context.Background(), 1)
	if err != nil || len(es) == 0 {
		t.Fatalf("audit log: %v %v", es, err)
	}
	return es[0]
}

// TestReloaderAddsAUser: a reloaded file's new user may use their token
// at once; the reload is audited with the file's digest and what changed,
// and /readyz names the file.
func TestReloaderAddsAUser(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	a, path, _ := reloadApp(t, reloadYAML(repo.Path(), ""))
	if _, ok := a.live.UserByToken("carol-token-0123456789"); ok {
		t.Fatal("carol is known before the reload")
	}
	next := reloadYAML(repo.Path(), "  carol: {teams: [dev], tokens: [\"carol-token-0123456789\"]}\nteams:\n  dev: {}\n")
	writeFile(t, path, next)
	res := a.reload.reload(context.Background(), bySignal)
	if !res.Loaded || res.SHA256 != shortSum(next) || res.Users != 2 || res.Teams != 1 || res.Environments != 1 || res.Changes != "users +carol; teams +dev" {
		t.Fatalf("reload = %+v", res)
	}
	if _, ok := a.live.UserByToken("carol-token-0123456789"); !ok || !a.live.Actor("carol").Is([]string{"dev"}) {
		t.Error("carol is not known after the reload")
	}
	e := lastAudit(t, a)
	if e.Actor != bySignal || e.Action != "reload" || !strings.Contains(e.Detail, "sha256:"+shortSum(next)) || !strings.Contains(e.Detail, "users +carol") || strings.Contains(e.Detail, "token-0123") {
		t.Errorf("audit = %+v", e)
	}
	if s := a.reload.status(); !strings.HasPrefix(s, "config sha256:"+shortSum(next)+" loaded ") || strings.Contains(s, "refused") {
		t.Errorf("status = %q", s)
	}
}

// TestReloaderRefusesABrokenFile: a file with problems is refused, each
// problem logged at its line, and the users loaded before stay; the
// refusal is audited and /readyz says so. An unchanged file is not read
// again on a change of its directory.
func TestReloaderRefusesABrokenFile(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	before := reloadYAML(repo.Path(), "")
	a, path, logs := reloadApp(t, before)
	broken := strings.Replace(reloadYAML(repo.Path(), "  bob: {admn: true}\n"), "root: hosts", "root: hosts, retries: many", 1)
	writeFile(t, path, broken)
	res := a.reload.reload(context.Background(), "alice")
	if res.Loaded || res.SHA256 != shortSum(broken) || len(res.Problems) != 1 || !strings.HasPrefix(res.Problems[0], path+":5: ") {
		t.Fatalf("reload = %+v", res)
	}
	if !logged(logs.String(), `level=ERROR msg="reload refused"`, `by=alice problem="`+path+`:5: `) {
		t.Errorf("the problem is not logged with its line:\n%s", logs)
	}
	if _, ok := a.live.User("alice"); !ok || a.reload.state.Load().loaded.short() != shortSum(before) {
		t.Error("the configuration loaded before is gone")
	}
	e := lastAudit(t, a)
	if e.Actor != "alice" || e.Action != "reload refused" || !strings.Contains(e.Detail, "1 problems, at lines 5") || !strings.Contains(e.Detail, "sha256:"+shortSum(before)+" stays loaded") {
		t.Errorf("audit = %+v", e)
	}
	if s := a.reload.status(); !strings.Contains(s, "reload refused ") || !strings.Contains(s, "sha256:"+shortSum(broken)+" has 1 problem(s)") {
		t.Errorf("status = %q", s)
	}

	// The driver's own check of the target, as ferry check makes it.
	broken = strings.Replace(before, "root: hosts", "root: hosts, retries: many", 1)
	writeFile(t, path, broken)
	if res := a.reload.reload(context.Background(), "alice"); res.Loaded || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], ":9: project demo, environment staging: target: ") {
		t.Fatalf("a bad target parameter: %+v", res)
	}
	id := lastAudit(t, a).ID
	a.reload.reloadChanged(context.Background())
	if e := lastAudit(t, a); e.ID != id {
		t.Errorf("a file read before was read again: %+v", e)
	}
}

// TestReloaderWarnsOfRestartOnlySettings: settings only a restart takes
// are kept, and named in a warning and the audit log.
func TestReloaderWarnsOfRestartOnlySettings(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	a, path, logs := reloadApp(t, reloadYAML(repo.Path(), ""))
	writeFile(t, path, "outbox: {give_up: 2h}\nmetrics: {token: metrics-token-0123456789}\n"+reloadYAML(repo.Path(), ""))
	res := a.reload.reload(context.Background(), bySignal)
	if !res.Loaded || strings.Join(res.RestartOnly, ",") != "metrics,outbox" || res.Changes != "no changes" {
		t.Fatalf("reload = %+v", res)
	}
	if a.live.Config().GiveUp != a.cfg.GiveUp || a.live.Config().Metrics.Token != "" {
		t.Errorf("restart-only settings were taken: %v %q", a.live.Config().GiveUp, a.live.Config().Metrics.Token)
	}
	if !logged(logs.String(), `level=WARN msg="the file changes settings that take effect at the next restart`, `settings="metrics, outbox"`) {
		t.Errorf("no warning:\n%s", logs)
	}
	if e := lastAudit(t, a); !strings.HasSuffix(e.Detail, "; at the next restart: metrics, outbox") || strings.Contains(e.Detail, "metrics-token") {
		t.Errorf("audit = %+v", e)
	}
}

// TestReloaderBuildsAChangedTarget: a target a reload changes is built
// anew for the deploys after it; the one built before stays for those
// that run on it.
func TestReloaderBuildsAChangedTarget(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	a, path, _ := reloadApp(t, reloadYAML(repo.Path(), ""))
	p, _ := a.live.Config().Project("demo")
	first, err := a.drivers.target(p, p.Envs[0])
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, strings.Replace(reloadYAML(repo.Path(), ""), "hosts: [s1]", "hosts: [s1, s2]", 1))
	if res := a.reload.reload(context.Background(), bySignal); !res.Loaded || res.Changes != "projects ~demo" {
		t.Fatalf("reload = %+v", res)
	}
	p, _ = a.live.Config().Project("demo")
	second, err := a.drivers.target(p, p.Envs[0])
	if err != nil {
		t.Fatal(err)
	}
	units, _ := second.Units(context.Background())
	if second == first || len(units) != 2 {
		t.Errorf("the changed target: %v, units %v", second == first, units)
	}
}
