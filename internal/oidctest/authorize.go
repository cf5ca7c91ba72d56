package oidctest

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// authParams are the parameters of an authorization request, in the order
// the sign-in page carries them.
var authParams = []string{
	"client_id", "redirect_uri", "response_type", "scope",
	"state", "nonce", "code_challenge", "code_challenge_method",
}

// authRequest is an authorization request, read from the query of GET
// /authorize or from the sign-in page's form.
type authRequest struct {
	clientID, redirectURI, responseType, scope string
	state, nonce, challenge, challengeMethod   string
}

func readAuthRequest(form url.Values) authRequest {
	return authRequest{
		clientID:        form.Get("client_id"),
		redirectURI:     form.Get("redirect_uri"),
		responseType:    form.Get("response_type"),
		scope:           form.Get("scope"),
		state:           form.Get("state"),
		nonce:           form.Get("nonce"),
		challenge:       form.Get("code_challenge"),
		challengeMethod: form.Get("code_challenge_method"),
	}
}

// field is a hidden input of the sign-in page.
type field struct{ Name, Value string }

func (req authRequest) fields() []field {
	values := []string{
		req.clientID, req.redirectURI, req.responseType, req.scope,
		req.state, req.nonce, req.challenge, req.challengeMethod,
	}
	out := make([]field, len(authParams))
	for i, name := range authParams {
		out[i] = field{Name: name, Value: values[i]}
	}
	return out
}

// grant is what a code stands for. The provider has one client, so the
// code is bound to it without saying so.
type grant struct {
	redirectURI, scope, nonce, challenge string
	person                               Person
	authTime, expires                    time.Time
	used                                 bool // kept until it expires, to refuse a replay
}

var signInPage = template.Must(template.New("sign-in").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Test identity provider</title></head>
<body>
<h1>Test identity provider — sign in as {{.Person.Name}} ({{.Person.Email}})</h1>
<form method="post" action="{{.Action}}">
{{- range .Fields}}
<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{- end}}
<button type="submit" id="approve" name="decision" value="approve">Sign in</button>
<button type="submit" id="deny" name="decision" value="deny">Cancel</button>
</form>
</body>
</html>
`))

var messagePage = template.Must(template.New("message").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Test identity provider</title></head>
<body>
<h1>Test identity provider</h1>
<p id="message">{{.}}</p>
</body>
</html>
`))

// authorize serves GET /authorize: the sign-in page, or with auto-approve
// the redirect with a code.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	req, ok := p.validRequest(w, r, r.URL.Query())
	if !ok {
		return
	}
	p.mu.Lock()
	person, auto := p.person, p.autoApprove
	p.mu.Unlock()
	if person == nil {
		showMessage(w, http.StatusInternalServerError, "Nobody to sign in as: the test has not called SignInAs.")
		return
	}
	if auto {
		p.signIn(w, r, req, *person)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	signInPage.Execute(w, map[string]any{"Person": person, "Action": AuthorizePath, "Fields": req.fields()})
}

// approve serves the sign-in page's form: decision is approve or deny.
func (p *Provider) approve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		showMessage(w, http.StatusBadRequest, "Bad sign-in form: "+err.Error())
		return
	}
	req, ok := p.validRequest(w, r, r.PostForm)
	if !ok {
		return
	}
	p.mu.Lock()
	person := p.person
	p.mu.Unlock()
	switch decision := r.PostForm.Get("decision"); {
	case person == nil:
		showMessage(w, http.StatusInternalServerError, "Nobody to sign in as: the test has not called SignInAs.")
	case decision == "approve":
		p.signIn(w, r, req, *person)
	case decision == "deny":
		redirectError(w, r, req, "access_denied", "the person declined to sign in")
	default:
		showMessage(w, http.StatusBadRequest, fmt.Sprintf("Bad sign-in form: decision must be approve or deny, not %q.", decision))
	}
}

// validRequest reads an authorization request from form. A request with an
// unknown client or redirect_uri gets a page; any other bad one is sent back
// to its redirect_uri with an error.
func (p *Provider) validRequest(w http.ResponseWriter, r *http.Request, form url.Values) (authRequest, bool) {
	req := readAuthRequest(form)
	if err := p.checkClient(form, req); err != nil {
		showMessage(w, http.StatusBadRequest, "Bad sign-in request: "+err.Error()+".")
		return req, false
	}
	if code, desc := checkRequest(form, req); code != "" {
		redirectError(w, r, req, code, desc)
		return req, false
	}
	return req, true
}

func (p *Provider) checkClient(form url.Values, req authRequest) error {
	switch {
	case len(form["client_id"]) != 1:
		return fmt.Errorf("client_id must be given once")
	case req.clientID != p.cfg.ClientID:
		return fmt.Errorf("unknown client_id %q", req.clientID)
	case len(form["redirect_uri"]) != 1:
		return fmt.Errorf("redirect_uri must be given once")
	case !slices.Contains(p.cfg.RedirectURLs, req.redirectURI):
		return fmt.Errorf("redirect_uri %q is not registered for this client", req.redirectURI)
	}
	return nil
}

// checkRequest is the OAuth error code and description for what is wrong
// with req, or "" when nothing is.
func checkRequest(form url.Values, req authRequest) (code, desc string) {
	if name := repeated(form, authParams); name != "" {
		return "invalid_request", name + " is given more than once"
	}
	switch {
	case req.responseType != "code":
		return "unsupported_response_type", "response_type must be code"
	case !slices.Contains(strings.Fields(req.scope), "openid"):
		return "invalid_scope", "scope must include openid"
	case req.state == "":
		return "invalid_request", "state is required"
	case req.nonce == "":
		return "invalid_request", "nonce is required"
	case req.challengeMethod != "S256":
		return "invalid_request", "PKCE is required: code_challenge_method must be S256"
	case !validChallenge(req.challenge):
		return "invalid_request", "code_challenge must be BASE64URL(SHA256(code_verifier)), 43 characters"
	}
	return "", ""
}

// repeated is the first of names that form holds more than once, or "".
func repeated(form url.Values, names []string) string {
	for _, name := range names {
		if len(form[name]) > 1 {
			return name
		}
	}
	return ""
}

func validChallenge(challenge string) bool {
	sum, err := base64.RawURLEncoding.Strict().DecodeString(challenge)
	return err == nil && len(sum) == 32
}

// signIn issues a code for person and sends the browser back with it.
func (p *Provider) signIn(w http.ResponseWriter, r *http.Request, req authRequest, person Person) {
	code, err := p.issueCode(req, person)
	if err != nil {
		redirectError(w, r, req, "temporarily_unavailable", err.Error())
		return
	}
	redirect(w, r, req.redirectURI, url.Values{"code": {code}, "state": {req.state}})
}

func (p *Provider) issueCode(req authRequest, person Person) (string, error) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !room(p.codes, maxCodes, now, func(g *grant) time.Time { return g.expires }) {
		return "", fmt.Errorf("%d codes are outstanding; exchange them or let them expire", maxCodes)
	}
	code := randomToken()
	p.codes[code] = &grant{
		redirectURI: req.redirectURI,
		scope:       req.scope,
		nonce:       req.nonce,
		challenge:   req.challenge,
		person:      person,
		authTime:    now,
		expires:     now.Add(codeTTL),
	}
	return code, nil
}

// redirectError sends the browser back to the client with an OAuth error.
func redirectError(w http.ResponseWriter, r *http.Request, req authRequest, code, desc string) {
	redirect(w, r, req.redirectURI, url.Values{"error": {code}, "error_description": {desc}, "state": {req.state}})
}

// redirect sends the browser to target, a registered URL, with params
// added to its query; empty params are left out.
func redirect(w http.ResponseWriter, r *http.Request, target string, params url.Values) {
	u, err := url.Parse(target)
	if err != nil { // Start checked every registered URL
		showMessage(w, http.StatusInternalServerError, "Bad registered redirect URL: "+err.Error())
		return
	}
	q := u.Query()
	for name, values := range params {
		if len(values) > 0 && values[0] != "" {
			q[name] = values
		}
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func showMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	messagePage.Execute(w, msg)
}

// endSession serves the end-session endpoint: it records the request and
// sends the browser to post_logout_redirect_uri if that is registered.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "end session takes GET or POST", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		showMessage(w, http.StatusBadRequest, "Bad end-session request: "+err.Error())
		return
	}
	p.mu.Lock()
	if len(p.endSessions) == maxEndSessions {
		p.endSessions = slices.Delete(p.endSessions, 0, 1)
	}
	p.endSessions = append(p.endSessions, cloneValues(r.Form))
	p.mu.Unlock()

	target := r.Form.Get("post_logout_redirect_uri")
	client := r.Form.Get("client_id")
	if target != "" && slices.Contains(p.cfg.PostLogoutRedirectURLs, target) && (client == "" || client == p.cfg.ClientID) {
		redirect(w, r, target, url.Values{"state": {r.Form.Get("state")}})
		return
	}
	showMessage(w, http.StatusOK, "You are signed out of the test identity provider.")
}
