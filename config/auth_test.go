package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const authProject = `
projects:
  shop:
    repo: https://git.example.com/shop.git
    environments:
      staging:
        branches: ['^main$']
        target: {type: local, dir: /tmp/shop}
`

// TestAuthOIDC: the provider's settings, their defaults, the groups'
// teams and who signs in as whom.
func TestAuthOIDC(t *testing.T) {
	cfg, err := Parse("ferry.yaml", []byte(`
auth:
  password: false
  oidc:
    issuer: https://keycloak.example.com/realms/acme
    client_id: ferry
    client_secret: s3cret-client-secret
    name: Keycloak
    scopes: [groups]
    teams_from_groups:
      /eng/backend: backend
      ferry-ops: [ops, backend]
teams:
  backend: {}
  ops: {}
users:
  alice: {admin: true, oidc: alice@acme.example}
  bob: {}
`+authProject), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Auth.OIDC
	if !cfg.Auth.NoPassword || o == nil {
		t.Fatalf("auth = %+v", cfg.Auth)
	}
	if o.Issuer != "https://keycloak.example.com/realms/acme" || o.ClientID != "ferry" || o.Name != "Keycloak" || o.UserClaim != "email" || o.GroupsClaim != "groups" {
		t.Errorf("oidc = %v", o)
	}
	if !slices.Equal(o.Scopes, []string{"openid", "groups"}) {
		t.Errorf("scopes = %v, want openid first, then those listed", o.Scopes)
	}
	if !slices.Equal(o.TeamsFromGroups["ferry-ops"], []string{"ops", "backend"}) || !slices.Equal(o.TeamsFromGroups["/eng/backend"], []string{"backend"}) {
		t.Errorf("teams_from_groups = %v", o.TeamsFromGroups)
	}
	for value, want := range map[string]string{"alice@acme.example": "alice", "bob": "bob", "alice": "", "": ""} {
		u, ok := cfg.UserByOIDC(value)
		if ok != (want != "") || u.Name != want {
			t.Errorf("UserByOIDC(%q) = %q, %v; want %q", value, u.Name, ok, want)
		}
	}
	if got := cfg.Contact(); got != "an admin of ferry (alice)" {
		t.Errorf("Contact() = %q", got)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(format, *o); strings.Contains(out, o.ClientSecret) {
			t.Errorf("%s shows the client secret: %s", format, out)
		}
	}
}

func TestAuthDefaults(t *testing.T) {
	cfg, err := Parse("ferry.yaml", []byte(`
auth:
  oidc: {issuer: "http://127.0.0.1:5556/dex", client_id: ferry, contact: "#platform on Slack"}
users:
  alice: {}
`+authProject), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Auth.OIDC
	if cfg.Auth.NoPassword || !slices.Equal(o.Scopes, []string{"openid", "email", "profile"}) || o.Name != "your identity provider" {
		t.Errorf("auth = %+v, oidc = %v %v %q", cfg.Auth, o, o.Scopes, o.Name)
	}
	if cfg.Contact() != "#platform on Slack" {
		t.Errorf("Contact() = %q", cfg.Contact())
	}
	cfg, err = Parse("ferry.yaml", []byte(authProject), t.TempDir())
	if err != nil || cfg.Auth.OIDC != nil || cfg.Auth.NoPassword {
		t.Errorf("no auth: = %+v, %v; want password sign-in only", cfg.Auth, err)
	}
}

func TestAuthProblems(t *testing.T) {
	_, err := Parse("ferry.yaml", []byte(`auth:
  password: false
  oidc:
    issuer: http://idp.example.com
    teams_from_groups:
      devs: backnd
teams:
  backend: {}
users:
  alice: {oidc: a@example.com}
  bob: {oidc: a@example.com}
`+authProject), t.TempDir())
	var problems Problems
	if !errors.As(err, &problems) {
		t.Fatalf("err = %v, want problems", err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, fmt.Sprintf("%d: %s", p.Line, p.Msg))
	}
	want := []string{
		`3: auth.oidc has no client_id: add the client ID ferry is registered with at the provider`,
		`4: auth.oidc.issuer "http://idp.example.com" is not an https:// address (http:// is only for 127.0.0.1 and localhost); use the issuer URL the provider's discovery document names`,
		`6: auth.oidc.teams_from_groups maps a group to team "backnd", which is not declared under teams:; did you mean "backend"?`,
		`11: oidc of user bob is "a@example.com", which user alice signs in as too; an identity belongs to one user`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	_, err = Parse("ferry.yaml", []byte("auth: {password: false}\nusers:\n  alice: {oidc: a@example.com}\n"+authProject), t.TempDir())
	if !errors.As(err, &problems) {
		t.Fatalf("err = %v, want problems", err)
	}
	got = got[:0]
	for _, p := range problems {
		got = append(got, fmt.Sprintf("%d: %s", p.Line, p.Msg))
	}
	want = []string{
		`1: auth.password is false but auth has no oidc:, so nobody could sign in to the web console; add auth.oidc, or remove password: false`,
		`3: user alice has oidc:, but auth has no oidc: provider to sign in with; add auth.oidc, or remove the line`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
