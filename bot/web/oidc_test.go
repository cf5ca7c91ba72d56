package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/internal/oidctest"
)

const (
	oidcClient = "ferry-console"
	oidcSecret = "client-secret-0123456789"
)

var aliceAtIdP = oidctest.Person{Subject: "u-1001", Email: "alice@acme.example", EmailVerified: true, PreferredUsername: "alice", Name: "Alice", Groups: []string{"eng", "ferry-ops"}}

// oidcFixture serves the console with a real OpenID Connect provider on
// 127.0.0.1 that signs alice in, and a user alice known by her email.
func oidcFixture(t *testing.T, s setup) (*fixture, *oidctest.Provider) {
	var p *oidctest.Provider
	var f *fixture
	s.oidc = func(base string) *OIDC {
		p = oidctest.Start(t, oidctest.Config{ClientID: oidcClient, ClientSecret: oidcSecret,
			RedirectURLs: []string{base + callback}, PostLogoutRedirectURLs: []string{base + "/login"}, Now: func() time.Time { return f.clock.Now() }})
		return &OIDC{Issuer: p.Issuer(), ClientID: oidcClient, ClientSecret: oidcSecret, Name: "Acme SSO", Scopes: []string{"openid", "email", "profile", "groups"},
			UserClaim: "email", GroupsClaim: "groups", TeamsFromGroups: map[string][]string{"ferry-ops": {"ops"}, "eng": {"dev"}, "sales": {"sales"}}}
	}
	f = newFixture(t, s)
	alice := f.users["alice"]
	alice.OIDC = "alice@acme.example"
	f.users["alice"] = alice
	p.SignInAs(aliceAtIdP)
	p.SetAutoApprove(true)
	return f, p
}

// oidcBegin presses the sign-in button: it returns the provider's
// authorization address ferry sends the browser to.
func (f *fixture) oidcBegin(c *http.Client, next string) string {
	f.t.Helper()
	res := f.get(c, oidcPath+"?next="+url.QueryEscape(next))
	if res.StatusCode != http.StatusFound {
		f.t.Fatalf("GET %s: %d %s", oidcPath, res.StatusCode, res.Body)
	}
	return res.Header.Get("Location")
}

// authorize signs in at the provider: it returns the callback address the
// provider sends the browser back to.
func (f *fixture) authorize(c *http.Client, authURL string) *url.URL {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, authURL, nil)
	res := f.do(c, req)
	back, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || back.Query().Get("code") == "" {
		f.t.Fatalf("GET %s: %d %s, Location %q", authURL, res.StatusCode, res.Body, res.Header.Get("Location"))
	}
	return back
}

// callback brings the provider's answer to ferry.
func (f *fixture) callback(c *http.Client, back *url.URL) response {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, back.String(), nil)
	return f.do(c, req)
}

// oidcSignIn signs in through the provider, as far as ferry's answer to
// the callback.
func (f *fixture) oidcSignIn(c *http.Client, next string) response {
	f.t.Helper()
	return f.callback(c, f.authorize(c, f.oidcBegin(c, next)))
}

func (f *fixture) sessionOf(c *http.Client) (session, bool) {
	for _, ck := range c.Jar.Cookies(mustURL(f.ts.URL)) {
		if ck.Name == sessionCookie {
			return f.srv.decode(ck.Value)
		}
	}
	return session{}, false
}

// TestOIDCSignIn: the button, the provider, the callback, and alice is
// signed in as the user her email names, in the teams her groups map to,
// on the page she asked for. The provider's keys are fetched once, and her
// session outlives the provider's downtime.
func TestOIDCSignIn(t *testing.T) {
	f, p := oidcFixture(t, setup{})
	c := f.client()
	login := f.get(c, "/login?next=/board")
	if !strings.Contains(login.Body, `id="sign-in-oidc" href="/login/oidc?next=%2fboard">Sign in with Acme SSO</a>`) || !strings.Contains(login.Body, `id="password"`) {
		t.Fatalf("the sign-in page lacks the provider's button or the password form:\n%s", login.Body)
	}
	authURL := f.oidcBegin(c, "/board")
	q := mustURL(authURL).Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" || q.Get("redirect_uri") != f.ts.URL+callback || q.Get("scope") != "openid email profile groups" {
		t.Errorf("authorization request = %v; want PKCE S256, state, nonce, ferry's callback and the scopes", q)
	}
	res := f.callback(c, f.authorize(c, authURL))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/board" {
		t.Fatalf("callback: %d %s, Location %q; want 303 to /board", res.StatusCode, res.Body, res.Header.Get("Location"))
	}
	ss, ok := f.sessionOf(c)
	if !ok || ss.Name != "alice" || !slices.Equal(ss.Teams, []string{"dev", "ops"}) || !strings.HasPrefix(ss.Gen, oidcGen) {
		t.Fatalf("session = %+v, %v; want alice in dev and ops, signed in through the provider", ss, ok)
	}
	if board := f.get(c, "/board"); board.StatusCode != http.StatusOK || !strings.Contains(board.Body, "alice") {
		t.Fatalf("board: %d", board.StatusCode)
	}
	req := httptest.NewRequest(http.MethodGet, "/board", nil)
	for _, ck := range c.Jar.Cookies(mustURL(f.ts.URL)) {
		req.AddCookie(ck)
	}
	v, ok := f.srv.viewer(httptest.NewRecorder(), req)
	if !ok || !v.Actor.Is([]string{"ops"}) || !v.Actor.Is([]string{"dev"}) {
		t.Errorf("viewer = %+v; want the teams of her groups", v)
	}

	// A second sign-in uses the keys fetched for the first.
	f.oidcSignIn(f.client(), "/")
	if n := p.Requests(oidctest.JWKSPath); n != 1 {
		t.Errorf("the provider's keys were fetched %d times for two sign-ins; want once", n)
	}
	// New keys at the provider: the next token's key id is fetched anew.
	p.RotateKey()
	if res := f.oidcSignIn(f.client(), "/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in after the provider rotated its keys: %d %s", res.StatusCode, res.Body)
	}
	if n := p.Requests(oidctest.JWKSPath); n != 2 {
		t.Errorf("keys fetched %d times after a rotation; want 2", n)
	}

	p.SetDown(true)
	if board := f.get(c, "/board"); board.StatusCode != http.StatusOK {
		t.Errorf("with the provider down, a signed-in page answered %d; want 200", board.StatusCode)
	}
}

// TestOIDCProviderDown: a sign-in while the provider cannot be reached
// says so, at the button and at the callback, and works once it is back.
func TestOIDCProviderDown(t *testing.T) {
	f, p := oidcFixture(t, setup{})
	p.SetDown(true)
	res := f.get(f.client(), oidcPath)
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(res.Body, "ferry cannot reach Acme SSO ("+p.Issuer()+") now") {
		t.Errorf("button with the provider down: %d %s", res.StatusCode, res.Body)
	}
	p.SetDown(false)
	c := f.client()
	back := f.authorize(c, f.oidcBegin(c, "/"))
	p.SetDown(true)
	if res := f.callback(c, back); res.StatusCode != http.StatusBadGateway || !strings.Contains(res.Body, "ferry could not reach Acme SSO to finish the sign-in (it answered 503 Service Unavailable)") {
		t.Errorf("callback with the provider down: %d %s", res.StatusCode, res.Body)
	}
	p.SetDown(false)
	if res := f.oidcSignIn(f.client(), "/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-in with the provider back: %d %s", res.StatusCode, res.Body)
	}
}

// TestOIDCRefusals: each way a sign-in goes wrong is refused with a page
// that says what happened and what to do, and signs nobody in.
func TestOIDCRefusals(t *testing.T) {
	f, p := oidcFixture(t, setup{})
	refused := func(t *testing.T, c *http.Client, res response, status int, want string) {
		t.Helper()
		if res.StatusCode != status || !strings.Contains(res.Body, want) || !strings.Contains(res.Body, `id="sign-in-oidc"`) {
			t.Errorf("answer %d, want %d with %q and the button to sign in again:\n%s", res.StatusCode, status, want, res.Body)
		}
		if ss, ok := f.sessionOf(c); ok {
			t.Errorf("signed in as %s after a refusal", ss.Name)
		}
	}
	tampered := func(t *testing.T, change func(map[string]any)) response {
		p.Tamper(change)
		t.Cleanup(func() { p.Tamper(nil) })
		return f.oidcSignIn(f.client(), "/")
	}
	t.Run("wrong state", func(t *testing.T) {
		c := f.client()
		back := f.authorize(c, f.oidcBegin(c, "/"))
		q := back.Query()
		q.Set("state", "forged-state")
		back.RawQuery = q.Encode()
		refused(t, c, f.callback(c, back), http.StatusBadRequest, "does not belong to the sign-in this browser started (its state differs)")
	})
	t.Run("answer used twice", func(t *testing.T) {
		c := f.client()
		back := f.authorize(c, f.oidcBegin(c, "/"))
		if res := f.callback(c, back); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("first callback: %d", res.StatusCode)
		}
		c2 := f.client() // the same answer, brought again by another browser
		refused(t, c2, f.callback(c2, back), http.StatusBadRequest, "started more than 10 minutes ago, in another browser, or was already used")
	})
	t.Run("code replayed", func(t *testing.T) {
		c := f.client()
		used := f.authorize(c, f.oidcBegin(c, "/"))
		f.callback(c, used)
		// A new sign-in, answered with the code the first one used.
		c2 := f.client()
		back := f.authorize(c2, f.oidcBegin(c2, "/"))
		q := back.Query()
		q.Set("code", used.Query().Get("code"))
		back.RawQuery = q.Encode()
		tokens := p.Requests(oidctest.TokenPath)
		refused(t, c2, f.callback(c2, back), http.StatusBadGateway, "Acme SSO refused the sign-in&#39;s code: invalid_grant")
		if n := p.Requests(oidctest.TokenPath) - tokens; n != 1 {
			t.Errorf("the replayed code was sent to the provider %d times; want once", n)
		}
	})
	t.Run("expired ID token", func(t *testing.T) {
		res := tampered(t, func(c map[string]any) { c["exp"] = t0.Add(-time.Minute).Unix(); c["iat"] = t0.Add(-time.Hour).Unix() })
		refused(t, f.client(), res, http.StatusUnauthorized, "ferry refused the ID token Acme SSO sent: it expired at 2026-11-02T09:59:00Z")
	})
	t.Run("another audience", func(t *testing.T) {
		res := tampered(t, func(c map[string]any) { c["aud"] = "another-app" })
		refused(t, f.client(), res, http.StatusUnauthorized, "it was issued for another application")
	})
	t.Run("another issuer", func(t *testing.T) {
		res := tampered(t, func(c map[string]any) { c["iss"] = "https://evil.example" })
		refused(t, f.client(), res, http.StatusUnauthorized, "it was issued by another provider than auth.oidc.issuer")
	})
	t.Run("wrong nonce", func(t *testing.T) {
		res := tampered(t, func(c map[string]any) { c["nonce"] = "nonce-of-another-sign-in" })
		refused(t, f.client(), res, http.StatusUnauthorized, "its nonce is not the one this sign-in sent")
	})
	t.Run("wrongly signed", func(t *testing.T) {
		p.SignWithUnknownKey(true)
		defer p.SignWithUnknownKey(false)
		refused(t, f.client(), f.oidcSignIn(f.client(), "/"), http.StatusUnauthorized, "its signature does not verify with the provider&#39;s published keys")
	})
	t.Run("no user claim", func(t *testing.T) {
		res := tampered(t, func(c map[string]any) { delete(c, "email") })
		refused(t, f.client(), res, http.StatusForbidden, "Acme SSO&#39;s ID token has no email claim")
	})
	t.Run("unverified email", func(t *testing.T) {
		res := tampered(t, func(c map[string]any) { c["email_verified"] = false })
		refused(t, f.client(), res, http.StatusForbidden, "Acme SSO says the address alice@acme.example is not verified")
	})
	t.Run("unknown person", func(t *testing.T) {
		p.SignInAs(oidctest.Person{Subject: "u-2002", Email: "carol@acme.example", EmailVerified: true, Name: "Carol", Groups: []string{"ferry-ops"}})
		defer p.SignInAs(aliceAtIdP)
		c := f.client()
		refused(t, c, f.oidcSignIn(c, "/"), http.StatusForbidden,
			"You signed in at Acme SSO as carol@acme.example, but ferry does not know you. Ask #platform on Slack to add you to ferry.yaml: a user under users: with oidc: carol@acme.example.")
	})
	t.Run("provider refused", func(t *testing.T) {
		c := f.client()
		state := mustURL(f.oidcBegin(c, "/")).Query().Get("state")
		back := mustURL(f.ts.URL + callback + "?error=access_denied&error_description=" + url.QueryEscape("The user is not assigned to this application") + "&state=" + state)
		refused(t, c, f.callback(c, back), http.StatusUnauthorized, "Acme SSO refused the sign-in: access_denied (The user is not assigned to this application).")
	})
	t.Run("refusal under another state", func(t *testing.T) {
		c := f.client()
		f.oidcBegin(c, "/")
		back := mustURL(f.ts.URL + callback + "?error=access_denied&error_description=" + url.QueryEscape("Call +1 555 0100 to unlock your account") + "&state=forged")
		res := f.callback(c, back)
		refused(t, c, res, http.StatusBadRequest, "its state differs")
		if strings.Contains(res.Body, "555") {
			t.Error("ferry showed the description of an answer that is not its sign-in's")
		}
	})
}

// TestOIDCSignOut: signing out ends the ferry session and offers the
// provider's end-session page, which brings the person back to sign-in.
func TestOIDCSignOut(t *testing.T) {
	f, p := oidcFixture(t, setup{})
	c := f.client()
	f.oidcSignIn(c, "/")
	ss, _ := f.sessionOf(c)
	res := f.postForm(c, "/logout", url.Values{"csrf": {f.srv.csrf(ss)}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?signed_out=oidc" {
		t.Fatalf("sign out: %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	if got := f.get(c, "/board"); got.StatusCode != http.StatusSeeOther {
		t.Errorf("after signing out, /board answered %d; want a redirect to sign in", got.StatusCode)
	}
	page := f.get(c, "/login?signed_out=oidc")
	want := `href="` + p.Issuer() + oidctest.EndSessionPath + "?client_id=" + oidcClient + "&amp;post_logout_redirect_uri=" + url.QueryEscape(f.ts.URL+"/login") + `" id="provider-sign-out">Sign out of Acme SSO too</a>`
	if !strings.Contains(page.Body, want) {
		t.Fatalf("signed-out page lacks %s:\n%s", want, page.Body)
	}
	req, _ := http.NewRequest(http.MethodGet, strings.ReplaceAll(strings.Split(strings.Split(page.Body, `id="signed-out">You are signed out of ferry. <a href="`)[1], `"`)[0], "&amp;", "&"), nil)
	if res := f.do(c, req); res.StatusCode != http.StatusFound || res.Header.Get("Location") != f.ts.URL+"/login" {
		t.Errorf("provider's end-session page: %d, Location %q; want back to ferry's sign-in", res.StatusCode, res.Header.Get("Location"))
	}
	if n := len(p.EndSessions()); n != 1 {
		t.Errorf("the provider's end-session page was asked %d times; want once", n)
	}
}

// TestPasswordSignInOff: with password sign-in switched off, the page
// offers only the provider, a password is refused even when right, and a
// session signed in with a password before no longer holds.
func TestPasswordSignInOff(t *testing.T) {
	f, _ := oidcFixture(t, setup{noPassword: true})
	c := f.client()
	page := f.get(c, "/login")
	if strings.Contains(page.Body, `id="password"`) || !strings.Contains(page.Body, `id="sign-in-oidc"`) {
		t.Errorf("sign-in page with passwords off:\n%s", page.Body)
	}
	res := f.postForm(c, "/login", url.Values{"name": {"alice"}, "password": {alicePassword}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "Signing in with a password is switched off here; sign in with Acme SSO.") {
		t.Errorf("password sign-in: %d %s", res.StatusCode, res.Body)
	}
	old := f.srv.newSession(f.users["alice"]) // as a password sign-in made it
	req := httptest.NewRequest(http.MethodGet, "/board", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: f.srv.encode(old)})
	if _, ok := f.srv.viewer(httptest.NewRecorder(), req); ok {
		t.Error("a password session holds with password sign-in off")
	}
	if res := f.oidcSignIn(c, "/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-in through the provider: %d %s", res.StatusCode, res.Body)
	}
}
