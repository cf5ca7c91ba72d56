package oidctest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The provider's endpoints, relative to [Provider.Issuer]; discovery
// advertises all of them.
const (
	DiscoveryPath  = "/.well-known/openid-configuration"
	AuthorizePath  = "/authorize"
	TokenPath      = "/token"
	JWKSPath       = "/keys"
	UserInfoPath   = "/userinfo"
	EndSessionPath = "/logout"
)

var endpointPaths = []string{DiscoveryPath, AuthorizePath, TokenPath, JWKSPath, UserInfoPath, EndSessionPath}

const (
	maxBodyBytes   = 64 << 10    // the largest request body read
	maxCodes       = 1000        // codes held at once, used ones until they expire
	maxTokens      = 1000        // access tokens held at once for /userinfo
	maxEndSessions = 1000        // end-session requests remembered, the latest kept
	codeTTL        = time.Minute // how long a code can be exchanged
	tokenTTL       = time.Hour   // lifetime of ID and access tokens
	rsaBits        = 2048
)

// Person is an account at the provider.
type Person struct {
	Subject           string // sub
	Email             string
	EmailVerified     bool
	PreferredUsername string
	Name              string
	Groups            []string // the "groups" claim; nil is sent as []
}

// Config registers the one client the provider serves.
type Config struct {
	// ClientID and ClientSecret are the client's credentials at /token;
	// both are required.
	ClientID, ClientSecret string
	// RedirectURLs are the registered redirect_uri values, matched exactly;
	// /authorize and /token refuse any other. At least one is required.
	RedirectURLs []string
	// PostLogoutRedirectURLs are where the end-session endpoint may send
	// the browser back to; nil: nowhere, it always shows its own page.
	PostLogoutRedirectURLs []string
	// Now is the clock for iat, exp, auth_time and code expiry; nil: time.Now.
	Now func() time.Time
}

// Provider is a running OpenID Connect provider. Its methods are safe for
// concurrent use; the ones that change its behaviour take effect on the
// next request.
type Provider struct {
	t   testing.TB
	cfg Config
	now func() time.Time
	srv *httptest.Server

	mu          sync.Mutex
	key         signingKey  // signs ID tokens and is the only key in the JWKS
	unknownKey  *signingKey // signs ID tokens instead of key, when set
	person      *Person
	autoApprove bool
	tamper      func(map[string]any)
	down        bool
	requests    map[string]int
	codes       map[string]*grant
	tokens      map[string]accessToken
	endSessions []url.Values
}

// signingKey is an RSA key and the kid it is published under.
type signingKey struct {
	priv *rsa.PrivateKey
	kid  string
}

// Start runs a provider for cfg on 127.0.0.1 until the test ends. A Config
// without a client or a redirect URL fails the test.
func Start(t testing.TB, cfg Config) *Provider {
	t.Helper()
	if err := cfg.check(); err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	cfg.RedirectURLs = slices.Clone(cfg.RedirectURLs)
	cfg.PostLogoutRedirectURLs = slices.Clone(cfg.PostLogoutRedirectURLs)
	p := &Provider{
		t:        t,
		cfg:      cfg,
		now:      cfg.Now,
		requests: map[string]int{},
		codes:    map[string]*grant{},
		tokens:   map[string]accessToken{},
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.key = p.newKey()
	p.srv = httptest.NewServer(p.routes())
	t.Cleanup(p.srv.Close)
	return p
}

func (cfg Config) check() error {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return errors.New("config: ClientID and ClientSecret are required")
	}
	if len(cfg.RedirectURLs) == 0 {
		return errors.New("config: at least one redirect URL is required")
	}
	for _, raw := range slices.Concat(cfg.RedirectURLs, cfg.PostLogoutRedirectURLs) {
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return fmt.Errorf("config: redirect URL %q is not an absolute URL without a fragment", raw)
		}
	}
	return nil
}

// Issuer is the provider's URL, without a trailing slash: the iss of its
// tokens and what oidc.NewProvider takes.
func (p *Provider) Issuer() string { return p.srv.URL }

// SignInAs makes person the one who signs in at /authorize from now on.
// Until it is called, /authorize has nobody to sign in and says so.
func (p *Provider) SignInAs(person Person) {
	person.Groups = slices.Clone(person.Groups)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.person = &person
}

// SetAutoApprove makes GET /authorize, when the request is good, redirect
// with a code at once instead of showing the sign-in page.
func (p *Provider) SetAutoApprove(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.autoApprove = on
}

// Tamper sets f to run on the claims of every ID token issued from now on,
// just before it is signed: set exp in the past, another aud or iss, a wrong
// nonce, or delete a claim. Tamper(nil) stops it. f runs on the server's
// goroutine and must not call the Provider.
func (p *Provider) Tamper(f func(claims map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = f
}

// SignWithUnknownKey, when on, signs ID tokens with a key the JWKS does not
// hold, under the published key's kid, so that only the signature is wrong.
// Call it from the test's goroutine: a failure fails the test.
func (p *Provider) SignWithUnknownKey(on bool) {
	var k *signingKey
	if on {
		made := p.newKey()
		k = &made
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unknownKey = k
}

// RotateKey replaces the signing key with a new one under a new kid; the
// JWKS then lists only the new key, so tokens signed before no longer verify.
// Call it from the test's goroutine: a failure fails the test.
func (p *Provider) RotateKey() {
	k := p.newKey()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.key = k
}

// SetDown, when on, makes every endpoint answer 503, as a provider does
// during an outage.
func (p *Provider) SetDown(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = on
}

// Requests is how many requests the endpoint at path (one of the *Path
// constants) has received, including those refused.
func (p *Provider) Requests(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[path]
}

// EndSessions is what the end-session endpoint received, oldest first: the
// parameters of each request (id_token_hint, client_id,
// post_logout_redirect_uri, state). It holds the latest 1000.
func (p *Provider) EndSessions() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]url.Values, len(p.endSessions))
	for i, v := range p.endSessions {
		out[i] = cloneValues(v)
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// newKey makes an RSA key whose kid is its RFC 7638 thumbprint.
func (p *Provider) newKey() signingKey {
	p.t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		p.t.Fatalf("oidctest: generate RSA key: %v", err)
	}
	jwk := jose.JSONWebKey{Key: &priv.PublicKey}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		p.t.Fatalf("oidctest: thumbprint of RSA key: %v", err)
	}
	return signingKey{priv: priv, kid: base64.RawURLEncoding.EncodeToString(thumb)}
}

// signer is the key ID tokens are signed with now.
func (p *Provider) signer() signingKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unknownKey != nil {
		return signingKey{priv: p.unknownKey.priv, kid: p.key.kid}
	}
	return p.key
}

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, p.discovery)
	mux.HandleFunc("GET "+JWKSPath, p.jwks)
	mux.HandleFunc("GET "+AuthorizePath, p.authorize)
	mux.HandleFunc("POST "+AuthorizePath, p.approve)
	mux.HandleFunc("POST "+TokenPath, p.token)
	mux.HandleFunc(UserInfoPath, p.userinfo)
	mux.HandleFunc(EndSessionPath, p.endSession)
	return p.gate(mux)
}

// gate counts requests, caps their bodies and refuses all while down.
func (p *Provider) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		if slices.Contains(endpointPaths, r.URL.Path) {
			p.requests[r.URL.Path]++
		}
		down := p.down
		p.mu.Unlock()
		if down {
			w.Header().Set("Retry-After", "60")
			http.Error(w, "the test identity provider is down", http.StatusServiceUnavailable)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	iss := p.Issuer()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + AuthorizePath,
		"token_endpoint":                        iss + TokenPath,
		"jwks_uri":                              iss + JWKSPath,
		"userinfo_endpoint":                     iss + UserInfoPath,
		"end_session_endpoint":                  iss + EndSessionPath,
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "email", "profile", "groups"},
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
			"email", "email_verified", "preferred_username", "name", "groups"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	k := p.key
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key:       &k.priv.PublicKey,
		KeyID:     k.kid,
		Use:       "sig",
		Algorithm: string(jose.RS256),
	}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// randomToken is 256 random bits as text: codes and access tokens.
func randomToken() string {
	return rand.Text() + rand.Text()
}
