// Package oidctest is an OpenID Connect provider for tests: an httptest
// server on 127.0.0.1 that speaks the real wire format, so that
// github.com/coreos/go-oidc/v3 and golang.org/x/oauth2 run unchanged against
// it.
//
// It serves the authorization code flow only, and insists on what ferry's
// client must send: a registered client_id and redirect_uri, scope openid,
// state, nonce and a PKCE S256 code_challenge. Codes are single-use and
// expire a minute after they are issued; ID tokens are JWTs signed RS256
// with a kid that discovery's jwks_uri publishes.
//
//	p := oidctest.Start(t, oidctest.Config{
//		ClientID:     "ferry",
//		ClientSecret: "s3cret",
//		RedirectURLs: []string{"http://127.0.0.1:8080/auth/callback"},
//	})
//	p.SignInAs(oidctest.Person{Subject: "u1", Email: "ada@example.com", Name: "Ada"})
//	provider, err := oidc.NewProvider(ctx, p.Issuer())
//
// GET /authorize shows a sign-in page whose button has id "approve" (and
// one with id "deny"), for a headless browser to click; [Provider.SetAutoApprove]
// makes it redirect with a code at once, for tests with a plain http.Client.
//
// The other methods of [Provider] make it misbehave the way real providers
// do: tokens with altered claims ([Provider.Tamper]), a signature by a key
// the JWKS does not hold ([Provider.SignWithUnknownKey]), key rotation
// ([Provider.RotateKey]) and downtime ([Provider.SetDown]). [Provider.Requests]
// and [Provider.EndSessions] tell a test what the provider was asked.
package oidctest
