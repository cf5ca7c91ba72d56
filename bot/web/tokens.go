package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// TokenStore keeps personal API tokens; *storage.Store has it.
type TokenStore interface {
	CreateToken(ctx context.Context, t pipeline.PersonalToken, secret string) (pipeline.PersonalToken, error)
	TokenBySecret(ctx context.Context, secret string) (pipeline.PersonalToken, error)
	TokenUsed(ctx context.Context, id int64, at time.Time, every time.Duration) error
	Tokens(ctx context.Context, user string) ([]pipeline.PersonalToken, error)
	RevokeToken(ctx context.Context, user string, id int64, at time.Time) (pipeline.PersonalToken, error)
	Audit(ctx context.Context, e pipeline.AuditEntry) error
}

// Personal tokens: their secrets start with tokenPrefix, so that ferry
// (and a secret scanner) knows one when it sees it; a person has at most
// maxTokens in use; the time of last use is written at most once a
// usedEvery.
const (
	tokenPrefix  = "fpt_"
	maxTokens    = 50
	maxTokenName = 64
	usedEvery    = time.Minute
)

// tokenExpiries are the choices of the Tokens page's form, in days (0:
// never).
var tokenExpiries = []int{30, 90, 365, 7, 0}

// personalToken returns the owner of a personal token secret, or why it
// cannot be used.
func (s *Server) personalToken(ctx context.Context, secret string) (pipeline.User, string) {
	const invalid = "the API token is not valid"
	if s.tokens == nil || !strings.HasPrefix(secret, tokenPrefix) {
		return pipeline.User{}, invalid
	}
	t, err := s.tokens.TokenBySecret(ctx, secret)
	if err != nil {
		if !errors.Is(err, pipeline.ErrNotFound) {
			s.log.ErrorContext(ctx, "web: personal token", "err", err)
		}
		return pipeline.User{}, invalid
	}
	now := s.now()
	switch {
	case !t.Revoked.IsZero():
		return pipeline.User{}, fmt.Sprintf("the API token %q was revoked on %s; make a new one on the Tokens page", t.Name, stamp(t.Revoked))
	case !t.Valid(now):
		return pipeline.User{}, fmt.Sprintf("the API token %q expired on %s; make a new one on the Tokens page", t.Name, stamp(t.Expires))
	}
	u, ok := s.users.User(t.User)
	if !ok {
		return pipeline.User{}, fmt.Sprintf("the API token %q belongs to %s, who is no longer in ferry.yaml", t.Name, t.User)
	}
	if err := s.tokens.TokenUsed(ctx, t.ID, now, usedEvery); err != nil {
		s.log.ErrorContext(ctx, "web: record a token's use", "token", t.ID, "err", err)
	}
	return u, ""
}

// tokensView is the Tokens page.
type tokensView struct {
	Tokens   []pipeline.PersonalToken
	Now      time.Time
	CSRF     string
	Expiries []int
	New      string // the secret of the token just made, shown this once
	NewName  string
	Error    string
}

func (s *Server) tokensRefusal() (string, int) {
	if s.tokens == nil {
		return "personal API tokens are not available on this ferry", http.StatusNotFound
	}
	return "", 0
}

// tokensPage lists the viewer's personal tokens, with the form to make one.
func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.renderTokens(w, r, v, http.StatusOK, tokensView{})
}

func (s *Server) renderTokens(w http.ResponseWriter, r *http.Request, v *viewer, st int, view tokensView) {
	if msg, code := s.tokensRefusal(); msg != "" {
		s.refuse(w, r, code, msg)
		return
	}
	ts, err := s.tokens.Tokens(r.Context(), v.Name)
	if err != nil {
		view.Error, st = s.explain(r.Context(), err)
	}
	view.Tokens, view.Now, view.CSRF, view.Expiries = ts, s.now(), v.CSRF, tokenExpiries
	w.Header().Set("Cache-Control", "no-store") // it may show a secret
	s.renderPage(w, r, st, "tokens", pageData{Title: "API tokens", Nav: "tokens", Viewer: v}, view)
}

// createToken makes a personal token from the form and shows its secret
// once, on the page it answers with.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, v *viewer) {
	if msg, code := s.tokensRefusal(); msg != "" {
		s.refuse(w, r, code, msg)
		return
	}
	ctx := r.Context()
	name := strings.TrimSpace(r.PostForm.Get("name"))
	days, err := strconv.Atoi(r.PostForm.Get("expires"))
	switch {
	case name == "" || utf8.RuneCountInString(name) > maxTokenName || strings.IndexFunc(name, unicode.IsControl) >= 0:
		err = fmt.Errorf("give the token a name of 1 to %d characters, like \"ci\" or \"laptop\"", maxTokenName)
	case err != nil || days < 0 || days > 365:
		err = errors.New("choose when the token expires: in 7, 30, 90 or 365 days, or never")
	}
	var ts []pipeline.PersonalToken
	if err == nil {
		ts, err = s.tokens.Tokens(ctx, v.Name)
		if err == nil && inUse(ts, s.now()) >= maxTokens {
			err = fmt.Errorf("you have %d tokens in use, the most ferry keeps for one person: revoke one first", maxTokens)
		}
	}
	if err != nil {
		s.renderTokens(w, r, v, http.StatusBadRequest, tokensView{Error: err.Error()})
		return
	}
	now := s.now()
	t := pipeline.PersonalToken{User: v.Name, Name: name, Created: now}
	if days > 0 {
		t.Expires = now.AddDate(0, 0, days)
	}
	b := make([]byte, 24)
	rand.Read(b)
	secret := tokenPrefix + hex.EncodeToString(b)
	if t, err = s.tokens.CreateToken(ctx, t, secret); err != nil {
		msg, st := s.explain(ctx, err)
		s.renderTokens(w, r, v, st, tokensView{Error: msg})
		return
	}
	s.auditToken(ctx, v.Name, "token create", t)
	s.renderTokens(w, r, v, http.StatusOK, tokensView{New: secret, NewName: name})
}

// revokeToken revokes one of the viewer's tokens and goes back to the page.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, v *viewer) {
	if msg, code := s.tokensRefusal(); msg != "" {
		s.refuse(w, r, code, msg)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.refuse(w, r, http.StatusNotFound, "no such token: the address names it by number, like /tokens/3/revoke")
		return
	}
	command := fmt.Sprintf("revoke token %d", id)
	reply := bot.Reply{}
	if t, err := s.tokens.RevokeToken(r.Context(), v.Name, id, s.now()); err != nil {
		msg, _ := s.explain(r.Context(), err)
		reply = bot.Reply{Text: msg, Error: true, Kind: bot.ErrorKindOf(err)}
	} else {
		s.auditToken(r.Context(), v.Name, "token revoke", t)
		reply.Text = fmt.Sprintf("Revoked the token %q: it no longer works.", t.Name)
	}
	s.flashes.put(v.Nonce, flash{command: command, reply: reply}, s.now())
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
}

func (s *Server) auditToken(ctx context.Context, who, action string, t pipeline.PersonalToken) {
	detail := fmt.Sprintf("%q (#%d)", t.Name, t.ID)
	if !t.Expires.IsZero() {
		detail += ", expires " + stamp(t.Expires)
	}
	if err := s.tokens.Audit(ctx, pipeline.AuditEntry{At: s.now(), Actor: who, Action: action, Detail: detail}); err != nil {
		s.log.ErrorContext(ctx, "web: audit "+action, "token", t.ID, "err", err)
	}
}

// inUse counts the tokens that work at now.
func inUse(ts []pipeline.PersonalToken, now time.Time) int {
	n := 0
	for _, t := range ts {
		if t.Valid(now) {
			n++
		}
	}
	return n
}
