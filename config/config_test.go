package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

var fullEnv = map[string]string{
	"FERRY_SESSION_SECRET": "0123456789abcdef0123456789abcdef",
	"ALICE_TOKEN":          "alice-token-0123456789",
	"RETRIES":              "5",
	"SLACK_BOT_TOKEN":      "xoxb-1234-5678-abcdefghijkl",
	"SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
}

func parseFull(t *testing.T) *Config {
	t.Helper()
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loader(fullEnv).Parse("full.yaml", data, "/etc/ferry")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

// envView is an Environment with its rules as strings, for comparison.
type envView struct {
	Name       string
	Branches   []string
	Tags       []string
	DefaultRef string
	Auto       bool
	Target     pipeline.TargetSpec
	Deployers  []string
	Approvals  pipeline.ApprovalPolicy
	Strategy   pipeline.Strategy
	LockTTL    time.Duration
}

func view(e pipeline.Environment) envView {
	v := envView{Name: e.Name, DefaultRef: e.DefaultRef, Auto: e.Auto, Target: e.Target,
		Deployers: e.Deployers, Approvals: e.Approvals, Strategy: e.Strategy, LockTTL: e.LockTTL}
	for _, re := range e.Branches {
		v.Branches = append(v.Branches, re.String())
	}
	for _, re := range e.Tags {
		v.Tags = append(v.Tags, re.String())
	}
	return v
}

var defaultStrategy = pipeline.Strategy{Batches: []pipeline.BatchSize{{Percent: 100}}, Continue: pipeline.ContinueAuto}

func TestParseFull(t *testing.T) {
	cfg := parseFull(t)
	top := []struct{ name, got, want string }{
		{"Dir", cfg.Dir, "/etc/ferry"},
		{"Listen", cfg.Listen, "127.0.0.1:9090"},
		{"Storage", cfg.Storage, "/etc/ferry/var/ferry.db"},
		{"Workspace", cfg.Workspace, "/srv/ferry/workspace"},
		{"BaseURL", cfg.BaseURL, "https://ferry.example.com"},
		{"SessionSecret", cfg.SessionSecret, fullEnv["FERRY_SESSION_SECRET"]},
	}
	for _, f := range top {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}

	wantUsers := []pipeline.User{
		{Name: "alice", Admin: true, Teams: []string{"ops"},
			PasswordHash: "$2a$04$FuZb1yC9ipEqvz8kkPVxjOnn8d6HF7njxrKfvJF.wZF6YPWKNp9Tm",
			Tokens:       []string{"alice-token-0123456789"},
			Chat:         map[string]string{"slack": "U123", "web": "alice"},
			Forge:        map[string]string{"github": "alice-gh"}},
		{Name: "bob", Teams: []string{"dev"}, Tokens: []string{"bob-token-0123456789abcdef"},
			Chat:  map[string]string{"slack": "U456", "dingtalk": "0987"},
			Forge: map[string]string{"gitlab": "bob"}},
		{Name: "carol", Teams: []string{"dev"}, Chat: map[string]string{"web": "carol"}},
	}
	if !reflect.DeepEqual(cfg.Users, wantUsers) {
		t.Errorf("Users =\n%+v\nwant\n%+v", cfg.Users, wantUsers)
	}
	wantTeams := []pipeline.Team{{Name: "ops", Members: []string{"alice"}}, {Name: "dev", Members: []string{"bob", "carol"}}}
	if !reflect.DeepEqual(cfg.Teams, wantTeams) {
		t.Errorf("Teams = %+v, want %+v", cfg.Teams, wantTeams)
	}

	canary := pipeline.Strategy{
		Batches:  []pipeline.BatchSize{{Count: 1}, {Percent: 50}, {Percent: 100}},
		Bake:     30 * time.Second,
		Continue: pipeline.ContinueManual, MaxFailedUnits: 1, AutoRollback: true, Parallel: 2,
	}
	want := map[string][]envView{
		"demo": {
			{Name: "staging", Branches: []string{"^main$"}, DefaultRef: "main", Auto: true,
				Target: pipeline.TargetSpec{Type: "local", Params: map[string]any{
					"hosts": []any{"web1", "web2"}, "root": "/etc/ferry/var/hosts/staging",
					"build": []any{"make"}, "port": "8081", "retries": 5,
				}},
				Deployers: []string{"dev", "ops"}, Strategy: defaultStrategy, LockTTL: 2 * time.Hour},
			{Name: "prod", Tags: []string{`^v[0-9]+\.[0-9]+\.[0-9]+$`}, DefaultRef: "v1.0.0",
				Target: pipeline.TargetSpec{Type: "ssh", Params: map[string]any{
					"hosts": []any{"prod1", "prod2", "prod3", "prod4"}, "root": "/srv/demo",
					"key": "/etc/ferry/keys/deploy",
				}},
				Deployers: []string{"ops"},
				Approvals: pipeline.ApprovalPolicy{Required: 2, From: []string{"alice", "dev"}, Expire: 36 * time.Hour},
				Strategy:  canary},
		},
		"api": {
			{Name: "dev",
				Target: pipeline.TargetSpec{Type: "kubernetes", Params: map[string]any{
					"namespace": "api-dev", "kubeconfig": "/etc/ferry/kubeconfig",
				}},
				Approvals: pipeline.ApprovalPolicy{Required: 1}, Strategy: defaultStrategy},
		},
	}
	if got := []string{cfg.Projects[0].Name, cfg.Projects[1].Name}; len(cfg.Projects) != 2 || got[0] != "demo" || got[1] != "api" {
		t.Fatalf("projects %v, want [demo api] in file order", got)
	}
	repos := map[string]string{"demo": "/etc/ferry/demo-repo", "api": "git@github.com:ferrybot/api.git"}
	for _, p := range cfg.Projects {
		if p.Repo != repos[p.Name] {
			t.Errorf("%s: Repo = %q, want %q", p.Name, p.Repo, repos[p.Name])
		}
		var got []envView
		for _, e := range p.Envs {
			got = append(got, view(e))
		}
		if !reflect.DeepEqual(got, want[p.Name]) {
			t.Errorf("%s: environments =\n%+v\nwant\n%+v", p.Name, got, want[p.Name])
		}
	}
	wantSlack := Slack{BotToken: fullEnv["SLACK_BOT_TOKEN"], SigningSecret: fullEnv["SLACK_SIGNING_SECRET"], DefaultChannel: "C0DEPLOYS"}
	if cfg.Slack != wantSlack || !cfg.Slack.Enabled() {
		t.Errorf("Slack = %#v, want %#v", cfg.Slack, wantSlack)
	}
	if p, _ := cfg.Project("demo"); p.Channel != "#deploys" {
		t.Errorf("demo channel = %q", p.Channel)
	}
}

// TestStorageURL: a PostgreSQL URL is storage, with a session_secret;
// another URL is refused by line, without its password, instead of
// becoming the name of a SQLite file.
func TestStorageURL(t *testing.T) {
	const projects = "projects:\n  demo:\n    repo: ./demo\n    environments: {dev: {target: {type: local}}}\n"
	cfg, err := loader(nil).Parse("ferry.yaml", []byte("storage: postgres://ferry@db/ferry\nsession_secret: "+strings.Repeat("s", 32)+"\n"+projects), "/srv")
	if err != nil || cfg.Storage != "postgres://ferry@db/ferry" {
		t.Fatalf("PostgreSQL storage: %v %+v", err, cfg)
	}
	_, err = loader(nil).Parse("ferry.yaml", []byte("storage: postgres://ferry@db/ferry\n"+projects), "/srv")
	if err == nil || !strings.Contains(err.Error(), "ferry.yaml:1: storage is PostgreSQL, so ferry may run as several processes, and each must sign sessions alike: add session_secret") {
		t.Fatalf("PostgreSQL without session_secret: %v", err)
	}
	_, err = loader(nil).Parse("ferry.yaml", []byte("storage: mysql://ferry:s3cret@db/ferry\n"+projects), "/srv")
	if err == nil || !strings.Contains(err.Error(), `ferry.yaml:1: storage is "mysql://ferry:xxxxx@db/ferry", which is neither a SQLite file nor a PostgreSQL database`) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name, yaml                          string
		listen, baseURL, storage, workspace string
	}{
		{"none", "", "127.0.0.1:8080", "http://127.0.0.1:8080", "/srv/ferry.db", "/srv/workspace"},
		{"any host", "listen: :9000\n", ":9000", "http://localhost:9000", "/srv/ferry.db", "/srv/workspace"},
		{"paths", "storage: /var/lib/ferry.db\nworkspace: ws\n", "127.0.0.1:8080", "http://127.0.0.1:8080", "/var/lib/ferry.db", "/srv/ws"},
	}
	const projects = "projects:\n  demo:\n    repo: https://example.com/demo.git\n    environments:\n      dev:\n        target: {type: local}\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loader(nil).Parse("ferry.yaml", []byte(tt.yaml+projects), "/srv")
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Listen != tt.listen || cfg.BaseURL != tt.baseURL || cfg.Storage != tt.storage || cfg.Workspace != tt.workspace {
				t.Errorf("got listen %q, base_url %q, storage %q, workspace %q; want %q, %q, %q, %q",
					cfg.Listen, cfg.BaseURL, cfg.Storage, cfg.Workspace, tt.listen, tt.baseURL, tt.storage, tt.workspace)
			}
			e := cfg.Projects[0].Envs[0]
			if !reflect.DeepEqual(e.Strategy, defaultStrategy) || !reflect.DeepEqual(e.Approvals, pipeline.ApprovalPolicy{}) {
				t.Errorf("strategy %+v, approvals %+v; want the defaults", e.Strategy, e.Approvals)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.yaml")
	data := "projects:\n  demo:\n    repo: ../repo\n    environments:\n      dev:\n        target: {type: local, root: hosts}\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := cfg.Project("demo")
	if !ok {
		t.Fatal("no project demo")
	}
	if cfg.Dir != dir || cfg.Storage != filepath.Join(dir, "ferry.db") || p.Repo != filepath.Join(filepath.Dir(dir), "repo") {
		t.Errorf("Dir %q, Storage %q, Repo %q; want them under %s", cfg.Dir, cfg.Storage, p.Repo, dir)
	}
	if root := p.Envs[0].Target.Params["root"]; root != filepath.Join(dir, "hosts") {
		t.Errorf("root = %v, want it resolved against %s", root, dir)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestLookups(t *testing.T) {
	cfg := parseFull(t)
	byToken := []struct {
		token, user string
	}{
		{"alice-token-0123456789", "alice"},
		{"bob-token-0123456789abcdef", "bob"},
		{"bob-token-0123456789abcde", ""},
		{"alice-token-0123456789 ", ""},
		{"", ""},
		{"${ALICE_TOKEN}", ""},
	}
	for _, tt := range byToken {
		u, ok := cfg.UserByToken(tt.token)
		if u.Name != tt.user || ok != (tt.user != "") {
			t.Errorf("UserByToken(%q) = %q, %v; want %q", tt.token, u.Name, ok, tt.user)
		}
	}
	byID := []struct {
		find         func(string, string) (pipeline.User, bool)
		platform, id string
		user         string
	}{
		{cfg.UserByChat, "slack", "U456", "bob"},
		{cfg.UserByChat, "web", "carol", "carol"},
		{cfg.UserByChat, "dingtalk", "U456", ""},
		{cfg.UserByChat, "slack", "", ""},
		{cfg.UserByForge, "github", "alice-gh", "alice"},
		{cfg.UserByForge, "gitlab", "alice-gh", ""},
	}
	for _, tt := range byID {
		u, ok := tt.find(tt.platform, tt.id)
		if u.Name != tt.user || ok != (tt.user != "") {
			t.Errorf("lookup(%q, %q) = %q, %v; want %q", tt.platform, tt.id, u.Name, ok, tt.user)
		}
	}
	if _, ok := cfg.User("nobody"); ok {
		t.Error("User(nobody) found someone")
	}
	if tm, ok := cfg.Team("dev"); !ok || len(tm.Members) != 2 {
		t.Errorf("Team(dev) = %+v, %v", tm, ok)
	}
	actors := []struct {
		name string
		want pipeline.Actor
	}{
		{"alice", pipeline.Actor{Name: "alice", Admin: true, Teams: []string{"ops"}}},
		// carol's membership comes from the team's side only.
		{"carol", pipeline.Actor{Name: "carol", Teams: []string{"dev"}}},
		{"zed", pipeline.Actor{Name: "zed"}},
	}
	for _, tt := range actors {
		if got := cfg.Actor(tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Actor(%s) = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if !cfg.Actor("carol").Is([]string{"dev"}) {
		t.Error("carol does not act as dev")
	}
	byHand := &Config{
		Users: []pipeline.User{{Name: "dan", Teams: []string{"a"}}},
		Teams: []pipeline.Team{{Name: "a"}, {Name: "b", Members: []string{"dan"}}},
	}
	if got, want := byHand.Actor("dan"), (pipeline.Actor{Name: "dan", Teams: []string{"a", "b"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("Actor of a Config built by hand = %+v, want %+v", got, want)
	}
}

func TestMembershipsMerge(t *testing.T) {
	const yaml = `
users:
  cat: {}
  ann: {teams: [web]}
  ben: {teams: [web, ops]}
teams:
  web: {members: [cat, ann]}
  ops: {}
  cat-lovers: {members: [cat]}
projects:
  demo: {repo: ./demo, environments: {dev: {target: {type: local}}}}
`
	cfg, err := loader(nil).Parse("ferry.yaml", []byte(yaml), "/srv")
	if err != nil {
		t.Fatal(err)
	}
	wantTeams := map[string][]string{"web": {"cat", "ann", "ben"}, "ops": {"ben"}, "cat-lovers": {"cat"}}
	for _, tm := range cfg.Teams {
		if !reflect.DeepEqual(tm.Members, wantTeams[tm.Name]) {
			t.Errorf("team %s members %v, want %v", tm.Name, tm.Members, wantTeams[tm.Name])
		}
	}
	wantUsers := map[string][]string{"cat": {"web", "cat-lovers"}, "ann": {"web"}, "ben": {"web", "ops"}}
	for _, u := range cfg.Users {
		if !reflect.DeepEqual(u.Teams, wantUsers[u.Name]) {
			t.Errorf("user %s teams %v, want %v", u.Name, u.Teams, wantUsers[u.Name])
		}
	}
}

func TestTargetParams(t *testing.T) {
	const data = `
x-ssh: &ssh
  user: deploy
  port: 2222
projects:
  demo:
    repo: ./demo
    environments:
      prod:
        target:
          <<: *ssh
          type: ssh
          port: 22
          health: {http: "http://localhost/health", timeout: 5s}
          since: 2024-01-01
          key: /etc/ferry/id_ed25519
          root: releases
`
	cfg, err := Parse("ferry.yaml", []byte(data), "/srv")
	if err != nil {
		t.Fatal(err)
	}
	want := pipeline.TargetSpec{Type: "ssh", Params: map[string]any{
		"user": "deploy", "port": 22,
		"health": map[string]any{"http": "http://localhost/health", "timeout": "5s"},
		"since":  "2024-01-01", "key": "/etc/ferry/id_ed25519", "root": "releases",
	}}
	if got := cfg.Projects[0].Envs[0].Target; !reflect.DeepEqual(got, want) {
		t.Errorf("target = %+v, want %+v", got, want)
	}
}

// TestSlackNeverPrinted prints a configuration every way fmt can and looks
// for the Slack secrets.
func TestSlackNeverPrinted(t *testing.T) {
	cfg := parseFull(t)
	cfg.Slack.AppToken = "xapp-1-A111-secret-app-token"
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{cfg.Slack, *cfg, cfg} {
			out := fmt.Sprintf(format, v)
			for _, secret := range []string{cfg.Slack.BotToken, cfg.Slack.SigningSecret, cfg.Slack.AppToken} {
				if strings.Contains(out, secret) {
					t.Errorf("%s of %T shows a Slack secret: %s", format, v, out)
				}
			}
		}
	}
	if got := cfg.Slack.String(); got != `{bot_token: set, signing_secret: set, app_token: set, default_channel: "C0DEPLOYS"}` {
		t.Errorf("String() = %s", got)
	}
	if (Slack{}).Enabled() {
		t.Error("the zero Slack is enabled")
	}
}

// TestRepoAddresses: a repo is a URL, an scp-like address (with or without
// a user) or a path relative to the file, told apart as git and the
// workspace tell them.
func TestRepoAddresses(t *testing.T) {
	for repo, want := range map[string]string{
		"https://ghp_token@github.com/acme/demo.git": "https://ghp_token@github.com/acme/demo.git",
		"git@github.com:acme/demo.git":               "git@github.com:acme/demo.git",
		"github.com:acme/demo.git":                   "github.com:acme/demo.git",
		"file:///srv/git/demo.git":                   "file:///srv/git/demo.git",
		"../git/demo.git":                            "/git/demo.git",
		"./a:b":                                      "/srv/a:b",
	} {
		data := "projects:\n  demo:\n    repo: '" + repo + "'\n    environments:\n      dev:\n        target: {type: local}\n"
		cfg, err := loader(nil).Parse("ferry.yaml", []byte(data), "/srv")
		if err != nil {
			t.Fatalf("repo %s: %v", repo, err)
		}
		if got := cfg.Projects[0].Repo; got != want {
			t.Errorf("repo %s is read as %s, want %s", repo, got, want)
		}
	}
}
