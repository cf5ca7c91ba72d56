package web

import (
	"crypto/rand"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Sign-in throttling: after maxFailures wrong passwords for one name within
// failureWindow, that name is refused until the oldest of them is older
// than failureWindow.
const (
	maxFailures   = 5
	failureWindow = 15 * time.Minute
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
	now := s.now()
	if wait, blocked := s.limiter.blocked(name, now); blocked {
		form.Error = fmt.Sprintf("Too many failed sign-ins for this name. Try again in %s.", minutes(wait))
		s.renderPage(w, r, http.StatusTooManyRequests, "login", pageData{Title: "Sign in"}, form)
		return
	}
	u, known := s.users.User(name)
	hash := []byte(u.PasswordHash)
	if !known || len(hash) == 0 {
		hash = s.dummy() // take as long as for a real user
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !known || name == "" {
		s.limiter.fail(name, now)
		if known {
			s.log.InfoContext(r.Context(), "web: wrong password", "platform", "web", "actor", name)
		}
		form.Error = "Wrong name or password."
		s.renderPage(w, r, http.StatusUnauthorized, "login", pageData{Title: "Sign in"}, form)
		return
	}
	s.limiter.reset(name)
	s.setSession(w, s.newSession(u))
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
}

// logout ends the session in the browser and in the store, so that a
// copy of its cookie is refused, after a restart of ferry too.
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

func minutes(d time.Duration) string {
	m := int(math.Ceil(d.Minutes()))
	if m <= 1 {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// throttle counts recent failed sign-ins per name, known or not, so that
// it tells nobody which names exist.
type throttle struct {
	mu    sync.Mutex
	fails map[string][]time.Time // the last maxFailures failures, oldest first
}

func newThrottle() *throttle { return &throttle{fails: map[string][]time.Time{}} }

// blocked reports whether name may not try now, and for how long.
func (t *throttle) blocked(name string, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := recent(t.fails[name], now)
	if len(f) < maxFailures {
		return 0, false
	}
	return f[len(f)-maxFailures].Add(failureWindow).Sub(now), true
}

func (t *throttle) fail(name string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fails) > 4096 { // forget names that have not failed lately
		for n, f := range t.fails {
			if len(recent(f, now)) == 0 {
				delete(t.fails, n)
			}
		}
	}
	f := append(recent(t.fails[name], now), now)
	if len(f) > maxFailures {
		f = f[len(f)-maxFailures:]
	}
	t.fails[name] = f
}

func (t *throttle) reset(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, name)
}

// recent keeps the failures within the window.
func recent(f []time.Time, now time.Time) []time.Time {
	for len(f) > 0 && !now.Before(f[0].Add(failureWindow)) {
		f = f[1:]
	}
	return f
}
