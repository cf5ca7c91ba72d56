package web

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	forgegithub "github.com/ferrybot/ferry/forge/github"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
)

// withCarol adds carol, an admin, to the fixture's users.
func withCarol(t *testing.T, f *fixture) *http.Client {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(carolPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	f.users["carol"] = pipeline.User{Name: "carol", Admin: true, PasswordHash: string(hash)}
	return f.signIn("carol", carolPassword)
}

// TestSetupSlack: the Slack page shows ferry's manifest with this ferry's
// addresses, and the link that creates the app from it; Socket Mode's has
// no request URLs. Only admins see it.
func TestSetupSlack(t *testing.T) {
	f := newFixture(t, setup{baseURL: "https://ferry.example.com"})
	carol := withCarol(t, f)
	res := f.get(carol, "/setup/slack")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("slack set-up: %d %s", res.StatusCode, res.Body)
	}
	link := regexp.MustCompile(`id="create-slack-app" href="([^"]+)"`).FindStringSubmatch(res.Body)
	if link == nil {
		t.Fatalf("no create link:\n%s", res.Body)
	}
	u, err := url.Parse(html.UnescapeString(link[1]))
	if err != nil || u.Host != "api.slack.com" || u.Query().Get("new_app") != "1" {
		t.Fatalf("create link %q: %v", link[1], err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct{ Command, URL string } `json:"slash_commands"`
		}
		Settings struct {
			Interactivity struct {
				RequestURL string `json:"request_url"`
			}
			SocketMode bool `json:"socket_mode_enabled"`
		}
	}
	if err := json.Unmarshal([]byte(u.Query().Get("manifest_json")), &m); err != nil {
		t.Fatal(err)
	}
	if c := m.Features.SlashCommands; len(c) != 1 || c[0].Command != "/ferry" || c[0].URL != "https://ferry.example.com/chat/slack/commands" ||
		m.Settings.Interactivity.RequestURL != "https://ferry.example.com/chat/slack/interactions" || m.Settings.SocketMode {
		t.Fatalf("manifest %+v", m)
	}
	if strings.Contains(res.Body, `id="not-https"`) {
		t.Error("the https ferry is told it is not https")
	}
	socket := f.get(carol, "/setup/slack?socket=1").Body
	if !strings.Contains(socket, `&#34;socket_mode_enabled&#34;: true`) || strings.Contains(socket, "request_url") || !strings.Contains(socket, "app_token") {
		t.Fatalf("the Socket Mode manifest:\n%s", socket)
	}
	bob := f.signIn("bob", bobPassword)
	if res := f.get(bob, "/setup/slack"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("bob, not an admin: %d", res.StatusCode)
	}
}

// TestSetupGitHub: the GitHub page posts ferry's App manifest to GitHub;
// GitHub sends the admin back with a code, which ferry exchanges once for
// the App's ID, webhook secret and private key, shown once. A callback
// with another state, or a code used before, is refused.
func TestSetupGitHub(t *testing.T) {
	gh := fakegithub.New(t, "unused-token")
	f := newFixture(t, setup{setup: Setup{GitHubURL: gh.URL, ConvertGitHub: func(ctx context.Context, code string) (GitHubApp, error) {
		c, err := forgegithub.ConvertManifest(ctx, gh.URL+"/api/v3/", code)
		return GitHubApp{ID: c.ID, Slug: c.Slug, HTMLURL: c.HTMLURL, WebhookSecret: c.WebhookSecret, PrivateKey: c.PrivateKey}, err
	}}})
	carol := withCarol(t, f)
	page := f.get(carol, "/setup/github")
	form := regexp.MustCompile(`<form method="post" action="([^"]+)" id="github-manifest-form">\s*<input type="hidden" name="manifest" value="([^"]+)">`).FindStringSubmatch(page.Body)
	if page.StatusCode != http.StatusOK || form == nil || !strings.Contains(page.Header.Get("Content-Security-Policy"), "form-action 'self' "+gh.URL) {
		t.Fatalf("github set-up: %d %v\n%s", page.StatusCode, page.Header, page.Body)
	}
	// The browser posts the form to GitHub, which redirects back.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.PostForm(html.UnescapeString(form[1]), url.Values{"manifest": {html.UnescapeString(form[2])}})
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("post the manifest to GitHub: %v %v", res, err)
	}
	res.Body.Close()
	ms := gh.Manifests()
	if len(ms) != 1 || ms[0].HookAttributes["url"] != f.ts.URL+"/hooks/github" || ms[0].RedirectURL != f.ts.URL+"/setup/github/callback" || ms[0].Permissions["statuses"] != "write" {
		t.Fatalf("manifests GitHub got: %+v", ms)
	}
	back, _ := url.Parse(res.Header.Get("Location"))
	done := f.get(carol, back.RequestURI())
	if done.StatusCode != http.StatusOK || !strings.Contains(done.Body, "app_id: 4242") || !strings.Contains(done.Body, "BEGIN RSA PRIVATE KEY") ||
		!regexp.MustCompile(`id="github-webhook-secret">[0-9a-f]{40}<`).MatchString(done.Body) || done.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("back from GitHub: %d %v\n%s", done.StatusCode, done.Header, done.Body)
	}
	if es, err := f.store.AuditLog(context.Background(), 1); err != nil || len(es) != 1 || es[0].Action != "github app create" || es[0].Actor != "carol" || strings.Contains(es[0].Detail, "PRIVATE") {
		t.Errorf("audit %+v %v", es, err)
	}
	if again := f.get(carol, back.RequestURI()); again.StatusCode != http.StatusBadGateway || strings.Contains(again.Body, "PRIVATE KEY") || strings.Contains(again.Body, back.Query().Get("code")) {
		t.Errorf("the same code again: %d\n%s", again.StatusCode, again.Body)
	}
	q := back.Query()
	q.Set("state", "forged")
	if forged := f.get(carol, "/setup/github/callback?"+q.Encode()); forged.StatusCode != http.StatusBadRequest || !strings.Contains(forged.Body, "not started from your session") {
		t.Errorf("another state: %d\n%s", forged.StatusCode, forged.Body)
	}
	bob := f.signIn("bob", bobPassword)
	if res := f.get(bob, "/setup/github"); res.StatusCode != http.StatusForbidden {
		t.Errorf("bob, not an admin: %d", res.StatusCode)
	}
}

// TestSetupSlackPlainHTTP: a ferry on http:// is told that Slack needs
// https, or Socket Mode.
func TestSetupSlackPlainHTTP(t *testing.T) {
	f := newFixture(t)
	carol := withCarol(t, f)
	if res := f.get(carol, "/setup/slack"); !strings.Contains(res.Body, `id="not-https"`) {
		t.Errorf("no warning on %s:\n%s", f.ts.URL, res.Body)
	}
	if res := f.get(carol, "/setup/slack?socket=1"); strings.Contains(res.Body, `id="not-https"`) {
		t.Error("Socket Mode needs no https address, but the page warns")
	}
}

// TestGoldenSetupAndTokens renders the set-up pages and the Tokens page
// for carol, an admin, with a fixed session on a clock that stands still.
func TestGoldenSetupAndTokens(t *testing.T) {
	f := newFixture(t, setup{baseURL: "https://ferry.example.com", setup: Setup{GitHubURL: "https://github.com",
		ConvertGitHub: func(context.Context, string) (GitHubApp, error) { return GitHubApp{}, nil }}})
	withCarol(t, f)
	carol := f.users.Actor("carol")
	v := &viewer{session: session{Name: "carol", Expires: t0.Add(sessionTTL), Nonce: "fixed-nonce"}, Actor: carol}
	v.CSRF = f.srv.csrf(v.session)
	ctx := t.Context()
	if _, err := f.store.CreateToken(ctx, pipeline.PersonalToken{User: "carol", Name: "ci", Created: t0.Add(-48 * time.Hour), Expires: t0.Add(28 * 24 * time.Hour)}, "fpt_one"); err != nil {
		t.Fatal(err)
	}
	old, err := f.store.CreateToken(ctx, pipeline.PersonalToken{User: "carol", Name: "old laptop", Created: t0.Add(-400 * time.Hour)}, "fpt_two")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.RevokeToken(ctx, "carol", old.ID, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		serve      func(http.ResponseWriter, *http.Request, *viewer)
	}{
		{"setup_slack.html", "/setup/slack", f.srv.setupSlack},
		{"setup_slack_socket.html", "/setup/slack?socket=1", f.srv.setupSlack},
		{"setup_github.html", "/setup/github?org=acme", f.srv.setupGitHub},
		{"tokens.html", "/tokens", f.srv.tokensPage},
	} {
		rec := httptest.NewRecorder()
		c.serve(rec, httptest.NewRequest(http.MethodGet, c.path, nil), v)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", c.path, rec.Code)
		}
		golden(t, c.name, rec.Body.String())
	}
	rec := httptest.NewRecorder()
	f.srv.renderPage(rec, httptest.NewRequest(http.MethodGet, "/setup/github/callback", nil), http.StatusOK, "setup",
		pageData{Title: "Set up GitHub", Nav: "setup", Viewer: v}, setupView{Kind: "github", BaseURL: f.srv.baseURL,
			App: &GitHubApp{ID: 4242, Slug: "ferry-app", HTMLURL: "https://github.com/apps/ferry-app", WebhookSecret: "0123456789abcdef", PrivateKey: "-----BEGIN RSA PRIVATE KEY-----\n…\n-----END RSA PRIVATE KEY-----"}})
	golden(t, "setup_github_app.html", rec.Body.String())
	rec = httptest.NewRecorder()
	f.srv.renderTokens(rec, httptest.NewRequest(http.MethodPost, "/tokens", nil), v, http.StatusOK, tokensView{New: "fpt_" + strings.Repeat("ab", 24), NewName: "deploy bot"})
	golden(t, "tokens_new.html", rec.Body.String())
}
