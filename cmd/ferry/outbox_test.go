package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferrybot/ferry/bot/web"
	"github.com/ferrybot/ferry/internal/golden"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
)

// TestGoldenOutbox is the table ferry outbox prints, in testdata/outbox.txt
// (go test ./cmd/ferry -run TestGoldenOutbox -update rewrites it).
func TestGoldenOutbox(t *testing.T) {
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	l := web.APIOutbox{
		Notices: []web.APINotice{
			{ID: 12, Platform: "slack", Dest: "card 7", Kind: "card", Latest: true, DeployID: 7, State: "rolled_back",
				CreatedAt: at.Add(-24 * time.Hour), Attempts: 311, NotBefore: at.Add(4 * time.Minute), LastError: "slack chat.update: channel_not_found", DeadAt: at},
			{ID: 14, Platform: "github", Dest: "status 7", Kind: "status", DeployID: 7, State: "failed",
				CreatedAt: at.Add(-20 * time.Minute), Attempts: 6, NotBefore: at.Add(3 * time.Minute), LastError: "github POST /repos/acme/demo/statuses/4444444: 502 Bad Gateway"},
			{ID: 15, Platform: "slack", Dest: "digest weekly", Kind: "digest", CreatedAt: at.Add(-time.Minute)},
		},
		More: true,
	}
	got := renderOutbox(l, "", false, at)
	empty := renderOutbox(web.APIOutbox{Notices: []web.APINotice{}}, "slack", true, at)
	golden.CheckString(t, filepath.Join("testdata", "outbox.txt"), got+"\n"+empty)
}

// TestOutboxArgs: a command line that cannot be right says what is wrong
// and how to fix it, before ferry calls the server.
func TestOutboxArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"retry"}, "ferry outbox retry: which notice? give its number, like ferry outbox retry 12 (ferry outbox --dead lists the dead ones)"},
		{[]string{"retry", "abc"}, `ferry outbox retry: "abc" is not the number of an outbox notice; ferry outbox --dead lists the dead ones, with their numbers`},
		{[]string{"retry", "0"}, `"0" is not the number of an outbox notice`},
		{[]string{"retry", "3", "4"}, "ferry outbox retry: retry takes one notice number, not 2 words (3 4)"},
		{[]string{"retry", "3", "--dead"}, "ferry outbox retry: --dead chooses what ferry outbox lists; ferry outbox retry takes a notice number only"},
		{[]string{"list"}, `ferry outbox: "list" is not a subcommand of ferry outbox; list the outbox with ferry outbox [--dead] [--platform P], or retry a dead notice with ferry outbox retry <id>`},
		{[]string{"--dead=maybe"}, `ferry outbox: invalid boolean value "maybe" for -dead`},
		{[]string{"--platfrom", "slack"}, "ferry outbox: flag provided but not defined: -platfrom"},
	} {
		out, errOut, err := runFerry(t, append([]string{"outbox", "--server", "http://127.0.0.1:1", "--token", "t"}, c.args...)...)
		if err != exitError(2) || out != "" || !strings.Contains(errOut, c.says) || !strings.Contains(errOut, "usage: ferry outbox") {
			t.Errorf("ferry outbox %s: %v\n%s%s\nwant exit 2 saying %q, and the usage", strings.Join(c.args, " "), err, out, errOut, c.says)
		}
	}
	out, errOut, err := runFerry(t, "outbox", "--help")
	if err != nil || !strings.HasPrefix(out, "usage: ferry outbox [--dead]") || errOut != "" {
		t.Errorf("ferry outbox --help: %v\n%s%s", err, out, errOut)
	}
	if help, _, err := runFerry(t, "help", "outbox"); err != nil || help != out {
		t.Errorf("ferry help outbox: %v\n%s", err, help)
	}
	if out, _, _ := runFerry(t, "--help"); !strings.Contains(out, "ferry outbox retry <id>") {
		t.Errorf("ferry --help does not list ferry outbox:\n%s", out)
	}
}

// TestOutboxCLI runs ferry outbox against a real server whose outbox holds
// notices to platforms ferry.yaml does not have, which it gives up on at
// once: an admin lists and retries them, the retry is audited, an id that
// is no dead notice and someone who is no admin are refused with reasons.
func TestOutboxCLI(t *testing.T) {
	cfg := auditConfig(t)
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(filepath.Dir(cfg), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = st.AddNotices(ctx, []pipeline.Notice{
		{Platform: "slack", Dest: "digest weekly", Kind: "digest"},                                                   // 1
		{Platform: "slack", Dest: "card 3", Kind: "card", Latest: true, DeployID: 3, State: pipeline.StateSucceeded}, // 2
		{Platform: "github", Dest: "status 3", Kind: "status", DeployID: 3, State: pipeline.StateSucceeded},          // 3
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, server := startServer(t, cfg)
	const (
		alice = "alice-token-0123456789"
		carol = "carol-token-0123456789"
	)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := cli(t, server, carol, "outbox", "--dead", "--json")
		var l web.APIOutbox
		if err == nil && json.Unmarshal([]byte(out), &l) == nil && len(l.Notices) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notices did not die: %v\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}

	out, err := cli(t, server, carol, "outbox")
	if err != nil {
		t.Fatalf("ferry outbox: %v\n%s", err, out)
	}
	when := `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`
	for _, want := range []string{
		`(?m)^Outbox, oldest first \(every platform, pending and dead\)$`,
		`(?m)^#\s+platform\s+destination\s+kind\s+deploy\s+state\s+owed since \(UTC\)\s+attempts\s+next try \(UTC\)\s+dead since \(UTC\)\s+last error$`,
		`(?m)^1\s+slack\s+digest weekly\s+digest\s+` + when + `\s+1\s+` + when + `\s+ferry has no slack sink: add slack back to ferry.yaml, then Retry$`,
		`(?m)^2\s+slack\s+card 3\s+card\s+#3\s+succeeded\s+` + when + `\s+1\s+` + when + `\s+ferry has no slack sink`,
		`(?m)^3\s+github\s+status 3\s+status\s+#3\s+succeeded\s+` + when + `\s+1\s+` + when + `\s+ferry has no github sink: add github back to ferry.yaml, then Retry$`,
		`(?m)^retry a dead notice: ferry outbox retry <#>$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("ferry outbox lacks %s:\n%s", want, out)
		}
	}
	ids := func(out string) string {
		var got []string
		for _, m := range regexp.MustCompile(`(?m)^(\d+)\s+(slack|github)\s`).FindAllStringSubmatch(out, -1) {
			got = append(got, m[1])
		}
		return strings.Join(got, " ")
	}
	for _, c := range []struct {
		args      []string
		ids, says string
	}{
		{[]string{"--platform", "github", "--dead"}, "3", "(github, dead notices only)"},
		{[]string{"--platform=slack"}, "1 2", "(slack, pending and dead)"},
		{[]string{"--limit", "1"}, "1", "more rows: narrow them with --platform or --dead, or raise --limit (at most 1000)"},
		{[]string{"--platform", "teams"}, "", "(none)"},
	} {
		out, err := cli(t, server, carol, append([]string{"outbox"}, c.args...)...)
		if err != nil || ids(out) != c.ids || !strings.Contains(out, c.says) {
			t.Errorf("ferry outbox %s: %v; rows %q, want %q and %q, in:\n%s", strings.Join(c.args, " "), err, ids(out), c.ids, c.says, out)
		}
	}

	// The subcommand first, the client's flags in any order.
	out, _, err = runFerry(t, "outbox", "--server", server, "--dead", "--token", carol, "--json", "--platform", "github")
	if err != nil || !strings.Contains(out, `"notices":[{"id":3,"platform":"github","dest":"status 3","kind":"status","latest":false,"deploy_id":3,"state":"succeeded",`) {
		t.Errorf("ferry outbox --json: %v\n%s", err, out)
	}

	out, err = cli(t, server, carol, "outbox", "retry", "#1")
	if err != nil || out != "Outbox notice 1 (slack digest weekly) is owed again: ferry tries to deliver it now, and gives up again only after outbox.give_up of failures.\n" {
		t.Errorf("ferry outbox retry 1: %v\n%s", err, out)
	}
	out, err = cli(t, server, carol, "audit", "--action", "outbox retry")
	if err != nil || !regexp.MustCompile(`(?m)^1\s+`+when+`\s+carol\s+outbox retry\s+slack digest weekly \(digest\), given up at `+when+` UTC after 1 attempt$`).MatchString(out) {
		t.Errorf("the retry is not in the audit log: %v\n%s", err, out)
	}
	if out, err := cli(t, server, carol, "outbox", "retry", "99"); err != exitError(1) || out != "ferry outbox retry: there is no outbox notice 99: it was delivered (or never owed), so there is nothing to retry\n" {
		t.Errorf("ferry outbox retry 99: %v\n%s", err, out)
	}
	if out, err := cli(t, server, carol, "outbox", "--limit", "0"); err != exitError(1) || !strings.Contains(out, `ferry outbox: --limit "0" is not a number from 1 to 1000`) {
		t.Errorf("a bad --limit: %v\n%s", err, out)
	}
	forbidden := "the outbox is for admins: it shows and retries what ferry owes every platform."
	if out, err := cli(t, server, alice, "outbox"); err != exitError(1) || !strings.Contains(out, "ferry outbox: "+forbidden) {
		t.Errorf("ferry outbox as alice: %v\n%s", err, out)
	}
	if out, err := cli(t, server, alice, "outbox", "retry", "2"); err != exitError(1) || !strings.Contains(out, "ferry outbox retry: "+forbidden) {
		t.Errorf("ferry outbox retry as alice: %v\n%s", err, out)
	}
}

// TestOutboxMetrics: /metrics reports what the outbox holds by platform:
// pending, the age of the oldest pending, and dead.
func TestOutboxMetrics(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	now := t0
	st.Now = func() time.Time { return now }
	add := func(ns ...pipeline.Notice) {
		t.Helper()
		if err := st.AddNotices(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	add(pipeline.Notice{Platform: "slack", Dest: "card 1", Kind: "card"}, pipeline.Notice{Platform: "github", Dest: "status 1", Kind: "status"})
	now = t0.Add(4 * time.Minute)
	add(pipeline.Notice{Platform: "slack", Dest: "card 2", Kind: "card"}, pipeline.Notice{Platform: "github", Dest: "status 2", Kind: "status"},
		pipeline.Notice{Platform: "teams", Dest: "card 2", Kind: "card"})
	// github's first notice dies, so its oldest pending one is the second;
	// teams' one dies, so it has none pending.
	claimed, err := st.ClaimNotices(ctx, now, 10, time.Minute)
	if err != nil || len(claimed) != 5 {
		t.Fatalf("claim: %v %+v", err, claimed)
	}
	for _, i := range []int{1, 4} {
		if err := st.FailedNotice(ctx, claimed[i].ID, "gone", now, true); err != nil {
			t.Fatal(err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(&inboxCollector{st: st, sinks: []string{"github", "slack", "web"}, now: func() time.Time { return t0.Add(10 * time.Minute) }})
	scrape := func() string {
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	body := scrape()
	for _, want := range []string{
		`ferry_outbox_pending{platform="github"} 1`,
		`ferry_outbox_pending{platform="slack"} 2`,
		`ferry_outbox_oldest_pending_age_seconds{platform="github"} 360`,
		`ferry_outbox_oldest_pending_age_seconds{platform="slack"} 600`,
		`ferry_outbox_dead{platform="github"} 1`,
		`ferry_outbox_dead{platform="slack"} 0`,
		`ferry_outbox_pending{platform="teams"} 0`,
		`ferry_outbox_oldest_pending_age_seconds{platform="teams"} 0`,
		`ferry_outbox_dead{platform="teams"} 1`,
		`ferry_outbox_pending{platform="web"} 0`, // a sink with nothing owed reads 0
		`ferry_outbox_dead{platform="web"} 0`,
		"# HELP ferry_outbox_dead Notices ferry gave up on, kept for an admin to retry (ferry outbox --dead), by platform.",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}

	// github's dead notice retried, slack's delivered: github owes both,
	// its oldest owed anew when it was retried, and slack owes nothing.
	if err := st.RetryNotice(ctx, claimed[1].ID); err != nil {
		t.Fatal(err)
	}
	for _, n := range claimed {
		if n.Platform == "slack" {
			if err := st.DeliveredNotice(ctx, n, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	body = scrape()
	for _, want := range []string{
		`ferry_outbox_pending{platform="github"} 2`,
		`ferry_outbox_oldest_pending_age_seconds{platform="github"} 360`,
		`ferry_outbox_dead{platform="github"} 0`,
		`ferry_outbox_pending{platform="slack"} 0`, // owes nothing: its gauges read 0
		`ferry_outbox_oldest_pending_age_seconds{platform="slack"} 0`,
		`ferry_outbox_dead{platform="slack"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("after the retry, /metrics lacks %s:\n%s", want, body)
		}
	}
}
