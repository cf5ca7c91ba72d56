package config

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ferrybot/ferry/pipeline"
)

// Auth is the auth: section of ferry.yaml: how people sign in to the web
// console. The zero value is password sign-in only.
type Auth struct {
	// NoPassword switches password sign-in off (auth.password: false);
	// it needs OIDC, or nobody could sign in.
	NoPassword bool
	// OIDC is the company's identity provider; nil: none.
	OIDC *OIDC
}

// OIDC is auth.oidc: an OpenID Connect provider people sign in with. Its
// client secret is never printed: String and GoString leave it out.
type OIDC struct {
	Issuer       string // the provider's issuer URL, as its ID tokens say
	ClientID     string
	ClientSecret string // "": a public client, which PKCE alone protects
	// Name is what the sign-in button says: "Sign in with <Name>";
	// default "your identity provider".
	Name string
	// Scopes asked for, openid first; default openid, email, profile.
	Scopes []string
	// UserClaim is the ID token's claim that names the person (email,
	// preferred_username, sub…): it is matched against each user's oidc:,
	// or their name when they have none. Default email.
	UserClaim string
	// GroupsClaim is the claim that lists the person's groups; default
	// groups.
	GroupsClaim string
	// TeamsFromGroups maps a group to the ferry teams its members are in
	// while they are signed in through the provider.
	TeamsFromGroups map[string][]string
	// Contact is whom a person ferry does not know should ask to be added;
	// "": the admins in users:.
	Contact string
}

// String describes the section without its secret.
func (o OIDC) String() string {
	secret := "unset"
	if o.ClientSecret != "" {
		secret = "set"
	}
	return fmt.Sprintf("{issuer: %q, client_id: %q, client_secret: %s, user_claim: %q, groups_claim: %q}",
		o.Issuer, o.ClientID, secret, o.UserClaim, o.GroupsClaim)
}

// GoString is String, so that %#v shows no secret either.
func (o OIDC) GoString() string { return "config.OIDC" + o.String() }

// UserByOIDC returns the user the identity provider's user claim names:
// the one whose oidc: is value, else the one named value who has no
// oidc: of their own.
func (c *Config) UserByOIDC(value string) (pipeline.User, bool) {
	if value == "" {
		return pipeline.User{}, false
	}
	byName := -1
	for i, u := range c.Users {
		if u.OIDC == value {
			return u, true
		}
		if u.OIDC == "" && u.Name == value {
			byName = i
		}
	}
	if byName < 0 {
		return pipeline.User{}, false
	}
	return c.Users[byName], true
}

// Contact is whom people the configuration does not know should ask to be
// added: auth.oidc.contact, else the admins.
func (c *Config) Contact() string {
	if c.Auth.OIDC != nil && c.Auth.OIDC.Contact != "" {
		return c.Auth.OIDC.Contact
	}
	var admins []string
	for _, u := range c.Users {
		if u.Admin {
			admins = append(admins, u.Name)
		}
	}
	if len(admins) == 0 {
		return "whoever runs ferry"
	}
	return "an admin of ferry (" + strings.Join(admins, ", ") + ")"
}

var (
	authKeys = []string{"password", "oidc"}
	oidcKeys = []string{"issuer", "client_id", "client_secret", "name", "scopes", "user_claim", "groups_claim", "teams_from_groups", "contact"}
)

// authNotes is what the checks need of auth: and the users' oidc:.
type authNotes struct {
	teams []text         // the teams groups map to
	users map[string]int // user → the line of their oidc:
}

// auth decodes the auth: section. Messages never show the client secret.
func (d *decoder) auth(f field) Auth {
	var a Auth
	if f.line == 0 || isNull(f.val) {
		return a
	}
	fs := d.fields(f.val, "auth", authKeys...)
	if fs["password"].line != 0 {
		a.NoPassword = !d.boolean(fs["password"].val, "auth.password")
	}
	if o := fs["oidc"]; o.line != 0 && !isNull(o.val) {
		a.OIDC = d.oidc(o)
	}
	if a.NoPassword && a.OIDC == nil {
		d.addf(fs["password"].line, "auth.password is false but auth has no oidc:, so nobody could sign in to the web console; add auth.oidc, or remove password: false")
	}
	return a
}

func (d *decoder) oidc(f field) *OIDC {
	fs := d.fields(f.val, "auth.oidc", oidcKeys...)
	o := &OIDC{
		ClientID:     strings.TrimSpace(d.str(fs["client_id"].val, "auth.oidc.client_id")),
		ClientSecret: d.str(fs["client_secret"].val, "auth.oidc.client_secret"),
		Name:         strings.TrimSpace(d.str(fs["name"].val, "auth.oidc.name")),
		UserClaim:    strings.TrimSpace(d.str(fs["user_claim"].val, "auth.oidc.user_claim")),
		GroupsClaim:  strings.TrimSpace(d.str(fs["groups_claim"].val, "auth.oidc.groups_claim")),
		Contact:      strings.TrimSpace(d.str(fs["contact"].val, "auth.oidc.contact")),
	}
	if t, ok := d.scalar(fs["issuer"].val, "auth.oidc.issuer"); ok {
		o.Issuer = strings.TrimSpace(t.s)
		switch {
		case o.Issuer == "":
			d.addf(f.line, "auth.oidc has no issuer: add the provider's issuer URL, like issuer: https://keycloak.example.com/realms/acme")
		case !secureIssuer(o.Issuer):
			d.addf(t.line, "auth.oidc.issuer %s is not an https:// address (http:// is only for 127.0.0.1 and localhost); use the issuer URL the provider's discovery document names", t.shown())
		}
	}
	if o.ClientID == "" {
		d.addf(f.line, "auth.oidc has no client_id: add the client ID ferry is registered with at the provider")
	}
	o.Scopes = []string{"openid"}
	for _, t := range d.texts(fs["scopes"].val, "auth.oidc.scopes") {
		o.Scopes = appendNew(o.Scopes, strings.TrimSpace(t.s))
	}
	if len(o.Scopes) == 1 {
		o.Scopes = append(o.Scopes, "email", "profile")
	}
	if o.Name == "" {
		o.Name = "your identity provider"
	}
	if o.UserClaim == "" {
		o.UserClaim = "email"
	}
	if o.GroupsClaim == "" {
		o.GroupsClaim = "groups"
	}
	for _, e := range d.entries(fs["teams_from_groups"].val, "auth.oidc.teams_from_groups") {
		var teams []text
		if n := resolve(e.val); n != nil && n.Kind == yaml.SequenceNode {
			teams = d.texts(e.val, "teams of group "+e.key)
		} else if t, ok := d.scalar(e.val, "the team of group "+e.key); ok {
			teams = []text{t}
		}
		if o.TeamsFromGroups == nil {
			o.TeamsFromGroups = map[string][]string{}
		}
		for _, t := range teams {
			o.TeamsFromGroups[e.key] = appendNew(o.TeamsFromGroups[e.key], t.s)
			d.notes.auth.teams = append(d.notes.auth.teams, t)
		}
	}
	return o
}

// secureIssuer reports whether an issuer is https, or http on this machine.
func secureIssuer(issuer string) bool {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	return u.Scheme == "http" && (host == "localhost" || ip != nil && ip.IsLoopback())
}

// authNames checks that groups map to declared teams and that no two users
// sign in as one identity.
func (d *decoder) authNames(cfg *Config, teams map[string]int) {
	for _, t := range d.notes.auth.teams {
		if _, ok := teams[t.s]; !ok {
			d.missing(t, fmt.Sprintf("auth.oidc.teams_from_groups maps a group to team %s, which is not declared under teams:", t.shown()), keys(teams), "declare it there")
		}
	}
	seen := map[string]string{}
	for _, u := range cfg.Users {
		id := cmp.Or(u.OIDC, u.Name)
		if prev, dup := seen[id]; dup && u.OIDC != "" {
			d.addf(d.notes.auth.users[u.Name], "oidc of user %s is %q, which user %s signs in as too; an identity belongs to one user", u.Name, id, prev)
			continue
		}
		seen[id] = u.Name
	}
	if cfg.Auth.OIDC == nil {
		for _, name := range keys(d.notes.auth.users) {
			d.addf(d.notes.auth.users[name], "user %s has oidc:, but auth has no oidc: provider to sign in with; add auth.oidc, or remove the line", name)
		}
	}
}
