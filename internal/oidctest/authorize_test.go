package oidctest_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ferrybot/ferry/internal/browsertest"
	"github.com/ferrybot/ferry/internal/oidctest"
)

func TestAuthorizeRefusalsRedirect(t *testing.T) {
	tests := []struct {
		name      string
		change    func(q url.Values)
		code      string
		withState bool
	}{
		{"no code_challenge", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request", true},
		{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request", true},
		{"short code_challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request", true},
		{"no nonce", func(q url.Values) { q.Del("nonce") }, "invalid_request", true},
		{"no state", func(q url.Values) { q.Del("state") }, "invalid_request", false},
		{"two states", func(q url.Values) { q.Add("state", "again") }, "invalid_request", true},
		{"no openid scope", func(q url.Values) { q.Set("scope", "email profile") }, "invalid_scope", true},
		{"implicit flow", func(q url.Values) { q.Set("response_type", "id_token") }, "unsupported_response_type", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t)
			resp, _, err := c.get(t.Context(), changeQuery(t, c, tt.change))
			if err != nil {
				t.Fatal(err)
			}
			loc, err := resp.Location()
			if resp.StatusCode != http.StatusFound || err != nil {
				t.Fatalf("status %s, location %v (%v); want a redirect with the error", resp.Status, loc, err)
			}
			q := loc.Query()
			if !strings.HasPrefix(loc.String(), callback+"?") || q.Get("error") != tt.code ||
				q.Get("error_description") == "" || q.Has("code") || q.Has("state") != tt.withState {
				t.Errorf("redirected to %s, want %s with error=%s, a description, state %v and no code",
					loc, callback, tt.code, tt.withState)
			}
		})
	}
}

// changeQuery is an authorization URL from the real client, changed.
func changeQuery(t *testing.T, c *client, change func(url.Values)) string {
	t.Helper()
	raw, _ := c.authCodeURL()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	change(q)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestAuthorizeRefusalsStayAtProvider(t *testing.T) {
	tests := []struct {
		name, param, value, page string
	}{
		{"unknown client", "client_id", "mallory", "unknown client_id"},
		{"unregistered redirect_uri", "redirect_uri", "http://evil.example/cb", "not registered"},
		{"redirect_uri with a prefix of a registered one", "redirect_uri", callback + "/more", "not registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t)
			u := changeQuery(t, c, func(q url.Values) { q.Set(tt.param, tt.value) })
			resp, body, err := c.get(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, tt.page) {
				t.Errorf("status %s, Location %q, page:\n%s\nwant 400, no redirect, a page saying %q",
					resp.Status, resp.Header.Get("Location"), body, tt.page)
			}
		})
	}
}

func TestNobodyToSignInAs(t *testing.T) {
	c := start(t)
	p := oidctest.Start(t, oidctest.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURLs: []string{callback}})
	p.SetAutoApprove(true)
	u := strings.Replace(changeQuery(t, c, func(url.Values) {}), c.p.Issuer(), p.Issuer(), 1)
	resp, body, err := c.get(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "SignInAs") {
		t.Errorf("status %s, page:\n%s\nwant 500 naming SignInAs", resp.Status, body)
	}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// signInPage is the form of the sign-in page at u, which must hold the
// approve button.
func signInPage(t *testing.T, c *client, u string) url.Values {
	t.Helper()
	resp, body, err := c.get(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="approve"`) ||
		!strings.Contains(body, "Test identity provider — sign in as Ada Lovelace (ada@example.com)") {
		t.Fatalf("status %s, page:\n%s\nwant the sign-in page for Ada with an approve button", resp.Status, body)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		form.Add(m[1], html.UnescapeString(m[2]))
	}
	return form
}

func (c *client) post(t *testing.T, form url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.p.Issuer()+oidctest.AuthorizePath,
		strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _, err := c.do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestSignInPage(t *testing.T) {
	c := start(t)
	c.p.SetAutoApprove(false)
	u, a := c.authCodeURL()
	form := signInPage(t, c, u)
	form.Set("decision", "approve")
	code, err := callbackCode(c.post(t, form), a)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.exchange(t.Context(), code, a)
	if err != nil {
		t.Fatalf("exchange the page's code: %v", err)
	}
	if _, err := c.verify(t.Context(), tok); err != nil {
		t.Errorf("verify: %v", err)
	}
}

func TestSignInPageDeny(t *testing.T) {
	c := start(t)
	c.p.SetAutoApprove(false)
	u, a := c.authCodeURL()
	form := signInPage(t, c, u)
	form.Set("decision", "deny")
	_, err := callbackCode(c.post(t, form), a)
	if err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Errorf("deny: %v, want access_denied", err)
	}
}

func TestSignInPageFormIsChecked(t *testing.T) {
	c := start(t)
	c.p.SetAutoApprove(false)
	u, _ := c.authCodeURL()
	form := signInPage(t, c, u)
	form.Set("decision", "approve")
	form.Set("redirect_uri", "http://evil.example/cb")
	if resp := c.post(t, form); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("form with another redirect_uri: %s to %q, want 400 and no redirect", resp.Status, resp.Header.Get("Location"))
	}
}

func TestEndSession(t *testing.T) {
	c := start(t)
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := c.provider.Claims(&meta); err != nil || meta.EndSession != c.p.Issuer()+oidctest.EndSessionPath {
		t.Fatalf("discovery's end_session_endpoint %q (%v), want %s", meta.EndSession, err, c.p.Issuer()+oidctest.EndSessionPath)
	}
	back := url.Values{"id_token_hint": {"a.b.c"}, "client_id": {clientID}, "post_logout_redirect_uri": {signedOut}, "state": {"s1"}}
	resp, _, err := c.get(t.Context(), meta.EndSession+"?"+back.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != signedOut+"?state=s1" {
		t.Errorf("end session: %s to %q, want 302 to %s?state=s1", resp.Status, loc, signedOut)
	}
	stay := url.Values{"post_logout_redirect_uri": {"http://evil.example/"}}
	resp, body, err := c.get(t.Context(), meta.EndSession+"?"+stay.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" ||
		!strings.Contains(body, "You are signed out of the test identity provider") {
		t.Errorf("end session to an unregistered URL: %s, page:\n%s\nwant the provider's signed-out page", resp.Status, body)
	}
	got := c.p.EndSessions()
	if len(got) != 2 || got[0].Encode() != back.Encode() || got[1].Encode() != stay.Encode() {
		t.Errorf("EndSessions() = %v, want [%v %v]", got, back, stay)
	}
}

func TestOutstandingCodesAreBounded(t *testing.T) {
	c := start(t)
	var err error
	for i := 0; err == nil && i < 1001; i++ {
		_, _, err = c.code(t.Context())
	}
	if err == nil || !strings.Contains(err.Error(), "temporarily_unavailable") {
		t.Fatalf("1001 codes outstanding: %v, want temporarily_unavailable once 1000 are", err)
	}
	c.clock.Advance(time.Minute)
	if _, _, err := c.signIn(t.Context()); err != nil {
		t.Errorf("sign in once the codes expired: %v", err)
	}
}

// TestSignInPageInBrowser clicks the sign-in page's approve button in
// headless Chromium and follows the browser back to a client.
func TestSignInPageInBrowser(t *testing.T) {
	back := make(chan url.Values, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		select {
		case back <- r.URL.Query():
		default:
		}
		fmt.Fprint(w, `<p id="done">back at the client</p>`)
	}))
	t.Cleanup(app.Close)
	p := oidctest.Start(t, oidctest.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURLs: []string{app.URL + "/callback"}})
	p.SignInAs(ada)
	provider, err := oidc.NewProvider(t.Context(), p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: app.URL + "/callback", Scopes: []string{oidc.ScopeOpenID}}
	verifier, state, nonce := oauth2.GenerateVerifier(), "st-1", "n-1"

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang fails the test
	defer cancel()
	br := browsertest.New(t, ctx)
	br.Step("approve on the sign-in page",
		chromedp.Navigate(cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS("#approve")),
		chromedp.Click(chromedp.CSS("#approve")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	var q url.Values
	select {
	case q = <-back:
	default:
		t.Fatal("the browser reached the client without its callback being recorded")
	}
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback %v, want state %s and a code", q, state)
	}
	tok, err := cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	id, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(t.Context(), tok.Extra("id_token").(string))
	if err != nil || id.Nonce != nonce || id.Subject != ada.Subject {
		t.Errorf("ID token %+v (%v), want Ada's with nonce %s", id, err, nonce)
	}
}
