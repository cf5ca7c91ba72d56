package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// signInFrom posts the sign-in form as if from addr, with the cookies
// given, to the server the fixture runs now.
func (f *fixture) signInFrom(addr, name, password string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"name": {name}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = addr
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// expect checks the status of a sign-in and, if it was refused, that the
// page says want.
func expect(t *testing.T, what string, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if rec.Code != status || !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("%s: %d; want %d with %q\n%s", what, rec.Code, status, want, rec.Body)
	}
}

// TestSignInThrottleByAddress: one address guessing across many names is
// refused after maxAddrFailures, with how long to wait, after a restart
// too; other addresses and the names it tried are not.
func TestSignInThrottleByAddress(t *testing.T) {
	f := newFixture(t)
	const guesser = "203.0.113.7:4321"
	for i := range maxAddrFailures {
		expect(t, "guess", f.signInFrom(guesser, []string{"alice", "bob", "carol", "nobody"}[i%4], "guess"), http.StatusUnauthorized, "Wrong name or password.")
		f.clock.Advance(10 * time.Second)
	}
	expect(t, "a right password from the guesser", f.signInFrom(guesser, "alice", alicePassword), http.StatusTooManyRequests,
		"Too many failed sign-ins from your address. Try again in 14 minutes.")
	expect(t, "alice from elsewhere", f.signInFrom("198.51.100.1:5555", "alice", alicePassword), http.StatusSeeOther, "")
	// An IPv6 host has its /64 to choose addresses from: it counts as one.
	for i := range maxAddrFailures {
		f.signInFrom(fmt.Sprintf("[2001:db8::%x]:1", i+1), fmt.Sprint("v6-", i), "guess")
	}
	expect(t, "another address of the same /64", f.signInFrom("[2001:db8::ffff]:1", "alice", alicePassword), http.StatusTooManyRequests, "from your address")
	expect(t, "the next /64", f.signInFrom("[2001:db8:0:1::1]:1", "alice", alicePassword), http.StatusSeeOther, "")

	f.restart() // the count is in the store
	f.clock.Advance(failureWindow - 100*time.Second - 40*time.Second)
	rec := f.signInFrom(guesser, "alice", alicePassword)
	expect(t, "the guesser after a restart", rec, http.StatusTooManyRequests, "Too many failed sign-ins from your address. Try again in 40s.")
	if got := rec.Header().Get("Retry-After"); got != "40" {
		t.Errorf("Retry-After: %q; want 40", got)
	}
	f.clock.Advance(40 * time.Second) // its first failure is 15 minutes old
	expect(t, "the guesser once the first failure is old", f.signInFrom(guesser, "alice", alicePassword), http.StatusSeeOther, "")
}

// TestSignInThrottleByName: guesses at one name from many addresses wait
// longer and longer, up to maxNameDelay, and never lock the name: its
// owner signs in from a browser that signed in before at once, and from a
// new one once the wait is over. Unknown names are throttled alike.
func TestSignInThrottleByName(t *testing.T) {
	f := newFixture(t)
	owner := f.signInFrom("192.0.2.10:1000", "bob", bobPassword)
	var device *http.Cookie
	for _, c := range owner.Result().Cookies() {
		if c.Name == deviceCookie {
			device = c
		}
	}
	if device == nil {
		t.Fatalf("no device cookie: %v", owner.Result().Cookies())
	}

	addr := 0
	next := func() string { addr++; return fmt.Sprintf("10.0.%d.%d:1", addr/256, addr%256) }
	for range freeNameFailures {
		expect(t, "a free guess", f.signInFrom(next(), "bob", "guess"), http.StatusUnauthorized, "Wrong name or password.")
	}
	expect(t, "a guess at once", f.signInFrom(next(), "bob", "guess"), http.StatusTooManyRequests, "Too many failed sign-ins for this name. Try again in 5s.")
	expect(t, "bob's browser", f.signInFrom("192.0.2.10:1001", "bob", bobPassword, device), http.StatusSeeOther, "")

	// The owner's success started the name over; the guesser goes on.
	for range freeNameFailures {
		f.signInFrom(next(), "bob", "guess")
	}
	for _, wait := range []string{"5s", "10s", "20s", "40s", "80s", "3 minutes", "5 minutes", "5 minutes"} {
		rec := f.signInFrom(next(), "bob", "guess")
		expect(t, "a guess at once", rec, http.StatusTooManyRequests, "Try again in "+wait+".")
		d, _ := time.ParseDuration(rec.Header().Get("Retry-After") + "s")
		f.clock.Advance(d)
		expect(t, "a guess after "+wait, f.signInFrom(next(), "bob", "guess"), http.StatusUnauthorized, "Wrong name or password.")
	}
	expect(t, "a new browser of bob's at once", f.signInFrom("192.0.2.99:1", "bob", bobPassword), http.StatusTooManyRequests, "Try again in 5 minutes.")
	expect(t, "bob's browser", f.signInFrom("192.0.2.10:1002", "bob", bobPassword, device), http.StatusSeeOther, "")
	expect(t, "a device cookie for another name", f.signInFrom("192.0.2.10:1003", "nobody", "guess", device), http.StatusUnauthorized, "")

	for range freeNameFailures - 1 {
		f.signInFrom(next(), "nobody", "guess")
	}
	expect(t, "an unknown name", f.signInFrom(next(), "nobody", "guess"), http.StatusTooManyRequests, "Too many failed sign-ins for this name.")
}
