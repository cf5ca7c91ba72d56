package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/internal/logtest"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// TestConsoleWithoutScript walks the basic flow as a browser without
// JavaScript does it: forms post, the server redirects, pages render.
func TestConsoleWithoutScript(t *testing.T) {
	f := newFixture(t)
	alice := f.signIn("alice", alicePassword)
	token := f.csrf(alice)
	if res := f.get(alice, "/"); !strings.Contains(res.Body, "No deploys yet.") || !strings.Contains(res.Body, `<code class="hint">deploy demo to staging</code>`) {
		t.Errorf("empty console:\n%s", res.Body)
	}

	res := f.postForm(alice, "/console/command", url.Values{"csrf": {token}, "text": {"deploy demo to staging"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("command: %d %v", res.StatusCode, res.Header)
	}
	f.wait(1, pipeline.StateSucceeded)
	res = f.get(alice, "/")
	if !strings.Contains(res.Body, "#1 demo main@1111111 to staging: queued.") || !strings.Contains(res.Body, `id="deploy-1" data-state="succeeded"`) {
		t.Errorf("console after the command:\n%s", res.Body)
	}
	if res := f.get(alice, "/"); strings.Contains(res.Body, "to staging: queued.") {
		t.Errorf("the reply is shown twice")
	}

	res = f.postForm(alice, "/console/command", url.Values{"csrf": {token}, "text": {"deploy demo v1.0.0 to prod"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("prod: %d", res.StatusCode)
	}
	// An error is shown in place, clearly.
	f.postForm(alice, "/console/action", url.Values{"csrf": {token}, "command": {"approve 2"}, "back": {"/deploys/2"}})
	res = f.get(alice, "/deploys/2")
	if !strings.Contains(res.Body, `<section class="reply reply-error" role="alert">`) || !strings.Contains(res.Body, "you requested deploy 2, so someone else must approve it") {
		t.Errorf("deploy page after a refused approval:\n%s", res.Body)
	}

	bob := f.signIn("bob", bobPassword)
	res = f.postForm(bob, "/console/action", url.Values{"csrf": {f.csrf(bob)}, "command": {"approve 2"}, "back": {"/deploys/2"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/deploys/2" {
		t.Fatalf("approve: %d %v", res.StatusCode, res.Header)
	}
	f.wait(2, pipeline.StateSucceeded)
	res = f.get(bob, "/deploys/2")
	for _, want := range []string{
		"bob approved #2 (1 of 1 approvals).",
		`id="deploy-2" data-state="succeeded"`,
		`<span class="badge tone-wait">awaiting approval</span> <span class="muted">await approval by alice</span>`,
		`<li><b>bob</b> <span class="muted">at 2026-11-02 10:00:00 UTC</span></li>`,
		`<td>p1</td><td>1</td><td><span class="dot tone-good"></span>done</td>`,
		"current -&gt; releases/2",
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("deploy page lacks %q:\n%s", want, res.Body)
		}
	}
	if res := f.get(bob, "/deploys/99"); res.StatusCode != http.StatusNotFound || !strings.Contains(res.Body, "deploy 99 not found") {
		t.Errorf("missing deploy: %d\n%s", res.StatusCode, res.Body)
	}

	res = f.get(bob, "/history?project=demo&env=prod")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `<td><a href="/deploys/2">#2</a></td>`) || strings.Contains(res.Body, `href="/deploys/1"`) {
		t.Errorf("history of prod:\n%s", res.Body)
	}
	if res := f.get(bob, "/history?project=nope"); res.StatusCode != http.StatusNotFound || !strings.Contains(res.Body, `project &#34;nope&#34; does not exist`) {
		t.Errorf("history of an unknown project: %d\n%s", res.StatusCode, res.Body)
	}
	if res := f.get(bob, "/board"); !strings.Contains(res.Body, `<a href="/deploys/2"><code>v1.0.0</code></a>`) {
		t.Errorf("board:\n%s", res.Body)
	}
}

// TestConsoleWithScript posts as the page's script does and gets the reply
// as a fragment, with the matching status.
func TestConsoleWithScript(t *testing.T) {
	f := newFixture(t)
	alice := f.signIn("alice", alicePassword)
	token := f.csrf(alice)
	fetch := func(text string) response {
		return f.postForm(alice, "/console/command", url.Values{"text": {text}}, "X-CSRF-Token", token, "X-Requested-With", "fetch")
	}
	res := fetch("deploy demo to staging")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Body, `<section class="reply" role="status">`) ||
		!strings.Contains(res.Body, `<template class="reply-cards"><article class="card tone-`) || !strings.Contains(res.Body, `id="deploy-1"`) {
		t.Errorf("deploy: %d\n%s", res.StatusCode, res.Body)
	}
	res = fetch("approve 1")
	if res.StatusCode != http.StatusConflict || !strings.Contains(res.Body, `<b class="failed">Not done:</b>`) {
		t.Errorf("approve: %d\n%s", res.StatusCode, res.Body)
	}
	f.clock.Advance(sessionTTL)
	if res := fetch("status"); res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Body, "you are signed out") {
		t.Errorf("expired: %d\n%s", res.StatusCode, res.Body)
	}
}

func TestStatic(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	login := f.get(c, "/login")
	for _, m := range []string{`/static/ferry.css?v=`, `/static/console.js?v=`} {
		i := strings.Index(login.Body, m)
		if i < 0 {
			t.Fatalf("login page links no %s", m)
		}
		path := login.Body[i : i+strings.IndexByte(login.Body[i:], '"')]
		res := f.get(c, path)
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Cache-Control"), "max-age") || len(res.Body) < 100 {
			t.Errorf("%s: %d %v", path, res.StatusCode, res.Header)
		}
	}
	if res := f.get(c, "/static/nope.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("missing asset: %d", res.StatusCode)
	}
	if csp := login.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP: %q", csp)
	}
}

// leakyTarget fails to set config with an error that quotes the value, as
// a platform that echoes what it refused might.
type leakyTarget struct{ *pipelinetest.Target }

func (leakyTarget) SetConfig(_ context.Context, key, value string) (string, error) {
	return "", fmt.Errorf("the platform refused %s=%s", key, value)
}

// TestCommandLogHasNoValues: a command that fails inside ferry is logged by
// its verb and target, never with the value it sets, here or by the bot.
func TestCommandLogHasNoValues(t *testing.T) {
	const secret = "hunter2-db-secret"
	logs := &logtest.Buffer{}
	f := newFixture(t, setup{
		target: func(pipeline.Project, pipeline.Environment) (pipeline.Target, error) {
			return leakyTarget{pipelinetest.NewTarget("p1")}, nil
		},
		log: slog.New(slog.NewTextHandler(logs, nil)),
	})
	alice := f.signIn("alice", alicePassword)
	res := f.postForm(alice, "/console/command", url.Values{"csrf": {f.csrf(alice)}, "text": {"config demo prod set DB_PASSWORD=" + secret}},
		"X-CSRF-Token", f.csrf(alice), "X-Requested-With", "fetch")
	if res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("config set: %d; want an internal error\n%s", res.StatusCode, res.Body)
	}
	out := logs.String()
	if strings.Contains(out, secret) {
		t.Errorf("the log holds the value:\n%s", out)
	}
	for _, want := range []string{`msg="web: command failed" command=config project=demo env=prod`, `msg="command failed" command=config project=demo env=prod actor=alice err="config demo prod: the platform refused DB_PASSWORD=[value]"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
}
