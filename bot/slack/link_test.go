package slack

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferrybot/ferry/bot/web"
	"github.com/ferrybot/ferry/pipeline"
)

var (
	linkURL   = regexp.MustCompile(`https://ferry\.example\.com(/link/[A-Za-z0-9_.-]+)`)
	csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// TestLinkFlow links carol's Slack account through the web console: link
// in Slack, sign in and confirm on the page, and Slack knows her.
func TestLinkFlow(t *testing.T) {
	f := newFixture(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("carol-password"), bcrypt.MinCost)
	f.users.Users[2].PasswordHash = string(hash)
	console, err := web.New(web.Config{Bot: f.bot, Engine: f.engine, Users: f.users, Sessions: f.store, SessionKey: []byte(strings.Repeat("s", 32)), Linker: f.accounts})
	if err != nil {
		t.Fatal(err)
	}
	site := httptest.NewServer(console.Handler())
	defer site.Close()
	defer console.Close()

	if r := f.command(uCarol, "whoami"); !strings.Contains(r.Text, "ferry does not know who you are in Slack yet") {
		t.Fatalf("whoami before linking: %+v", r)
	}
	r := f.command(uCarol, "link")
	m := linkURL.FindStringSubmatch(r.Text)
	if r.ResponseType != "ephemeral" || m == nil {
		t.Fatalf("link: %+v", r)
	}
	path := m[1]

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	post := func(p string, form url.Values) (int, string) {
		res, err := browser.PostForm(site.URL+p, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// Signing in sends her back to the link page.
	st, body := post("/login", url.Values{"name": {"carol"}, "password": {"carol-password"}, "next": {path}})
	if st != http.StatusOK || !strings.Contains(body, "Link the Slack account UCAROL of workspace T1DC2JH3J to your ferry user <b>carol</b>?") {
		t.Fatalf("sign in and back to the link page: %d\n%s", st, body)
	}
	csrf := csrfField.FindStringSubmatch(body)[1]
	if st, body = post(path, url.Values{"csrf": {csrf}}); st != http.StatusOK || !strings.Contains(body, "now acts as <b>carol</b>") {
		t.Fatalf("confirm: %d\n%s", st, body)
	}
	if r := f.command(uCarol, "whoami"); r.Text != "You are carol (teams ops)." {
		t.Fatalf("whoami after linking: %+v", r)
	}
	if st, _ := post(path, url.Values{"csrf": {csrf}}); st != http.StatusConflict {
		t.Fatalf("the address used twice: %d", st)
	}
	// ferry.yaml says UALICE is alice: carol cannot take her account.
	alice := strings.TrimPrefix(f.accounts.LinkAddress("slack", uAlice, team), "https://ferry.example.com/link/")
	if err := f.accounts.Link(context.Background(), alice, "carol"); !errors.Is(err, pipeline.ErrConflict) {
		t.Fatalf("linking alice's account to carol: %v", err)
	}
	audit, _ := f.store.AuditLog(context.Background(), 1)
	if len(audit) != 1 || audit[0].Action != "link" || audit[0].Actor != "carol" {
		t.Fatalf("audit: %+v", audit)
	}
	// Cards mention carol now that ferry knows her Slack ID.
	if id := f.adapter.slackID(context.Background(), "carol"); id != uCarol {
		t.Fatalf("carol's Slack ID = %q", id)
	}
}
