package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ferrybot/ferry/pipeline"
)

// OIDC is the company's OpenID Connect provider, which people sign in
// with: authorization code flow with PKCE, state and nonce.
type OIDC struct {
	Issuer, ClientID, ClientSecret string
	Name                           string   // what the sign-in button names
	Scopes                         []string // openid first
	UserClaim                      string   // the claim naming the person, like email
	GroupsClaim                    string   // the claim listing their groups
	TeamsFromGroups                map[string][]string
	People                         People // required
	// Client talks to the provider; nil: one with a 10-second timeout.
	Client *http.Client
}

// People is who may sign in through the provider; *config.Config has it.
type People interface {
	// UserByOIDC returns the user the provider's user claim names.
	UserByOIDC(value string) (pipeline.User, bool)
	// Contact is whom a person ferry does not know should ask.
	Contact() string
}

const (
	oidcCookie = "ferry_oidc"
	oidcPath   = "/login/oidc"
	oidcTTL    = 10 * time.Minute // from the button to the callback
	oidcWait   = 10 * time.Second // for each call to the provider
	callback   = oidcPath + "/callback"
)

// idp is the provider as the server uses it. Its discovery document and
// keys are fetched when first needed and kept: sessions never need the
// provider, and a sign-in while it is down says so and works once it is
// back.
type idp struct {
	OIDC
	redirect string // ferry's callback, registered at the provider

	mu         sync.Mutex
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	endSession string // the provider's end_session_endpoint; "": none
	authStyle  oauth2.AuthStyle
}

// discover returns the provider's endpoints and token verifier.
func (p *idp) discover(ctx context.Context, now func() time.Time) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, p.verifier, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.Client), oidcWait)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		return nil, nil, err
	}
	var meta struct {
		EndSession  string   `json:"end_session_endpoint"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	_ = provider.Claims(&meta) // the document decoded already
	p.provider, p.endSession, p.authStyle = provider, meta.EndSession, authStyle(p.ClientSecret, meta.AuthMethods)
	p.verifier = provider.Verifier(&oidc.Config{ClientID: p.ClientID, Now: now})
	return p.provider, p.verifier, nil
}

// checkProvider reads the provider's discovery document once at start, so
// that a wrong issuer shows in the log before anybody tries to sign in.
func (s *Server) checkProvider(ctx context.Context) {
	if _, _, err := s.idp.discover(ctx, s.now); err != nil {
		s.log.WarnContext(ctx, "web: the identity provider cannot be reached; signing in with it fails until it can", "platform", "web", "issuer", s.idp.Issuer, "err", err)
		return
	}
	s.log.InfoContext(ctx, "web: identity provider ready; its client must allow this redirect URI", "platform", "web", "issuer", s.idp.Issuer, "redirect_uri", s.idp.redirect)
}

func (p *idp) oauth(provider *oidc.Provider) *oauth2.Config {
	end := provider.Endpoint()
	p.mu.Lock()
	end.AuthStyle = p.authStyle
	p.mu.Unlock()
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: end, RedirectURL: p.redirect, Scopes: p.Scopes}
}

// authStyle is how ferry authenticates at the token endpoint: as the
// discovery document says the provider accepts, so that a refused code is
// sent once. Without a word from it, x/oauth2 tries one way, then the other.
func authStyle(secret string, methods []string) oauth2.AuthStyle {
	switch {
	case secret == "" || slices.Contains(methods, "client_secret_post") && !slices.Contains(methods, "client_secret_basic"):
		return oauth2.AuthStyleInParams
	case len(methods) == 0 || slices.Contains(methods, "client_secret_basic"):
		return oauth2.AuthStyleInHeader // the default of OpenID Connect Discovery
	}
	return oauth2.AuthStyleAutoDetect
}

// signOutURL is where a person signed out of ferry can sign out of the
// provider too; "" when it offers no such page.
func (p *idp) signOutURL(back string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.endSession == "" {
		return ""
	}
	u, err := url.Parse(p.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", p.ClientID)
	q.Set("post_logout_redirect_uri", back)
	u.RawQuery = q.Encode()
	return u.String()
}

// flow is what the browser keeps between the sign-in button and the
// callback, signed: the state and nonce sent, the PKCE verifier, and the
// page to return to.
type flow struct {
	State, Nonce, Verifier, Next string
	Expires                      time.Time
}

func (s *Server) encodeFlow(f flow) string {
	payload := strings.Join([]string{f.State, f.Nonce, f.Verifier, b64.EncodeToString([]byte(f.Next)), strconv.FormatInt(f.Expires.Unix(), 10)}, "|")
	return payload + "|" + s.mac("oidc flow", payload)
}

func (s *Server) decodeFlow(v string) (flow, bool) {
	parts := strings.Split(v, "|")
	if len(parts) != 6 || !hmac.Equal([]byte(parts[5]), []byte(s.mac("oidc flow", strings.Join(parts[:5], "|")))) {
		return flow{}, false
	}
	next, err1 := b64.DecodeString(parts[3])
	exp, err2 := strconv.ParseInt(parts[4], 10, 64)
	f := flow{State: parts[0], Nonce: parts[1], Verifier: parts[2], Next: string(next), Expires: time.Unix(exp, 0)}
	if err1 != nil || err2 != nil || !s.now().Before(f.Expires) {
		return flow{}, false
	}
	return f, true
}

func (s *Server) setFlow(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: oidcCookie, Value: value, Path: oidcPath, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func random() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b) // never fails
	return b64.EncodeToString(b)
}

// oidcStart sends the browser to the provider.
func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	provider, _, err := s.idp.discover(r.Context(), s.now)
	if err != nil {
		s.log.WarnContext(r.Context(), "web: reach the identity provider", "platform", "web", "issuer", s.idp.Issuer, "err", err)
		s.signInRefused(w, r, http.StatusBadGateway, next, fmt.Sprintf("ferry cannot reach %s (%s) now, so you cannot sign in with it; try again in a minute. If it stays down, ask whoever runs it.", s.idp.Name, s.idp.Issuer))
		return
	}
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: next, Expires: s.now().Add(oidcTTL)}
	s.setFlow(w, s.encodeFlow(f), int(oidcTTL.Seconds()))
	to := s.idp.oauth(provider).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	http.Redirect(w, r, to, http.StatusFound)
}

// oidcCallback takes the provider's answer: it checks the state against
// the browser's, exchanges the code with the PKCE verifier, verifies the
// ID token and its nonce, and signs the person in as the user the claim
// names, in the teams their groups map to.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	ctx, q := r.Context(), r.URL.Query()
	c, err := r.Cookie(oidcCookie)
	var f flow
	ok := err == nil
	if ok {
		f, ok = s.decodeFlow(c.Value)
	}
	s.setFlow(w, "", -1) // one answer per sign-in
	if !ok {
		s.signInRefused(w, r, http.StatusBadRequest, "/", "This sign-in started more than 10 minutes ago, in another browser, or was already used. Sign in again.")
		return
	}
	if !hmac.Equal([]byte(q.Get("state")), []byte(f.State)) {
		s.signInRefused(w, r, http.StatusBadRequest, f.Next, "The answer from the identity provider does not belong to the sign-in this browser started (its state differs), so ferry ignored it. Sign in again.")
		return
	}
	if e := q.Get("error"); e != "" {
		s.signInRefused(w, r, http.StatusUnauthorized, f.Next, fmt.Sprintf("%s refused the sign-in: %s.", s.idp.Name, describeOAuth(e, q.Get("error_description"))))
		return
	}
	provider, verifier, err := s.idp.discover(ctx, s.now)
	if err != nil {
		s.signInRefused(w, r, http.StatusBadGateway, f.Next, fmt.Sprintf("ferry cannot reach %s now; sign in again in a minute.", s.idp.Name))
		return
	}
	xctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, s.idp.Client), oidcWait)
	defer cancel()
	tok, err := s.idp.oauth(provider).Exchange(xctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		msg := fmt.Sprintf("ferry could not reach %s to finish the sign-in; sign in again.", s.idp.Name)
		switch {
		case errors.As(err, &re) && re.ErrorCode != "":
			msg = fmt.Sprintf("%s refused the sign-in's code: %s. Codes work once and for a short time; sign in again.", s.idp.Name, describeOAuth(re.ErrorCode, re.ErrorDescription))
		case errors.As(err, &re):
			msg = fmt.Sprintf("ferry could not reach %s to finish the sign-in (it answered %s); sign in again in a minute.", s.idp.Name, re.Response.Status)
		}
		s.log.WarnContext(ctx, "web: exchange a sign-in code", "platform", "web", "err", err)
		s.signInRefused(w, r, http.StatusBadGateway, f.Next, msg)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		s.signInRefused(w, r, http.StatusBadGateway, f.Next, fmt.Sprintf("%s sent no ID token; check that ferry's client at the provider is an OpenID Connect client with the openid scope.", s.idp.Name))
		return
	}
	id, err := verifier.Verify(xctx, raw)
	if err == nil && !hmac.Equal([]byte(id.Nonce), []byte(f.Nonce)) {
		err = errors.New("its nonce is not the one this sign-in sent (a token replayed from another sign-in)")
	}
	if err != nil {
		s.log.WarnContext(ctx, "web: ID token refused", "platform", "web", "err", err)
		s.signInRefused(w, r, http.StatusUnauthorized, f.Next, "ferry refused the ID token "+s.idp.Name+" sent: "+whyToken(err)+". Sign in again; if this goes on, ask whoever runs ferry to check auth.oidc.")
		return
	}
	var claims map[string]any
	if err := id.Claims(&claims); err != nil {
		s.signInRefused(w, r, http.StatusBadGateway, f.Next, "ferry could not read the ID token's claims: "+err.Error())
		return
	}
	s.oidcSignIn(w, r, f.Next, claims)
}

// oidcSignIn signs in the user the verified claims name.
func (s *Server) oidcSignIn(w http.ResponseWriter, r *http.Request, next string, claims map[string]any) {
	who, _ := claims[s.idp.UserClaim].(string)
	if who == "" {
		s.signInRefused(w, r, http.StatusForbidden, next, fmt.Sprintf("%s's ID token has no %s claim, which ferry names people by; ask whoever runs ferry to set auth.oidc.user_claim to a claim the provider sends, or to add the scope that sends it.", s.idp.Name, s.idp.UserClaim))
		return
	}
	if verified, ok := claims["email_verified"].(bool); ok && !verified && s.idp.UserClaim == "email" {
		s.signInRefused(w, r, http.StatusForbidden, next, fmt.Sprintf("%s says the address %s is not verified; verify it there, then sign in again.", s.idp.Name, who))
		return
	}
	u, ok := s.idp.People.UserByOIDC(who)
	if !ok {
		s.log.InfoContext(r.Context(), "web: unknown person signed in at the identity provider", "platform", "web", "identity", who)
		s.signInRefused(w, r, http.StatusForbidden, "", fmt.Sprintf("You signed in at %s as %s, but ferry does not know you. Ask %s to add you to ferry.yaml: a user under users: with oidc: %s.", s.idp.Name, who, s.idp.People.Contact(), who))
		return
	}
	ss := s.newSession(u)
	ss.Gen = s.oidcGeneration(u)
	ss.Teams = s.idp.teams(claims[s.idp.GroupsClaim])
	s.setSession(w, ss)
	s.setDevice(w, ss)
	s.log.InfoContext(r.Context(), "web: signed in through the identity provider", "platform", "web", "actor", u.Name, "teams", ss.Teams)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// teams are the ferry teams the groups claim maps to, in name order.
func (p *idp) teams(groups any) []string {
	var names []string
	switch g := groups.(type) {
	case string:
		names = []string{g}
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				names = append(names, s)
			}
		}
	}
	var teams []string
	for _, g := range names {
		for _, t := range p.TeamsFromGroups[g] {
			if !slices.Contains(teams, t) {
				teams = append(teams, t)
			}
		}
	}
	slices.Sort(teams)
	return teams
}

// oidcGeneration stands where a password session has the password's
// generation: it names the identity the session signed in as, so that
// changing a user's oidc: ends their sessions.
func (s *Server) oidcGeneration(u pipeline.User) string {
	return oidcGen + s.mac("oidc", b64.EncodeToString([]byte(u.Name)), u.OIDC)[:22]
}

// oidcGen starts the generation of a session signed in through the
// provider; ':' is in no password generation, which is base64.
const oidcGen = "oidc:"

// whyToken says why the ID token was refused, as a person may read it.
func whyToken(err error) string {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return "it expired at " + expired.Expiry.UTC().Format(time.RFC3339)
	case strings.Contains(msg, "expected audience"):
		return "it was issued for another application (its audience is not ferry's client_id)"
	case strings.Contains(msg, "different provider"):
		return "it was issued by another provider than auth.oidc.issuer"
	case strings.Contains(msg, "signature"):
		return "its signature does not verify with the provider's published keys"
	}
	return strings.TrimPrefix(msg, "oidc: ")
}

// describeOAuth is an OAuth error as a person may read it, bounded.
func describeOAuth(code, desc string) string {
	s := code
	if desc != "" {
		s += " (" + desc + ")"
	}
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}

// signInRefused shows the sign-in page with why signing in failed.
func (s *Server) signInRefused(w http.ResponseWriter, r *http.Request, st int, next, why string) {
	s.renderPage(w, r, st, "login", pageData{Title: "Sign in"}, s.loginForm(next, why))
}
