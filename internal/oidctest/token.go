package oidctest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// oauthError is an RFC 6749 error response of the token endpoint.
type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func refuse(status int, code, format string, args ...any) *oauthError {
	return &oauthError{status: status, code: code, desc: fmt.Sprintf(format, args...)}
}

// accessToken is what /userinfo answers for a bearer token.
type accessToken struct {
	person  Person
	expires time.Time
}

// token serves POST /token: an authorization code, exchanged for an ID
// token and an access token.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	resp, err := p.exchange(r)
	if err != nil {
		if err.code == "invalid_client" {
			w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
		}
		writeJSON(w, err.status, map[string]string{"error": err.code, "error_description": err.desc})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) exchange(r *http.Request) (map[string]any, *oauthError) {
	if err := r.ParseForm(); err != nil {
		return nil, refuse(http.StatusBadRequest, "invalid_request", "read form: %v", err)
	}
	form := r.PostForm
	names := []string{"grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret"}
	if name := repeated(form, names); name != "" {
		return nil, refuse(http.StatusBadRequest, "invalid_request", "%s is given more than once", name)
	}
	if err := p.authenticate(r, form); err != nil {
		return nil, err
	}
	if gt := form.Get("grant_type"); gt != "authorization_code" {
		return nil, refuse(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code, not %q", gt)
	}
	g, err := p.redeem(form)
	if err != nil {
		return nil, err
	}
	return p.issueTokens(g)
}

// authenticate checks the client's credentials, sent by HTTP Basic
// (form-encoded, RFC 6749 section 2.3.1) or in the form, not both.
func (p *Provider) authenticate(r *http.Request, form url.Values) *oauthError {
	id, secret, basic := r.BasicAuth()
	_, formSecret := form["client_secret"]
	switch {
	case basic && formSecret:
		return refuse(http.StatusUnauthorized, "invalid_client", "the client authenticated twice, by HTTP Basic and client_secret in the form")
	case basic:
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return refuse(http.StatusUnauthorized, "invalid_client", "the HTTP Basic credentials are not form-encoded")
		}
		if formID := form.Get("client_id"); formID != "" && formID != id {
			return refuse(http.StatusUnauthorized, "invalid_client", "client_id in the form differs from the one in HTTP Basic")
		}
	case formSecret:
		id, secret = form.Get("client_id"), form.Get("client_secret")
	default:
		return refuse(http.StatusUnauthorized, "invalid_client", "no client authentication: send HTTP Basic, or client_id and client_secret in the form")
	}
	if id != p.cfg.ClientID {
		return refuse(http.StatusUnauthorized, "invalid_client", "unknown client_id %q", id)
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(p.cfg.ClientSecret)) != 1 {
		return refuse(http.StatusUnauthorized, "invalid_client", "wrong client secret")
	}
	return nil
}

// redeem checks the code in form against the request it was issued for
// and uses it up. A refused exchange leaves the code as it was, since
// oauth2's auto-detected client authentication sends a refused one again.
func (p *Provider) redeem(form url.Values) (grant, *oauthError) {
	code, verifier := form.Get("code"), form.Get("code_verifier")
	if code == "" {
		return grant{}, refuse(http.StatusBadRequest, "invalid_request", "code is required")
	}
	if verifier == "" {
		return grant{}, refuse(http.StatusBadRequest, "invalid_request", "code_verifier is required: this provider insists on PKCE")
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.codes[code]
	switch {
	case !ok:
		return grant{}, refuse(http.StatusBadRequest, "invalid_grant", "unknown code")
	case !now.Before(g.expires):
		return grant{}, refuse(http.StatusBadRequest, "invalid_grant", "the code expired at %s", g.expires.UTC().Format(time.RFC3339))
	case g.used:
		return grant{}, refuse(http.StatusBadRequest, "invalid_grant", "the code was already used")
	case form.Get("redirect_uri") != g.redirectURI:
		return grant{}, refuse(http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the one the code was issued for")
	case !validVerifier(verifier):
		return grant{}, refuse(http.StatusBadRequest, "invalid_request", "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	case !pkceMatches(verifier, g.challenge):
		return grant{}, refuse(http.StatusBadRequest, "invalid_grant", "PKCE check failed: BASE64URL(SHA256(code_verifier)) is not the code_challenge")
	}
	g.used = true
	return *g, nil
}

// validVerifier holds RFC 7636 section 4.1's form of a code_verifier.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	return strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") == ""
}

func pkceMatches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// issueTokens is the token response for g: a new access token and an ID
// token, tampered with if the test asked for it.
func (p *Provider) issueTokens(g grant) (map[string]any, *oauthError) {
	now := p.now()
	access, err := p.storeAccessToken(g.person, now)
	if err != nil {
		return nil, refuse(http.StatusServiceUnavailable, "temporarily_unavailable", "%v", err)
	}
	claims := g.person.claims()
	claims["iss"] = p.Issuer()
	claims["aud"] = p.cfg.ClientID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(tokenTTL).Unix()
	claims["auth_time"] = g.authTime.Unix()
	claims["nonce"] = g.nonce
	claims["at_hash"] = accessTokenHash(access)
	p.mu.Lock()
	tamper := p.tamper
	p.mu.Unlock()
	if tamper != nil {
		tamper(claims)
	}
	idToken, err := sign(p.signer(), claims)
	if err != nil {
		return nil, refuse(http.StatusInternalServerError, "server_error", "sign the ID token: %v", err)
	}
	return map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int(tokenTTL.Seconds()),
		"id_token":     idToken,
		"scope":        g.scope,
	}, nil
}

func (p *Provider) storeAccessToken(person Person, now time.Time) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !room(p.tokens, maxTokens, now, func(at accessToken) time.Time { return at.expires }) {
		return "", fmt.Errorf("%d access tokens are outstanding", maxTokens)
	}
	token := randomToken()
	p.tokens[token] = accessToken{person: person, expires: now.Add(tokenTTL)}
	return token, nil
}

// accessTokenHash is the at_hash of an RS256 ID token: the left half of
// the access token's SHA-256, base64url.
func accessTokenHash(access string) string {
	sum := sha256.Sum256([]byte(access))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// claims are the person's claims in ID tokens and at /userinfo.
func (person Person) claims() map[string]any {
	groups := slices.Clone(person.Groups) // a Tamper hook may change it
	if groups == nil {
		groups = []string{}
	}
	return map[string]any{
		"sub":                person.Subject,
		"email":              person.Email,
		"email_verified":     person.EmailVerified,
		"preferred_username": person.PreferredUsername,
		"name":               person.Name,
		"groups":             groups,
	}
}

// sign makes a compact JWT of claims, signed RS256 with kid in its header.
func sign(k signingKey, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	key := jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("make signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return jws.CompactSerialize()
}

// userinfo serves /userinfo to a bearer of an access token.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "userinfo takes GET or POST", http.StatusMethodNotAllowed)
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	now := p.now()
	p.mu.Lock()
	at, found := p.tokens[token]
	p.mu.Unlock()
	if !ok || !found || !now.Before(at.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"error": "invalid_token", "error_description": "no access token, or an unknown or expired one",
		})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, at.person.claims())
}

// room makes room in m for one more entry, dropping the expired ones when
// it holds limit; false when it is still full.
func room[V any](m map[string]V, limit int, now time.Time, expires func(V) time.Time) bool {
	if len(m) < limit {
		return true
	}
	for k, v := range m {
		if !now.Before(expires(v)) {
			delete(m, k)
		}
	}
	return len(m) < limit
}
