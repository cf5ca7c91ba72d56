package web

import (
	"crypto/rand"
	"math"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

type loginForm struct {
	Name       string
	Next       string
	Error      string
	NoPassword bool   // the password form is not shown
	Provider   string // the identity provider's name; "": none
	// SignOut is where a person signed out of ferry may sign out of the
	// provider too; "" when not just signed out of a provider's session.
	SignOut string
}

// loginForm is the sign-in page's form: the password form if password
// sign-in is on, and the provider's button if there is one.
func (s *Server) loginForm(next, why string) loginForm {
	f := loginForm{Next: next, Error: why, NoPassword: s.noPassword}
	if s.idp != nil {
		f.Provider = s.idp.Name
	}
	return f
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if _, ok := s.viewer(w, r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	f := s.loginForm(next, "")
	if r.URL.Query().Get("signed_out") == "oidc" && s.idp != nil {
		f.SignOut = s.idp.signOutURL(s.baseURL + "/login")
	}
	s.renderPage(w, r, http.StatusOK, "login", pageData{Title: "Sign in"}, f)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		msg, st := s.explain(r.Context(), err)
		if st == http.StatusInternalServerError {
			st, msg = http.StatusBadRequest, "ferry could not read the form"
		}
		s.refuse(w, r, st, msg)
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	password := r.PostForm.Get("password")
	form := s.loginForm(localPath(r.PostForm.Get("next")), "")
	form.Name = name
	if s.noPassword {
		form.Error = "Signing in with a password is switched off here; sign in with " + form.Provider + "."
		s.renderPage(w, r, http.StatusForbidden, "login", pageData{Title: "Sign in"}, form)
		return
	}
	ctx, now := r.Context(), s.now()
	keys := s.signInKeys(r, name)
	wait, why, err := s.signInWait(ctx, keys, now)
	if err != nil {
		s.log.ErrorContext(ctx, "web: read failed sign-ins", "platform", "web", "err", err)
		form.Error = "ferry could not sign you in because of an internal error; it is in ferry's log."
		s.renderPage(w, r, http.StatusInternalServerError, "login", pageData{Title: "Sign in"}, form)
		return
	}
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		form.Error = why
		s.renderPage(w, r, http.StatusTooManyRequests, "login", pageData{Title: "Sign in"}, form)
		return
	}
	u, known := s.users.User(name)
	hash := []byte(u.PasswordHash)
	if !known || len(hash) == 0 {
		hash = s.dummy() // take as long as for a real user
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !known || name == "" {
		if err := s.sessions.SignInFailed(ctx, now, keepFailures, keys.all()...); err != nil {
			s.log.ErrorContext(ctx, "web: record a failed sign-in", "platform", "web", "err", err)
		}
		if known {
			s.log.InfoContext(ctx, "web: wrong password", "platform", "web", "actor", name)
		}
		form.Error = "Wrong name or password."
		s.renderPage(w, r, http.StatusUnauthorized, "login", pageData{Title: "Sign in"}, form)
		return
	}
	// The owner is in: the name's delay starts over. The address's count
	// does not: signing in as oneself must not buy guesses at others.
	for _, k := range []string{keys.name, keys.device} {
		if k == "" {
			continue
		}
		if err := s.sessions.ClearSignInFailures(ctx, k); err != nil {
			s.log.ErrorContext(ctx, "web: clear failed sign-ins", "platform", "web", "actor", name, "err", err)
		}
	}
	ss := s.newSession(u)
	s.setSession(w, ss)
	s.setDevice(w, ss)
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.flashes.take(v.Nonce)
	s.clearSession(w)
	if err := s.sessions.RevokeSession(r.Context(), v.Nonce, v.Expires); err != nil {
		s.log.ErrorContext(r.Context(), "web: sign out", "platform", "web", "actor", v.Name, "err", err)
		s.refuse(w, r, http.StatusInternalServerError, "ferry deleted your browser's session but could not end it on the server because of an internal error; it is in ferry's log. Sign in, then out again.")
		return
	}
	to := "/login"
	if strings.HasPrefix(v.Gen, oidcGen) {
		to += "?signed_out=oidc"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// dummyHash is a bcrypt hash of a random password, compared against when
// the name is unknown so that a wrong name takes as long as a wrong password.
func dummyHash() []byte {
	pw := make([]byte, 24)
	_, _ = rand.Read(pw)
	h, err := bcrypt.GenerateFromPassword(pw, bcrypt.DefaultCost)
	if err != nil { // only for passwords over 72 bytes
		return []byte("$2a$10$invalidinvalidinvalidinvalidinvalidinvalidinvalidinv")
	}
	return h
}
