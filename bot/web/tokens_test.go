package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var newSecret = regexp.MustCompile(`id="new-token-secret">(fpt_[0-9a-f]+)<`)

// TestPersonalTokens: alice makes a token on the Tokens page, sees it
// once, uses it on the API; bob cannot revoke it; once alice revokes it,
// or it expires, the API refuses it and says why.
func TestPersonalTokens(t *testing.T) {
	f := newFixture(t)
	alice := f.signIn("alice", alicePassword)
	if res := f.get(alice, "/tokens"); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "You have no personal tokens.") {
		t.Fatalf("tokens page: %d\n%s", res.StatusCode, res.Body)
	}
	newToken := func(name, expires string) string {
		t.Helper()
		res := f.postForm(alice, "/tokens", url.Values{"csrf": {f.csrf(alice)}, "name": {name}, "expires": {expires}})
		m := newSecret.FindStringSubmatch(res.Body)
		if res.StatusCode != http.StatusOK || m == nil || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("make a token: %d %v\n%s", res.StatusCode, res.Header, res.Body)
		}
		return m[1]
	}
	ci := newToken("ci", "30")
	if res := f.api(http.MethodGet, "/api/v1/deploys", ci, "", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("the API with the new token: %d %s", res.StatusCode, res.Body)
	}
	page := f.get(alice, "/tokens").Body
	if strings.Contains(page, ci) || !strings.Contains(page, ">ci<") || !strings.Contains(page, "in use") {
		t.Fatalf("the tokens page after: shows the secret again, or not the token:\n%s", page)
	}
	if es, err := f.store.AuditLog(context.Background(), 1); err != nil || len(es) != 1 || es[0].Action != "token create" || es[0].Actor != "alice" || strings.Contains(es[0].Detail, ci) {
		t.Errorf("newest audit entries %+v, %v; want alice's token create, without its secret", es, err)
	}

	id := regexp.MustCompile(`data-token="(\d+)"`).FindStringSubmatch(page)[1]
	bob := f.signIn("bob", bobPassword)
	f.postForm(bob, "/tokens/"+id+"/revoke", url.Values{"csrf": {f.csrf(bob)}})
	if res := f.get(bob, "/tokens"); !strings.Contains(res.Body, "has no token") {
		t.Errorf("bob revoking alice's token was not refused:\n%s", res.Body)
	}
	if res := f.api(http.MethodGet, "/api/v1/deploys", ci, "", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("alice's token stopped working after bob tried to revoke it: %d", res.StatusCode)
	}
	f.postForm(alice, "/tokens/"+id+"/revoke", url.Values{"csrf": {f.csrf(alice)}})
	if res := f.api(http.MethodGet, "/api/v1/deploys", ci, "", nil); res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Body, `the API token \"ci\" was revoked`) {
		t.Fatalf("a revoked token: %d %s", res.StatusCode, res.Body)
	}

	week := newToken("laptop", "7")
	f.clock.Advance(8 * 24 * time.Hour)
	if res := f.api(http.MethodGet, "/api/v1/deploys", week, "", nil); res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Body, "expired") {
		t.Fatalf("an expired token: %d %s", res.StatusCode, res.Body)
	}
	if res := f.api(http.MethodGet, "/api/v1/deploys", "fpt_"+strings.Repeat("0", 48), "", nil); res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Body, "the API token is not valid") {
		t.Fatalf("an unknown token: %d %s", res.StatusCode, res.Body)
	}
}

// TestPersonalTokenForm: a bad name or expiry is refused with what to do.
func TestPersonalTokenForm(t *testing.T) {
	f := newFixture(t)
	alice := f.signIn("alice", alicePassword)
	for _, c := range []struct{ name, expires, want string }{
		{"", "30", "give the token a name of 1 to 64 characters"},
		{strings.Repeat("x", 65), "30", "give the token a name"},
		{"ci", "1000", "choose when the token expires"},
		{"ci", "soon", "choose when the token expires"},
	} {
		res := f.postForm(alice, "/tokens", url.Values{"csrf": {f.csrf(alice)}, "name": {c.name}, "expires": {c.expires}})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, c.want) || newSecret.MatchString(res.Body) {
			t.Errorf("name %q expires %q: %d; want 400 saying %q\n%s", c.name, c.expires, res.StatusCode, c.want, res.Body)
		}
	}
	if res := f.postForm(alice, "/tokens", url.Values{"name": {"ci"}, "expires": {"30"}}); res.StatusCode == http.StatusOK {
		t.Errorf("a form without its CSRF token made a token")
	}
}
