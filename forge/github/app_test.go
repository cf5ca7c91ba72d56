package github

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	"github.com/ferrybot/ferry/pipeline"
)

// asApp configures the adapter as GitHub App 1 with a fresh key.
func asApp(t *testing.T) func(*Config) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return func(c *Config) { c.Token, c.AppID, c.PrivateKey = "", 1, pemKey }
}

// inInstallation is prComment delivered to App installation id (0: none).
func inInstallation(t *testing.T, body string, id int64) []byte {
	var m map[string]any
	if err := json.Unmarshal(prComment(t, body, "open"), &m); err != nil {
		t.Fatal(err)
	}
	if id != 0 {
		m["installation"] = map[string]any{"id": id}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAppInstallationTokens(t *testing.T) {
	users := &config.Config{Users: []pipeline.User{{Name: "chen", Forge: map[string]string{"github": commenter}}}}
	const tokens = "POST /api/v3/app/installations/42/access_tokens"

	t.Run("one token serves the installation", func(t *testing.T) {
		fg := fakegithub.New(t, "unused")
		fg.Permissions[commenter] = "write"
		f := newFixtureWith(t, users, fg, asApp(t))
		f.deliver("issue_comment", "d1", inInstallation(t, "/ferry status", 42))
		f.deliver("issue_comment", "d2", inInstallation(t, "/ferry whoami", 42))
		f.drain()
		if n, edits := len(fg.Comments()), fg.Count("PATCH /api/v3/repos/Codertocat/Hello-World/issues/comments/1"); n != 1 || edits != 1 {
			t.Fatalf("%d comments edited %d times, want one sticky comment edited once; calls: %v", n, edits, fg.Calls())
		}
		if n := fg.Count(tokens); n != 1 {
			t.Errorf("%d installation tokens asked for, want 1", n)
		}
	})

	t.Run("an expiring token is renewed", func(t *testing.T) {
		fg := fakegithub.New(t, "unused")
		fg.Permissions[commenter] = "write"
		fg.TokenTTL = 30 * time.Second // within ghinstallation's minute of margin: renewed on next use
		f := newFixtureWith(t, users, fg, asApp(t))
		f.deliver("issue_comment", "d1", inInstallation(t, "/ferry status", 42))
		f.drain()
		if n := len(fg.Comments()); n != 1 {
			t.Fatalf("%d answers, want 1; calls: %v", n, fg.Calls())
		}
		if n := fg.Count(tokens); n < 2 {
			t.Errorf("%d installation tokens asked for, want a renewal (2 or more)", n)
		}
	})

	// The installation is then the App's on the repository, which the
	// fake does not have: only the question is asked.
	t.Run("a delivery naming no installation is not answered", func(t *testing.T) {
		fg := fakegithub.New(t, "unused")
		f := newFixtureWith(t, users, fg, asApp(t))
		if got := f.deliver("issue_comment", "d1", inInstallation(t, "/ferry status", 0)); got != http.StatusOK {
			t.Fatalf("status %d", got)
		}
		f.drain()
		for _, c := range fg.Calls() {
			if c != "GET /api/v3/repos/Codertocat/Hello-World/installation" {
				t.Errorf("calls = %v, want only the App's installation on the repository asked for", fg.Calls())
				break
			}
		}
		if cs := fg.Comments(); len(cs) != 0 {
			t.Errorf("comments = %+v, want none", cs)
		}
	})
}

func TestTokenAndAppExclusive(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	app := asApp(t)
	_, err := New(Config{Engine: nopEngine{}, Users: &config.Config{}, Store: nopStore{}, WebhookSecret: secret, Token: "t", APIURL: fg.BaseURL(),
		AppID: 1, PrivateKey: func() []byte { var c Config; app(&c); return c.PrivateKey }()})
	if err == nil {
		t.Fatal("New took a token and an App")
	}
	if _, err := New(Config{Engine: nopEngine{}, Users: &config.Config{}, Store: nopStore{}, WebhookSecret: secret, AppID: 1, PrivateKey: []byte("not a key")}); err == nil {
		t.Fatal("New took a private key that is not one")
	}
}
