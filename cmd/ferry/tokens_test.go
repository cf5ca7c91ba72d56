package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// TestPersonalTokenCLI: a token alice makes on the console's Tokens page
// works for the CLI, and once she revokes it the CLI is refused, saying
// why.
func TestPersonalTokenCLI(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	hash, err := bcrypt.GenerateFromPassword([]byte(alicePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	_, srv := startApp(t, `storage: ferry.db
workspace: workspace
users:
  alice: {password_hash: "`+string(hash)+`"}
projects:
  demo:
    repo: `+repo.Path()+`
    environments:
      dev: {branches: ['^main$'], target: {type: local, hosts: [a], root: hosts}}
`, nil)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	post := func(path string, form url.Values) string {
		t.Helper()
		res, err := browser.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	post("/login", url.Values{"name": {"alice"}, "password": {alicePassword}})
	csrf := func() string {
		res, err := browser.Get(srv.URL + "/tokens")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("no tokens page for alice:\n%s", b)
		}
		return m[1]
	}
	page := post("/tokens", url.Values{"csrf": {csrf()}, "name": {"laptop"}, "expires": {"30"}})
	m := regexp.MustCompile(`id="new-token-secret">(fpt_[0-9a-f]+)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no token made:\n%s", page)
	}
	if out, err := cli(t, srv.URL, m[1], "status"); err != nil || !strings.Contains(out, "demo") {
		t.Fatalf("the CLI with alice's token: %v\n%s", err, out)
	}
	id := regexp.MustCompile(`data-token="(\d+)"`).FindStringSubmatch(page)[1]
	post("/tokens/"+id+"/revoke", url.Values{"csrf": {csrf()}})
	out, err := cli(t, srv.URL, m[1], "status")
	if err == nil || !strings.Contains(out, `"laptop" was revoked`) {
		t.Fatalf("the CLI with a revoked token: %v\n%s", err, out)
	}
}
