package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"

	"github.com/ferrybot/ferry/pipeline"
)

// Setup is what the admins' one-click set-up pages need. Slack's page
// needs nothing but BaseURL; GitHub's needs GitHubURL and ConvertGitHub.
type Setup struct {
	// GitHubURL is GitHub's web address, where the App manifest is posted
	// (https://github.com, or a GitHub Enterprise Server).
	GitHubURL string
	// ConvertGitHub exchanges the code GitHub sends back for the new
	// App's credentials.
	ConvertGitHub func(ctx context.Context, code string) (GitHubApp, error)
	// Audit records the App's creation; required with ConvertGitHub.
	Audit interface {
		Audit(ctx context.Context, e pipeline.AuditEntry) error
	}
}

// GitHubApp is a GitHub App just made from ferry's manifest.
type GitHubApp struct {
	ID            int64
	Slug, HTMLURL string
	WebhookSecret string
	PrivateKey    string
}

// setupView is a set-up page.
type setupView struct {
	Kind     string // slack or github
	BaseURL  string
	Socket   bool   // Slack: the Socket Mode manifest
	Plain    bool   // BaseURL is not https, which Slack's request URLs must be
	Manifest string // JSON
	Create   string // Slack: the address that creates the app from the manifest
	Action   string // GitHub: where the manifest form posts
	State    string
	Org      string
	App      *GitHubApp // GitHub: made, shown this once
	Error    string
}

// setupRefusal says why a set-up page is not for a, if it is not: for
// admins only, with an address, and for GitHub's with what its flow needs.
func (s *Server) setupRefusal(a pipeline.Actor, github bool) (string, int) {
	switch {
	case !a.Admin:
		return "only admins set up ferry's apps", http.StatusForbidden
	case s.baseURL == "":
		return "set base_url in ferry.yaml first: the apps need the address people and platforms reach ferry at", http.StatusNotFound
	case github && (s.setup.ConvertGitHub == nil || s.setup.Audit == nil):
		return "the GitHub set-up is not available on this ferry", http.StatusNotFound
	}
	return "", 0
}

// slackManifest is ferry's Slack app manifest for base: the slash
// command, interactivity, mentions and digests; with socket, Socket Mode
// and no request URLs.
func slackManifest(base string, socket bool) map[string]any {
	cmd := map[string]any{"command": "/ferry", "description": "Deploy, approve, roll back, lock, status",
		"usage_hint": "deploy demo v1.2.0 to prod", "should_escape": false}
	events := map[string]any{"bot_events": []string{"app_mention"}}
	inter := map[string]any{"is_enabled": true}
	if !socket {
		cmd["url"] = base + "/chat/slack/commands"
		events["request_url"] = base + "/chat/slack/events"
		inter["request_url"] = base + "/chat/slack/interactions"
	}
	return map[string]any{
		"display_information": map[string]any{"name": "ferry", "description": "Deploys, approvals and rollbacks from Slack"},
		"features": map[string]any{
			"bot_user":       map[string]any{"display_name": "ferry", "always_online": true},
			"slash_commands": []any{cmd},
		},
		"oauth_config": map[string]any{"scopes": map[string]any{"bot": []string{"commands", "chat:write", "chat:write.public", "im:write",
			"users:read", "app_mentions:read", "files:write", "channels:read", "groups:read"}}},
		"settings": map[string]any{"event_subscriptions": events, "interactivity": inter, "org_deploy_enabled": false,
			"socket_mode_enabled": socket, "token_rotation_enabled": false},
	}
}

// githubManifest is ferry's GitHub App manifest for base.
func githubManifest(base string) map[string]any {
	return map[string]any{
		"name":            "ferry",
		"url":             base,
		"hook_attributes": map[string]any{"url": base + "/hooks/github", "active": true},
		"redirect_url":    base + "/setup/github/callback",
		"public":          false,
		"default_permissions": map[string]string{"contents": "read", "metadata": "read", "pull_requests": "write",
			"issues": "write", "statuses": "write", "deployments": "write"},
		"default_events": []string{"push", "create", "pull_request", "pull_request_review", "issue_comment"},
	}
}

func (s *Server) setupSlack(w http.ResponseWriter, r *http.Request, v *viewer) {
	if msg, st := s.setupRefusal(v.Actor, false); msg != "" {
		s.refuse(w, r, st, msg)
		return
	}
	socket := r.URL.Query().Get("socket") == "1"
	m, _ := json.MarshalIndent(slackManifest(s.baseURL, socket), "", "  ")
	compact, _ := json.Marshal(slackManifest(s.baseURL, socket))
	view := setupView{Kind: "slack", BaseURL: s.baseURL, Socket: socket, Manifest: string(m), Plain: !s.secure,
		Create: "https://api.slack.com/apps?new_app=1&manifest_json=" + url.QueryEscape(string(compact))}
	s.renderPage(w, r, http.StatusOK, "setup", pageData{Title: "Set up Slack", Nav: "setup", Viewer: v}, view)
}

var githubOrg = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

func (s *Server) setupGitHub(w http.ResponseWriter, r *http.Request, v *viewer) {
	if msg, st := s.setupRefusal(v.Actor, true); msg != "" {
		s.refuse(w, r, st, msg)
		return
	}
	m, _ := json.Marshal(githubManifest(s.baseURL))
	view := setupView{Kind: "github", BaseURL: s.baseURL, Manifest: string(m), State: s.mac("github manifest", v.Nonce),
		Action: s.setup.GitHubURL + "/settings/apps/new"}
	st := http.StatusOK
	if org := r.URL.Query().Get("org"); org != "" {
		if !githubOrg.MatchString(org) {
			view.Error, st = fmt.Sprintf("%q is not a GitHub organization name: letters, digits and hyphens, up to 39", org), http.StatusBadRequest
		} else {
			view.Org, view.Action = org, s.setup.GitHubURL+"/organizations/"+org+"/settings/apps/new"
		}
	}
	// The manifest form posts to GitHub, and GitHub redirects back here.
	w.Header().Set("Content-Security-Policy", contentPolicy(s.setup.GitHubURL))
	s.renderPage(w, r, st, "setup", pageData{Title: "Set up GitHub", Nav: "setup", Viewer: v}, view)
}

// githubCallback is where GitHub sends the admin back with the new App's
// code: ferry checks the state it gave, exchanges the code, and shows the
// App's credentials once.
func (s *Server) githubCallback(w http.ResponseWriter, r *http.Request, v *viewer) {
	if msg, st := s.setupRefusal(v.Actor, true); msg != "" {
		s.refuse(w, r, st, msg)
		return
	}
	q := r.URL.Query()
	want := s.mac("github manifest", v.Nonce)
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(want)) != 1 {
		s.refuse(w, r, http.StatusBadRequest, "this link back from GitHub was not started from your session: start again from the GitHub set-up page")
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 256 {
		s.refuse(w, r, http.StatusBadRequest, "GitHub sent no code back: start again from the GitHub set-up page")
		return
	}
	app, err := s.setup.ConvertGitHub(r.Context(), code)
	if err != nil {
		s.log.ErrorContext(r.Context(), "web: GitHub App manifest", "err", err)
		s.refuse(w, r, http.StatusBadGateway, "GitHub did not hand over the new App: "+err.Error())
		return
	}
	if err := s.setup.Audit.Audit(r.Context(), pipeline.AuditEntry{At: s.now(), Actor: v.Name, Action: "github app create",
		Detail: fmt.Sprintf("App %d (%s)", app.ID, app.Slug)}); err != nil {
		s.log.ErrorContext(r.Context(), "web: audit github app create", "err", err)
	}
	w.Header().Set("Cache-Control", "no-store") // it shows a private key
	s.renderPage(w, r, http.StatusOK, "setup", pageData{Title: "Set up GitHub", Nav: "setup", Viewer: v},
		setupView{Kind: "github", BaseURL: s.baseURL, App: &app})
}
