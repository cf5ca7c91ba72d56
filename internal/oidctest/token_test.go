package oidctest_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// refusal is the RFC 6749 error of a refused exchange, or fails the test.
func refusal(t *testing.T, err error) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("exchange: %v, want an OAuth error response", err)
	}
	return re
}

func TestCodeIsSingleUse(t *testing.T) {
	c := start(t)
	code, a, err := c.code(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.exchange(t.Context(), code, a); err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	_, err = c.exchange(t.Context(), code, a)
	if re := refusal(t, err); re.ErrorCode != "invalid_grant" || !strings.Contains(re.ErrorDescription, "already used") {
		t.Errorf("second exchange: %q %q, want invalid_grant, already used", re.ErrorCode, re.ErrorDescription)
	}
}

func TestCodeExpiresAfterAMinute(t *testing.T) {
	c := start(t)
	code, a, err := c.code(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(59 * time.Second)
	if _, _, err := c.signIn(t.Context()); err != nil {
		t.Fatalf("a fresh code: %v", err)
	}
	c.clock.Advance(time.Second)
	_, err = c.exchange(t.Context(), code, a)
	if re := refusal(t, err); re.ErrorCode != "invalid_grant" || !strings.Contains(re.ErrorDescription, "expired") {
		t.Errorf("a minute later: %q %q, want invalid_grant, expired", re.ErrorCode, re.ErrorDescription)
	}
}

func TestTokenRefusals(t *testing.T) {
	tests := []struct {
		name         string
		change       func(c *client, a *attempt)
		status       int
		code, reason string
	}{
		{"wrong verifier", func(c *client, a *attempt) { a.verifier = oauth2.GenerateVerifier() },
			http.StatusBadRequest, "invalid_grant", "PKCE"},
		{"another registered redirect_uri", func(c *client, a *attempt) { c.oauth.RedirectURL = otherURL },
			http.StatusBadRequest, "invalid_grant", "redirect_uri"},
		{"wrong secret", func(c *client, a *attempt) { c.oauth.ClientSecret = "guess" },
			http.StatusUnauthorized, "invalid_client", "secret"},
		{"another client", func(c *client, a *attempt) { c.oauth.ClientID = "mallory" },
			http.StatusUnauthorized, "invalid_client", "client_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t)
			code, a, err := c.code(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			tt.change(c, &a)
			_, err = c.exchange(t.Context(), code, a)
			re := refusal(t, err)
			if re.Response.StatusCode != tt.status || re.ErrorCode != tt.code || !strings.Contains(re.ErrorDescription, tt.reason) {
				t.Errorf("got %d %q %q, want %d %q about %s",
					re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, tt.status, tt.code, tt.reason)
			}
		})
	}
}

func TestExchangeWithoutVerifierRefused(t *testing.T) {
	c := start(t)
	code, _, err := c.code(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.oauth.Exchange(t.Context(), code)
	if re := refusal(t, err); re.ErrorCode != "invalid_request" || !strings.Contains(re.ErrorDescription, "code_verifier") {
		t.Errorf("got %q %q, want invalid_request about code_verifier", re.ErrorCode, re.ErrorDescription)
	}
}

func TestUserInfoRefusesUnknownToken(t *testing.T) {
	c := start(t)
	forged := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "forged", TokenType: "Bearer"})
	if _, err := c.provider.UserInfo(t.Context(), forged); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("userinfo with a forged token: %v, want 401", err)
	}
}
