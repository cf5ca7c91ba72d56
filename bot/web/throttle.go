package web

import (
	"context"
	"crypto/hmac"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"time"
)

// Sign-in throttling. Failed sign-ins are counted in the store, so that a
// restart does not start them over and memory holds none of them:
//
//   - From one client address, after maxAddrFailures within failureWindow
//     the address is refused until the oldest of them is failureWindow
//     old: one guesser is slowed, whichever names it tries.
//   - For one name, known or not (so that throttling tells nobody who
//     exists), after freeNameFailures within nameWindow each further try
//     waits nameDelay after the last failure, doubling with each failure up
//     to maxNameDelay: a guesser spread over many addresses gets about 12
//     tries an hour, and the name is never locked.
//   - A browser that signed in as the name before carries a device cookie
//     for it, and is held by neither while it has fewer than
//     maxAddrFailures failures itself: the owner signs in whatever others
//     try, from behind the same proxy too.
//
// The client address is the connection's: ferry has no setting that names
// a proxy to trust, so X-Forwarded-For is ignored.
const (
	failureWindow    = 15 * time.Minute
	maxAddrFailures  = 10
	nameWindow       = time.Hour
	freeNameFailures = 5
	nameDelay        = 5 * time.Second
	maxNameDelay     = 5 * time.Minute
	// nameFailuresRead bounds the failures of a name read to decide its
	// delay, which is maxNameDelay long before.
	nameFailuresRead = 32
	// keepFailures is how long the store keeps a failure.
	keepFailures = max(failureWindow, nameWindow)

	deviceCookie = "ferry_device"
	deviceTTL    = 90 * 24 * time.Hour
)

// signInKeys are the store keys a sign-in is counted under: digests, so
// that a password typed into the name field is never stored.
type signInKeys struct {
	name, addr string
	device     string // "": the browser brought no device cookie for the name
}

func (s *Server) signInKeys(r *http.Request, name string) signInKeys {
	k := signInKeys{name: "name:" + s.mac("throttle", "name", name), addr: "addr:" + s.mac("throttle", "addr", clientAddr(r))}
	if c, err := r.Cookie(deviceCookie); err == nil {
		if u, ok := s.users.User(name); ok && hmac.Equal([]byte(c.Value), []byte(s.deviceToken(u.Name, s.generation(u)))) {
			k.device = "device:" + s.mac("throttle", "device", c.Value)
		}
	}
	return k
}

// all are the keys a failure is recorded under.
func (k signInKeys) all() []string {
	if k.device == "" {
		return []string{k.name, k.addr}
	}
	return []string{k.name, k.addr, k.device}
}

// clientAddr is who a request comes from, for throttling: the host of the
// connection's remote address, an IPv6 address by its /64, which one host
// commonly has whole.
func clientAddr(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64) // never fails for 64 bits of an IPv6 address
		return p.String()
	}
	return a.String()
}

// signInWait is how long a sign-in counted under k must wait at now, with
// what to tell the person; 0 when it may be tried now.
func (s *Server) signInWait(ctx context.Context, k signInKeys, now time.Time) (time.Duration, string, error) {
	since := now.Add(-failureWindow)
	if k.device != "" {
		f, err := s.sessions.SignInFailures(ctx, k.device, since, maxAddrFailures)
		if err != nil || len(f) < maxAddrFailures {
			return 0, "", err
		}
	}
	f, err := s.sessions.SignInFailures(ctx, k.addr, since, maxAddrFailures)
	if err != nil {
		return 0, "", err
	}
	if len(f) >= maxAddrFailures {
		wait := f[maxAddrFailures-1].Add(failureWindow).Sub(now)
		return wait, fmt.Sprintf("Too many failed sign-ins from your address. Try again in %s.", waitText(wait)), nil
	}
	f, err = s.sessions.SignInFailures(ctx, k.name, now.Add(-nameWindow), nameFailuresRead)
	if err != nil {
		return 0, "", err
	}
	if len(f) >= freeNameFailures {
		if wait := f[0].Add(nameWait(len(f))).Sub(now); wait > 0 {
			return wait, fmt.Sprintf("Too many failed sign-ins for this name. Try again in %s.", waitText(wait)), nil
		}
	}
	return 0, "", nil
}

// nameWait is how long after the last of n recent failures a name may be
// tried again.
func nameWait(n int) time.Duration {
	d := nameDelay
	for i := freeNameFailures; i < n && d < maxNameDelay; i++ {
		d *= 2
	}
	return min(d, maxNameDelay)
}

// waitText says how long to wait, rounded up: "40s" under two minutes,
// else in minutes.
func waitText(d time.Duration) string {
	if d < 2*time.Minute {
		return fmt.Sprintf("%ds", int(math.Ceil(d.Seconds())))
	}
	return fmt.Sprintf("%d minutes", int(math.Ceil(d.Minutes())))
}

// deviceToken is the device cookie of a browser that signed in as name
// with the password of generation gen.
func (s *Server) deviceToken(name, gen string) string {
	n := b64.EncodeToString([]byte(name))
	return n + "." + s.mac("device", n, gen)
}

// setDevice gives the browser the device cookie of its person, sent to
// the sign-in form only.
func (s *Server) setDevice(w http.ResponseWriter, ss session) {
	http.SetCookie(w, &http.Cookie{
		Name: deviceCookie, Value: s.deviceToken(ss.Name, ss.Gen), Path: "/login",
		MaxAge: int(deviceTTL.Seconds()), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}
