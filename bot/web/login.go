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
	Name  string
	Next  string
	Error string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if _, ok := s.viewer(w, r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.renderPage(w, r, http.StatusOK, "login", pageData{Title: "Sign in"}, loginForm{Next: next})
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
	form := loginForm{Name: name, Next: localPath(r.PostForm.Get("next"))}
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
	http.Redirect(w, r, "/login", http.StatusSeeOther)
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
