package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/internal/oidctest"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// TestOIDCFromConfig: auth.oidc in ferry.yaml signs alice in through the
// provider, with password sign-in off, and the group teams_from_groups
// maps is what lets her deploy to prod: signed in without that group, she
// may not. A person the file does not know is refused until a reload adds
// them.
func TestOIDCFromConfig(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	const base = "http://ferry.test" // startApp's base URL
	p := oidctest.Start(t, oidctest.Config{ClientID: "ferry", ClientSecret: "client-secret-0123456789", RedirectURLs: []string{base + "/login/oidc/callback"}})
	p.SetAutoApprove(true)
	yaml := `storage: ferry.db
workspace: workspace
auth:
  password: false
  oidc:
    issuer: `+p.Issuer()+`
    client_id: ferry
    client_secret: client-secret-0123456789
    name: Acme SSO
    scopes: [email, groups]
    teams_from_groups: {ferry-ops: ops}
teams:
  ops: {}
users:
  alice: {oidc: alice@acme.example}
projects:
  demo:
    repo: `+repo.Path()+`
    environments:
      prod: {branches: ['^main$'], deployers: [ops], target: {type: local, hosts: [a], root: hosts}}
`
	a, srv := startApp(t, yaml, nil)

	deploy := func(email string, groups ...string) int {
		t.Helper()
		p.SignInAs(oidctest.Person{Subject: email, Email: email, EmailVerified: true, Groups: groups})
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Host == "ferry.test" { // the provider sends the browser to ferry's base URL
				req.URL.Scheme, req.URL.Host = "http", strings.TrimPrefix(srv.URL, "http://")
			}
			return nil
		}}
		res, err := browser.Get(srv.URL + "/login/oidc?next=/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
		if m == nil {
			return res.StatusCode // not signed in
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/console/command", strings.NewReader(url.Values{"csrf": {string(m[1])}, "text": {"deploy demo main to prod"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Requested-With", "fetch")
		res, err = browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := deploy("alice@acme.example", "ferry-ops"); st != http.StatusOK {
		t.Errorf("alice in group ferry-ops deploying to prod: %d; want 200", st)
	}
	if st := deploy("alice@acme.example", "sales"); st != http.StatusForbidden {
		t.Errorf("alice without group ferry-ops deploying to prod: %d; want 403", st)
	}
	if st := deploy("bob@acme.example", "ferry-ops"); st != http.StatusForbidden {
		t.Errorf("bob, whom ferry.yaml does not know, signing in: %d; want 403", st)
	}
	writeFile(t, a.reload.path, strings.Replace(yaml, "  alice: {oidc: alice@acme.example}\n", "  alice: {oidc: alice@acme.example}\n  bob: {oidc: bob@acme.example}\n", 1))
	if res := a.reload.reload(t.Context(), "test"); !res.Loaded {
		t.Fatalf("reload: %+v", res)
	}
	if st := deploy("bob@acme.example", "ferry-ops"); st != http.StatusOK {
		t.Errorf("bob, added by a reload, deploying to prod: %d; want 200", st)
	}
	res, err := http.PostForm(srv.URL+"/login", url.Values{"name": {"alice"}, "password": {"anything"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("password sign-in with auth.password false: %d; want 403", res.StatusCode)
	}
}
