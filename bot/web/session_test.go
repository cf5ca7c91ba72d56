package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferrybot/ferry/pipeline"
)

func TestSignIn(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	if res := f.get(c, "/board"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Fboard" {
		t.Fatalf("signed out: %d %v", res.StatusCode, res.Header)
	}
	if res := f.get(c, "/login"); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `name="password"`) {
		t.Fatalf("login page: %d %s", res.StatusCode, res.Body)
	}
	for _, form := range []url.Values{
		{"name": {"alice"}, "password": {"nope"}},
		{"name": {"mallory"}, "password": {alicePassword}},
		{"name": {""}, "password": {""}},
	} {
		res := f.postForm(c, "/login", form)
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Body, "Wrong name or password.") || res.Header.Get("Set-Cookie") != "" {
			t.Errorf("sign in with %v: %d %v\n%s", form, res.StatusCode, res.Header, res.Body)
		}
		if strings.Contains(res.Body, form.Get("password")) && form.Get("password") != "" {
			t.Errorf("the page echoes the password")
		}
	}
	res := f.postForm(c, "/login", url.Values{"name": {"alice"}, "password": {alicePassword}, "next": {"/board"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/board" {
		t.Fatalf("sign in: %d %v", res.StatusCode, res.Header)
	}
	ck := (&http.Response{Header: res.Header}).Cookies()
	if len(ck) != 2 || ck[0].Name != sessionCookie || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode || ck[0].Path != "/" || ck[0].Secure {
		t.Errorf("cookies: %+v", ck)
	}
	if len(ck) == 2 && (ck[1].Name != deviceCookie || !ck[1].HttpOnly || ck[1].Path != "/login" || ck[1].MaxAge != int(deviceTTL.Seconds())) {
		t.Errorf("device cookie: %+v; want one for the sign-in form only", ck[1])
	}
	if res := f.get(c, "/board"); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `<span class="user" id="user">alice</span>`) {
		t.Errorf("board after sign in: %d\n%s", res.StatusCode, res.Body)
	}
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
		res := f.postForm(f.client(), "/login", url.Values{"name": {"alice"}, "password": {alicePassword}, "next": {next}})
		if res.Header.Get("Location") != "/" {
			t.Errorf("next=%s redirects to %q", next, res.Header.Get("Location"))
		}
	}

	f.clock.Advance(sessionTTL - time.Minute)
	if res := f.get(c, "/"); res.StatusCode != http.StatusOK {
		t.Errorf("before expiry: %d", res.StatusCode)
	}
	f.clock.Advance(time.Minute)
	if res := f.get(c, "/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after 12h: %d, want signed out", res.StatusCode)
	}
}

func TestSecureCookie(t *testing.T) {
	f := newFixture(t, setup{baseURL: "https://ferry.example.com"})
	res := f.postForm(f.client(), "/login", url.Values{"name": {"alice"}, "password": {alicePassword}})
	ck := (&http.Response{Header: res.Header}).Cookies()
	if len(ck) != 2 || !ck[0].Secure || !ck[1].Secure {
		t.Errorf("cookie with an https base URL: %+v", ck)
	}
}

func TestSignedOut(t *testing.T) {
	f := newFixture(t)
	alice := f.signIn("alice", alicePassword)
	u, _ := url.Parse(f.ts.URL)
	value := alice.Jar.Cookies(u)[0].Value
	parts := strings.Split(value, "|")

	bobName := b64.EncodeToString([]byte("bob"))
	other := &Server{key: []byte(strings.Repeat("x", 32)), now: f.clock.Now}
	cases := map[string]string{
		"name changed":    strings.Join(append([]string{bobName}, parts[1:]...), "|"),
		"expiry extended": strings.Join([]string{parts[0], "99999999999", parts[2], parts[3], parts[4]}, "|"),
		"mac cut":         value[:len(value)-2],
		"no mac":          strings.Join(parts[:4], "|"),
		"garbage":         "x|y|z|w|v",
		"empty":           "",
		"other key":       other.encode(other.newSession(f.users["alice"])),
		"unknown user":    f.srv.encode(f.srv.newSession(pipeline.User{Name: "zed"})),
		"old format":      strings.Join([]string{parts[0], parts[1], parts[2], f.srv.mac("session", strings.Join(parts[:3], "|"))}, "|"),
	}
	for name, v := range cases {
		c := f.client()
		c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: v}})
		res := f.get(c, "/")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Errorf("%s: %d %v; want signed out", name, res.StatusCode, res.Header)
		}
		if v != "" && !strings.Contains(res.Header.Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("%s: the cookie is not cleared: %v", name, res.Header)
		}
		if res := f.get(c, "/events"); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: events: %d", name, res.StatusCode)
		}
	}

	// A removed user is signed out of a session that was valid.
	bob := f.signIn("bob", bobPassword)
	delete(f.users, "bob")
	if res := f.get(bob, "/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("removed user: %d", res.StatusCode)
	}

	// Signing out ends the session on the server too, not only in the browser.
	token := f.csrf(alice)
	if res := f.postForm(alice, "/logout", url.Values{"csrf": {token}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %v", res.StatusCode, res.Header)
	}
	replay := f.client()
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: value}})
	if res := f.get(replay, "/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a signed-out cookie still works: %d", res.StatusCode)
	}
}

// TestSignOutSurvivesRestart: a signed-out cookie is refused by a ferry
// started again over the same database, and a session signed in before
// its person's password changed is refused too; others go on.
func TestSignOutSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	u, _ := url.Parse(f.ts.URL)
	alice, bob := f.signIn("alice", alicePassword), f.signIn("bob", bobPassword)
	aliceCookie, bobCookie := alice.Jar.Cookies(u)[0].Value, bob.Jar.Cookies(u)[0].Value
	if res := f.postForm(alice, "/logout", url.Values{"csrf": {f.csrf(alice)}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", res.StatusCode, res.Body)
	}

	f.restart()
	with := func(value string) *http.Client {
		c := f.client()
		c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: value}})
		return c
	}
	if res := f.get(with(aliceCookie), "/"); res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("a cookie signed out before the restart: %d %v; want refused and cleared", res.StatusCode, res.Header)
	}
	if res := f.get(with(bobCookie), "/"); res.StatusCode != http.StatusOK {
		t.Fatalf("a session not signed out, after the restart: %d", res.StatusCode)
	}

	// bob's password changes in ferry.yaml; ferry starts again.
	h, err := bcrypt.GenerateFromPassword([]byte("bob-new-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	b := f.users["bob"]
	b.PasswordHash = string(h)
	f.users["bob"] = b
	f.restart()
	if res := f.get(with(bobCookie), "/"); res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("a session signed in with bob's old password: %d %v; want refused and cleared", res.StatusCode, res.Header)
	}
	if res := f.postForm(f.client(), "/login", url.Values{"name": {"bob"}, "password": {bobPassword}}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("bob's old password: %d", res.StatusCode)
	}
	f.signIn("bob", "bob-new-pw")
	f.signIn("alice", alicePassword) // signing out ended one session, not alice's next
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	alice := f.signIn("alice", alicePassword)
	bob := f.signIn("bob", bobPassword)
	bobToken := f.csrf(bob)
	deploy := url.Values{"text": {"deploy demo to staging"}}
	with := func(token string) url.Values {
		v := url.Values{"text": deploy["text"]}
		if token != "" {
			v.Set("csrf", token)
		}
		return v
	}
	cases := map[string]response{
		"missing":       f.postForm(alice, "/console/command", with("")),
		"wrong":         f.postForm(alice, "/console/command", with("not-a-token")),
		"other session": f.postForm(alice, "/console/command", with(bobToken)),
		"wrong header":  f.postForm(alice, "/console/command", with(""), "X-CSRF-Token", "nope", "X-Requested-With", "fetch"),
		"action":        f.postForm(alice, "/console/action", url.Values{"command": {"deploy demo to staging"}}),
		"logout":        f.postForm(alice, "/logout", nil),
	}
	for name, res := range cases {
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "security token is missing or wrong") {
			t.Errorf("%s: %d\n%s", name, res.StatusCode, res.Body)
		}
	}
	token := f.csrf(alice)
	res := f.postForm(alice, "/console/command", with(token), "Sec-Fetch-Site", "cross-site")
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "another site") {
		t.Errorf("cross-site: %d\n%s", res.StatusCode, res.Body)
	}
	if n := f.deployCount(); n != 0 {
		t.Fatalf("refused posts created %d deploys", n)
	}
	if res := f.get(alice, "/"); res.StatusCode != http.StatusOK {
		t.Fatalf("alice was signed out by a refused logout: %d", res.StatusCode)
	}

	res = f.postForm(alice, "/console/command", with(token))
	if res.StatusCode != http.StatusSeeOther || f.deployCount() != 1 {
		t.Fatalf("with the token: %d, %d deploys", res.StatusCode, f.deployCount())
	}
	res = f.postForm(alice, "/console/command", url.Values{"text": {"status"}}, "X-CSRF-Token", token, "X-Requested-With", "fetch")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `<table class="data">`) {
		t.Errorf("token in the header: %d\n%s", res.StatusCode, res.Body)
	}
}
