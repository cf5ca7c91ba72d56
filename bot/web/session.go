package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

const sessionCookie = "ferry_session"

// Sessions is what the console keeps in the store about signing in, so
// that a restart forgets neither sessions signed out before they expire
// nor recent failed sign-ins; *storage.Store has it.
type Sessions interface {
	// RevokeSession records that the session id is signed out; it may be
	// forgotten once expires has passed.
	RevokeSession(ctx context.Context, id string, expires time.Time) error
	// SessionRevoked reports whether the session id was signed out.
	SessionRevoked(ctx context.Context, id string) (bool, error)
	// SignInFailed records a failed sign-in at at under each key, and
	// forgets every failure older than keep before at.
	SignInFailed(ctx context.Context, at time.Time, keep time.Duration, keys ...string) error
	// SignInFailures returns the times of the failures under key at or
	// after since, newest first, at most limit of them.
	SignInFailures(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error)
	// ClearSignInFailures forgets the failures under key.
	ClearSignInFailures(ctx context.Context, key string) error
}

// session is what a session cookie says: who, until when, a random nonce
// that tells two sessions of one person apart, the generation of the
// person's password it was signed in with (or of their identity at the
// identity provider), and the teams the provider's groups put them in.
type session struct {
	Name    string
	Expires time.Time
	Nonce   string
	Gen     string   // see generation and oidcGeneration
	Teams   []string // from the provider's groups; none for a password
}

// viewer is the signed-in person of a request.
type viewer struct {
	session
	Actor pipeline.Actor
	CSRF  string
}

var b64 = base64.RawURLEncoding

// mac signs parts with the session key. The first part names what is
// signed, so a value signed for one purpose never verifies for another.
func (s *Server) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.Join(parts, "|")))
	return b64.EncodeToString(m.Sum(nil))
}

func (s *Server) newSession(u pipeline.User) session {
	nonce := make([]byte, 18)
	_, _ = rand.Read(nonce) // never fails
	return session{Name: u.Name, Expires: s.now().Add(sessionTTL).Truncate(time.Second), Nonce: b64.EncodeToString(nonce), Gen: s.generation(u)}
}

// generation names the password a person has now, without saying anything
// about it: a session carries the generation it was signed in with, so that
// changing the password in ferry.yaml ends every session signed in before.
func (s *Server) generation(u pipeline.User) string {
	return s.mac("password", b64.EncodeToString([]byte(u.Name)), u.PasswordHash)[:22]
}

// encode writes a session as a cookie value: name|expiry|nonce|generation,
// then |teams when the provider gave some, then |mac; the name and the
// teams in base64 so that they can hold any character.
func (s *Server) encode(ss session) string {
	parts := []string{b64.EncodeToString([]byte(ss.Name)), strconv.FormatInt(ss.Expires.Unix(), 10), ss.Nonce, ss.Gen}
	if len(ss.Teams) > 0 {
		parts = append(parts, b64.EncodeToString([]byte(strings.Join(ss.Teams, "\n"))))
	}
	payload := strings.Join(parts, "|")
	return payload + "|" + s.mac("session", payload)
}

// decode verifies a cookie value in constant time and returns its session
// if it is genuine and has not expired.
func (s *Server) decode(v string) (session, bool) {
	parts := strings.Split(v, "|")
	if len(parts) != 5 && len(parts) != 6 {
		return session{}, false
	}
	last := len(parts) - 1
	if !hmac.Equal([]byte(parts[last]), []byte(s.mac("session", strings.Join(parts[:last], "|")))) {
		return session{}, false
	}
	name, err := b64.DecodeString(parts[0])
	if err != nil {
		return session{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return session{}, false
	}
	ss := session{Name: string(name), Expires: time.Unix(exp, 0), Nonce: parts[2], Gen: parts[3]}
	if last == 5 {
		teams, err := b64.DecodeString(parts[4])
		if err != nil || len(teams) == 0 {
			return session{}, false
		}
		ss.Teams = strings.Split(string(teams), "\n")
	}
	if !s.now().Before(ss.Expires) || ss.Nonce == "" {
		return session{}, false
	}
	return ss, true
}

// csrf is the CSRF token of a session.
func (s *Server) csrf(ss session) string {
	return s.mac("csrf", ss.Nonce, b64.EncodeToString([]byte(ss.Name)))
}

func (s *Server) setSession(w http.ResponseWriter, ss session) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.encode(ss), Path: "/",
		Expires: ss.Expires, MaxAge: int(ss.Expires.Sub(s.now()).Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// viewer returns who signed the request in. A cookie that is forged,
// expired, signed out, signed in with a password since changed, or names
// someone ferry no longer knows is cleared.
func (s *Server) viewer(w http.ResponseWriter, r *http.Request) (*viewer, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	ss, ok := s.decode(c.Value)
	if ok {
		if ok, err = s.current(r.Context(), ss); err != nil {
			s.log.ErrorContext(r.Context(), "web: check a session", "platform", "web", "actor", ss.Name, "err", err)
			return nil, false // the cookie may be good: keep it
		}
	}
	if !ok {
		s.clearSession(w)
		return nil, false
	}
	a := s.users.Actor(ss.Name)
	for _, t := range ss.Teams {
		if !slices.Contains(a.Teams, t) {
			a.Teams = append(a.Teams, t)
		}
	}
	return &viewer{session: ss, Actor: a, CSRF: s.csrf(ss)}, true
}

// current reports whether a genuine session still holds: its person is
// known, with the password (or identity at the provider) it was signed in
// with, that way of signing in is still on, and it was not signed out.
func (s *Server) current(ctx context.Context, ss session) (bool, error) {
	u, ok := s.users.User(ss.Name)
	if !ok {
		return false, nil
	}
	var gen string
	switch {
	case strings.HasPrefix(ss.Gen, oidcGen) && s.idp != nil:
		gen = s.oidcGeneration(u)
	case !strings.HasPrefix(ss.Gen, oidcGen) && !s.noPassword:
		gen = s.generation(u)
	}
	if gen == "" || !hmac.Equal([]byte(ss.Gen), []byte(gen)) {
		return false, nil
	}
	revoked, err := s.sessions.SessionRevoked(ctx, ss.Nonce)
	return !revoked, err
}

// page serves a page to signed-in people and sends others to sign in.
func (s *Server) page(fn func(http.ResponseWriter, *http.Request, *viewer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.viewer(w, r)
		if !ok {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		fn(w, r, v)
	}
}

// form serves a form post by a signed-in person: it reads the form, within
// the body limit, and checks its CSRF token before anything changes.
func (s *Server) form(fn func(http.ResponseWriter, *http.Request, *viewer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.viewer(w, r)
		if !ok {
			if fromScript(r) {
				s.refuse(w, r, http.StatusUnauthorized, "you are signed out; sign in again")
				return
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if err := r.ParseForm(); err != nil {
			msg, st := s.explain(r.Context(), err)
			if st == http.StatusInternalServerError {
				st, msg = http.StatusBadRequest, "ferry could not read the form"
			}
			s.refuse(w, r, st, msg)
			return
		}
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = r.PostForm.Get("csrf")
		}
		if got == "" || !hmac.Equal([]byte(got), []byte(v.CSRF)) {
			s.refuse(w, r, http.StatusForbidden, "ferry did not act: the form's security token is missing or wrong (it may come from an older session). Reload the page and try again.")
			return
		}
		fn(w, r, v)
	}
}
