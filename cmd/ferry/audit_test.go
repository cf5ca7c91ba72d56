package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot/web"
	"github.com/ferrybot/ferry/internal/golden"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// TestGoldenAudit is the table ferry audit prints, in testdata/audit.txt
// (go test ./cmd/ferry -run TestGoldenAudit -update rewrites it).
func TestGoldenAudit(t *testing.T) {
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	l := web.APIAuditLog{
		Entries: []web.APIAuditEntry{
			{ID: 42, At: at.Add(3 * time.Minute), Actor: "carol", Action: "unlock", Project: "tools", Env: "prod", Detail: "forced over bob's lock"},
			{ID: 41, At: at.Add(2 * time.Minute), Actor: "alice", Action: "approve denied", Project: "demo", Env: "prod", DeployID: 7, Detail: "not allowed: you requested deploy 7, so someone else must approve it"},
			{ID: 40, At: at.Add(time.Minute), Action: "deploy denied", Project: "demo", Env: "staging", Detail: "not allowed: you are not signed in as anyone ferry knows; link your account first"},
			{ID: 39, At: at, Actor: "alice", Action: "link", Detail: "slack U1 T1"},
		},
		NextBefore: 39,
		Scope:      web.APIAuditScope{Projects: []string{"demo", "tools"}, Actor: "alice"},
	}
	got := renderAudit(l, url.Values{"project": {"demo"}, "since": {"7d"}, "action": {"deploy denied"}, "limit": {"4"}, "before": {"43"}})
	golden.CheckString(t, filepath.Join("testdata", "audit.txt"), got)
}

// auditConfig is a ferry.yaml of two projects: alice (dev) may deploy
// demo, bob (ops) tools, carol is an admin and dave may deploy neither.
func auditConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"VERSION": "1\n"}, "first")
	cfg := fmt.Sprintf(`storage: ferry.db
workspace: workspace
users:
  alice: {teams: [dev], tokens: ["alice-token-0123456789"]}
  bob: {teams: [ops], tokens: ["bob-token-0123456789"]}
  carol: {admin: true, tokens: ["carol-token-0123456789"]}
  dave: {tokens: ["dave-token-0123456789"]}
teams:
  dev: {}
  ops: {}
projects:
  demo:
    repo: %[1]s
    environments:
      staging:
        branches: ['^main$']
        deployers: [dev]
        target: {type: local, hosts: [s1], root: hosts/demo}
  tools:
    repo: %[1]s
    environments:
      staging:
        branches: ['^main$']
        deployers: [ops]
        target: {type: local, hosts: [t1], root: hosts/tools}
`, repo.Path())
	path := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAuditCLI runs ferry audit against a real server: refusals are in the
// log with their reasons, each person sees what they may, the filters and
// the cursor reach the server, and a bad flag value is explained.
func TestAuditCLI(t *testing.T) {
	_, server := startServer(t, auditConfig(t))
	const (
		alice = "alice-token-0123456789"
		bob   = "bob-token-0123456789"
		carol = "carol-token-0123456789"
		dave  = "dave-token-0123456789"
	)
	for _, c := range []struct {
		token string
		args  []string
	}{
		{alice, []string{"lock", "demo", "staging", "for", "1h", "release freeze"}},
		{dave, []string{"deploy", "demo", "to", "staging"}},                   // refused: not a deployer
		{bob, []string{"unlock", "demo", "staging"}},                          // refused: not a deployer
		{alice, []string{"lock", "*", "staging"}},                             // refused: for admins
		{bob, []string{"lock", "tools", "staging", "for", "1h", "migration"}}, // 5
		{carol, []string{"unlock", "tools", "staging"}},                       // forced over bob's lock
	} {
		cli(t, server, c.token, c.args...)
	}

	out, err := cli(t, server, carol, "audit")
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	for _, want := range []string{
		`(?m)^Audit log, newest first \(every entry\)$`,
		`(?m)^#\s+when \(UTC\)\s+who\s+action\s+project\s+env\s+deploy\s+detail$`,
		`(?m)^6\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+carol\s+unlock\s+tools\s+staging\s+forced over bob's lock$`,
		`(?m)^5\s+.*\s+bob\s+lock\s+tools\s+staging\s+migration$`,
		`(?m)^4\s+.*\s+alice\s+lock denied\s+\*\s+staging\s+not allowed: locking every project is for admins; lock one project instead$`,
		`(?m)^3\s+.*\s+bob\s+unlock denied\s+demo\s+staging\s+not allowed: only dev may deploy to staging$`,
		`(?m)^2\s+.*\s+dave\s+deploy denied\s+demo\s+staging\s+#1\s+not allowed: only dev may deploy to staging$`,
		`(?m)^1\s+.*\s+alice\s+lock\s+demo\s+staging\s+release freeze$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("ferry audit as carol lacks %s:\n%s", want, out)
		}
	}

	ids := func(out string) string {
		var got []string
		for _, m := range regexp.MustCompile(`(?m)^(\d+)\s+\d{4}-`).FindAllStringSubmatch(out, -1) {
			got = append(got, m[1])
		}
		return strings.Join(got, " ")
	}
	for _, c := range []struct {
		who, token string
		args       []string
		ids        string
		says       string
	}{
		{"alice", alice, nil, "4 3 2 1", "(entries of demo, and your own)"},
		{"bob", bob, nil, "6 5 3", "(entries of tools, and your own)"},
		{"dave", dave, nil, "2", "(your own entries)"},
		{"carol", carol, []string{"--project", "demo", "--action", "unlock denied"}, "3", ""},
		{"carol", carol, []string{"--actor", "bob", "--since", "1h", "--env", "staging"}, "5 3", ""},
		{"carol", carol, []string{"--until", "1h"}, "", "(none)"},
		{"carol", carol, []string{"--limit", "2", "--project", "demo"}, "3 2", "older entries: ferry audit --project demo --limit 2 --before 2\n"},
		{"carol", carol, []string{"--project", "demo", "--limit=2", "--before", "2"}, "1", ""},
	} {
		out, err := cli(t, server, c.token, append([]string{"audit"}, c.args...)...)
		if err != nil || ids(out) != c.ids || !strings.Contains(out, c.says) {
			t.Errorf("ferry audit %s as %s: %v; entries %q, want %q and %q, in:\n%s", strings.Join(c.args, " "), c.who, err, ids(out), c.ids, c.says, out)
		}
	}

	// The subcommand first, its flags and the client's in any order.
	out, _, err = runFerry(t, "audit", "--server", server, "--token", dave, "--json")
	if err != nil || !strings.Contains(out, `"action":"deploy denied"`) || !strings.Contains(out, `"scope":{"all":false,"projects":[],"actor":"dave"}`) {
		t.Errorf("ferry audit --json: %v\n%s", err, out)
	}
	if out, err := cli(t, server, carol, "audit", "--since", "last week"); err != exitError(1) || !strings.Contains(out, `ferry audit: --since "last week" is not a time; give an RFC 3339 time`) {
		t.Errorf("a bad --since: %v\n%s", err, out)
	}
	if out, err := cli(t, server, carol, "audit", "--limit", "1000"); err != exitError(1) || !strings.Contains(out, `--limit "1000" is not a number from 1 to 500`) {
		t.Errorf("a bad --limit: %v\n%s", err, out)
	}
	if out, err := cli(t, server, carol, "audit", "--projct", "demo"); err != exitError(2) || !strings.Contains(out, "flag provided but not defined: -projct") || !strings.Contains(out, "usage: ferry audit") {
		t.Errorf("an unknown flag: %v\n%s", err, out)
	}
	if out, err := cli(t, server, carol, "audit", "demo"); err != exitError(2) || !strings.Contains(out, `"demo" is not a flag`) {
		t.Errorf("a word: %v\n%s", err, out)
	}
}
