package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestGitHubSection(t *testing.T) {
	vars := map[string]string{"GITHUB_WEBHOOK_SECRET": "whsec-do-not-print", "GITHUB_PEM": "-----BEGIN RSA PRIVATE KEY-----\nMIIsecret\n-----END RSA PRIVATE KEY-----\n"}
	data := `github:
  webhook_secret: ${GITHUB_WEBHOOK_SECRET}
  app_id: 12345
  private_key: keys/app.pem
  base_url: https://github.example.com/api/v3/
projects:
  demo:
    repo: git@github.com:acme/demo.git
    environments: {dev: {target: {type: local}}}
`
	cfg, err := loader(vars).Parse("ferry.yaml", []byte(data), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	want := GitHub{WebhookSecret: "whsec-do-not-print", AppID: 12345, PrivateKey: "/etc/ferry/keys/app.pem", BaseURL: "https://github.example.com/api/v3/",
		RedeliverInterval: 10 * time.Minute}
	if cfg.GitHub != want {
		t.Errorf("github = %#v, want %#v", cfg.GitHub, want)
	}
	if !cfg.GitHub.Enabled() || (GitHub{}).Enabled() {
		t.Error("Enabled is wrong")
	}
	cfg.GitHub.Token, cfg.GitHub.PrivateKey = "ghp_secret_token", vars["GITHUB_PEM"]
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{cfg.GitHub, *cfg, cfg} {
			out := fmt.Sprintf(format, v)
			for _, secret := range []string{"whsec-do-not-print", "ghp_secret_token", "MIIsecret"} {
				if strings.Contains(out, secret) {
					t.Errorf("%s of %T shows a GitHub secret: %s", format, v, out)
				}
			}
		}
	}
	if got := cfg.GitHub.String(); got != `{webhook_secret: set, token: set, app_id: 12345, private_key: set, base_url: "https://github.example.com/api/v3/", redeliver_interval: 10m0s, repo_config: none}` {
		t.Errorf("String() = %s", got)
	}
}

func TestGitHubTokenAndAppConflict(t *testing.T) {
	data := "github:\n  webhook_secret: s\n  token: t\n  app_id: 1\n  private_key: k.pem\nprojects:\n  demo:\n    repo: ./demo\n    environments: {dev: {target: {type: local}}}\n"
	_, err := loader(nil).Parse("ferry.yaml", []byte(data), "/etc/ferry")
	if err == nil || !strings.Contains(err.Error(), "github has both token and app_id/private_key") {
		t.Fatalf("Parse = %v, want the token/App conflict", err)
	}
}
