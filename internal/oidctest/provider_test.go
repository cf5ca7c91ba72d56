package oidctest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jonboulle/clockwork"
	"golang.org/x/oauth2"

	"github.com/ferrybot/ferry/internal/oidctest"
)

const (
	clientID     = "ferry"
	clientSecret = "s3cret+/=&" // characters that HTTP Basic must form-encode
	callback     = "http://127.0.0.1:1/auth/callback"
	otherURL     = "http://127.0.0.1:1/auth/other"
	signedOut    = "http://127.0.0.1:1/signed-out"
)

var ada = oidctest.Person{
	Subject:           "u-1815",
	Email:             "ada@example.com",
	EmailVerified:     true,
	PreferredUsername: "ada",
	Name:              "Ada Lovelace",
	Groups:            []string{"deployers", "admins"},
}

// client is ferry's side of the flow, built from the real libraries.
type client struct {
	p        *oidctest.Provider
	clock    *clockwork.FakeClock
	provider *oidc.Provider
	oauth    oauth2.Config
	browser  *http.Client // does not follow redirects, so the code can be read
}

// attempt is what the client keeps between /authorize and the callback.
type attempt struct{ verifier, state, nonce string }

// start runs a provider with auto-approve on, Ada to sign in, and a client
// that has done discovery.
func start(t *testing.T) *client {
	t.Helper()
	clk := clockwork.NewFakeClockAt(time.Date(2031, 5, 4, 12, 0, 0, 0, time.UTC))
	p := oidctest.Start(t, oidctest.Config{
		ClientID:               clientID,
		ClientSecret:           clientSecret,
		RedirectURLs:           []string{callback, otherURL},
		PostLogoutRedirectURLs: []string{signedOut},
		Now:                    clk.Now,
	})
	p.SignInAs(ada)
	p.SetAutoApprove(true)
	provider, err := oidc.NewProvider(t.Context(), p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &client{
		p:        p,
		clock:    clk,
		provider: provider,
		oauth: oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  callback,
			Scopes:       []string{oidc.ScopeOpenID, "email", "profile", "groups"},
		},
		browser: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

func (c *client) authCodeURL() (string, attempt) {
	a := attempt{verifier: oauth2.GenerateVerifier(), state: oauth2.GenerateVerifier(), nonce: oauth2.GenerateVerifier()}
	u := c.oauth.AuthCodeURL(a.state, oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier))
	return u, a
}

// get is a GET by the browser, which reads the whole body.
func (c *client) get(ctx context.Context, target string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, "", err
	}
	return c.do(req)
}

func (c *client) do(req *http.Request) (*http.Response, string, error) {
	resp, err := c.browser.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// callbackCode reads the code from the provider's redirect to the callback.
func callbackCode(resp *http.Response, a attempt) (string, error) {
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("authorize: status %s, want 302", resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("authorize: %w", err)
	}
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
		return "", fmt.Errorf("authorize: redirected to %s, want %s", got, callback)
	}
	if q.Get("error") != "" {
		return "", fmt.Errorf("authorize: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != a.state {
		return "", fmt.Errorf("authorize: state %q, want %q", q.Get("state"), a.state)
	}
	return q.Get("code"), nil
}

// code follows /authorize, auto-approved, to the callback's code.
func (c *client) code(ctx context.Context) (string, attempt, error) {
	u, a := c.authCodeURL()
	resp, _, err := c.get(ctx, u)
	if err != nil {
		return "", a, err
	}
	code, err := callbackCode(resp, a)
	return code, a, err
}

func (c *client) exchange(ctx context.Context, code string, a attempt) (*oauth2.Token, error) {
	return c.oauth.Exchange(ctx, code, oauth2.VerifierOption(a.verifier))
}

func (c *client) verify(ctx context.Context, tok *oauth2.Token) (*oidc.IDToken, error) {
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return nil, errors.New("the token response has no id_token")
	}
	return c.provider.Verifier(&oidc.Config{ClientID: clientID, Now: c.clock.Now}).Verify(ctx, raw)
}

// signIn runs the whole flow and checks the nonce, as ferry must.
func (c *client) signIn(ctx context.Context) (*oauth2.Token, *oidc.IDToken, error) {
	code, a, err := c.code(ctx)
	if err != nil {
		return nil, nil, err
	}
	tok, err := c.exchange(ctx, code, a)
	if err != nil {
		return nil, nil, fmt.Errorf("exchange: %w", err)
	}
	id, err := c.verify(ctx, tok)
	if err != nil {
		return nil, nil, fmt.Errorf("verify: %w", err)
	}
	if id.Nonce != a.nonce {
		return nil, nil, fmt.Errorf("nonce %q, want %q", id.Nonce, a.nonce)
	}
	return tok, id, nil
}

// mustToken is the response of a flow through /token, not yet verified.
func (c *client) mustToken(t *testing.T) *oauth2.Token {
	t.Helper()
	code, a, err := c.code(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.exchange(t.Context(), code, a)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// claims are an ID token's claims; /userinfo answers the person's ones.
type claims struct {
	Issuer            string   `json:"iss,omitempty"`
	Subject           string   `json:"sub"`
	Audience          string   `json:"aud,omitempty"`
	IssuedAt          int64    `json:"iat,omitempty"`
	Expiry            int64    `json:"exp,omitempty"`
	AuthTime          int64    `json:"auth_time,omitempty"`
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	PreferredUsername string   `json:"preferred_username"`
	Name              string   `json:"name"`
	Groups            []string `json:"groups"`
}

func adasClaims() claims {
	return claims{Subject: ada.Subject, Email: ada.Email, EmailVerified: true, PreferredUsername: ada.PreferredUsername,
		Name: ada.Name, Groups: ada.Groups}
}

func TestFlowWithRealClient(t *testing.T) {
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		t.Run(fmt.Sprint("auth style ", style), func(t *testing.T) {
			c := start(t)
			c.oauth.Endpoint.AuthStyle = style
			tok, id, err := c.signIn(t.Context()) // checks the nonce
			if err != nil {
				t.Fatal(err)
			}
			var got claims
			if err := id.Claims(&got); err != nil {
				t.Fatal(err)
			}
			now := c.clock.Now().Unix()
			want := adasClaims()
			want.Issuer, want.Audience, want.IssuedAt, want.Expiry, want.AuthTime = c.p.Issuer(), clientID, now, now+3600, now
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ID token claims\n%+v\nwant\n%+v", got, want)
			}
			if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.Extra("scope") != "openid email profile groups" ||
				!tok.Expiry.After(time.Now().Add(59*time.Minute)) {
				t.Errorf("token response: type %q scope %v expiry %v, want Bearer, the scope asked for, an hour",
					tok.TokenType, tok.Extra("scope"), tok.Expiry)
			}
			info, err := c.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			var infoClaims claims
			if err := info.Claims(&infoClaims); err != nil || !reflect.DeepEqual(infoClaims, adasClaims()) {
				t.Errorf("userinfo claims %+v (%v), want %+v", infoClaims, err, adasClaims())
			}
		})
	}
}

func TestVerifierRefusesBadTokens(t *testing.T) {
	tests := []struct {
		name   string
		spoil  func(p *oidctest.Provider, clk *clockwork.FakeClock)
		reason string
	}{
		{"expired", func(p *oidctest.Provider, clk *clockwork.FakeClock) {
			p.Tamper(func(c map[string]any) { c["exp"] = clk.Now().Add(-time.Second).Unix() })
		}, "expired"},
		{"another audience", func(p *oidctest.Provider, _ *clockwork.FakeClock) {
			p.Tamper(func(c map[string]any) { c["aud"] = "someone-else" })
		}, "audience"},
		{"another issuer", func(p *oidctest.Provider, _ *clockwork.FakeClock) {
			p.Tamper(func(c map[string]any) { c["iss"] = "https://idp.example" })
		}, "different provider"},
		{"unknown key", func(p *oidctest.Provider, _ *clockwork.FakeClock) { p.SignWithUnknownKey(true) }, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t)
			tt.spoil(c.p, c.clock)
			_, _, err := c.signIn(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("sign in: %v, want the verifier to refuse: %s", err, tt.reason)
			}
			c.p.Tamper(nil)
			c.p.SignWithUnknownKey(false)
			if _, _, err := c.signIn(t.Context()); err != nil {
				t.Errorf("sign in once the provider behaves: %v", err)
			}
		})
	}
}

func TestTamperedNonceReachesClient(t *testing.T) {
	c := start(t)
	c.p.Tamper(func(claims map[string]any) { claims["nonce"] = "replayed" })
	_, _, err := c.signIn(t.Context())
	if err == nil || !strings.Contains(err.Error(), `nonce "replayed"`) {
		t.Errorf("sign in: %v, want the client's nonce check to refuse", err)
	}
}

func TestRotatedKeyIsFetched(t *testing.T) {
	c := start(t)
	before := c.mustToken(t)
	if _, err := c.verify(t.Context(), before); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if _, _, err := c.signIn(t.Context()); err != nil {
		t.Fatalf("sign in again: %v", err)
	}
	if n := c.p.Requests(oidctest.JWKSPath); n != 1 {
		t.Fatalf("JWKS fetched %d times for two tokens under one key, want once (cached)", n)
	}
	c.p.RotateKey()
	if _, _, err := c.signIn(t.Context()); err != nil {
		t.Fatalf("sign in after RotateKey: %v", err)
	}
	if n := c.p.Requests(oidctest.JWKSPath); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2: again for the new kid", n)
	}
	if _, err := c.verify(t.Context(), before); err == nil {
		t.Errorf("a token signed by the retired key still verifies")
	}
}

func TestDown(t *testing.T) {
	c := start(t)
	c.p.SetDown(true)
	resp, _, err := c.get(t.Context(), c.p.Issuer()+oidctest.DiscoveryPath)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("discovery while down: %s, want 503", resp.Status)
	}
	if _, err := oidc.NewProvider(t.Context(), c.p.Issuer()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("oidc.NewProvider while down: %v, want a 503 error", err)
	}
	if _, _, err := c.code(t.Context()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("authorize while down: %v, want 503", err)
	}
	if n := c.p.Requests(oidctest.DiscoveryPath); n != 3 {
		t.Errorf("discovery got %d requests, want 3 counted, refused ones too", n)
	}
	c.p.SetDown(false)
	if _, _, err := c.signIn(t.Context()); err != nil {
		t.Errorf("sign in once up again: %v", err)
	}
}

func TestConcurrentSignIns(t *testing.T) {
	c := start(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, _, err := c.signIn(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() { c.p.RotateKey() })
	wg.Wait()
	if _, _, err := c.signIn(t.Context()); err != nil {
		t.Errorf("sign in after the rush: %v", err)
	}
}
