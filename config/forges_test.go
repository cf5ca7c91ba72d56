package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestForgeSections(t *testing.T) {
	vars := map[string]string{"GL_SECRET": "gl-hook-do-not-print", "GL_SIGN": "whsec_c2lnbi1kby1ub3QtcHJpbnQ=", "GL_TOKEN": "glpat-do-not-print",
		"GE_SECRET": "gitee-hook-do-not-print", "GE_TOKEN": "gitee-token-do-not-print"}
	data := `gitlab:
  webhook_secret: ${GL_SECRET}
  signing_token: ${GL_SIGN}
  token: ${GL_TOKEN}
  base_url: https://gitlab.example.com
  repo_config: {allow: [environments.*.branches]}
gitee:
  webhook_secret: ${GE_SECRET}
  token: ${GE_TOKEN}
projects:
  demo:
    repo: https://gitlab.example.com/acme/platform/demo.git
    environments: {dev: {target: {type: local}}}
users:
  alice: {forge: {github: alice-gh, gitlab: alice-gl, gitee: alice-ge}}
`
	cfg, err := loader(vars).Parse("ferry.yaml", []byte(data), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	gl := cfg.GitLab
	if gl.WebhookSecret != vars["GL_SECRET"] || gl.SigningToken != vars["GL_SIGN"] || gl.Token != vars["GL_TOKEN"] || gl.BaseURL != "https://gitlab.example.com" ||
		gl.RepoConfig == nil || strings.Join(gl.RepoConfig.Allow, ",") != "environments.*.branches" || !gl.Enabled() {
		t.Errorf("gitlab = %#v", gl)
	}
	if ge := cfg.Gitee; ge.WebhookSecret != vars["GE_SECRET"] || ge.Token != vars["GE_TOKEN"] || ge.RepoConfig != nil || !ge.Enabled() {
		t.Errorf("gitee = %#v", ge)
	}
	for platform, login := range map[string]string{"github": "alice-gh", "gitlab": "alice-gl", "gitee": "alice-ge"} {
		if u, ok := cfg.UserByForge(platform, login); !ok || u.Name != "alice" {
			t.Errorf("UserByForge(%s, %s) = %v, %v", platform, login, u.Name, ok)
		}
	}
	if cfg.RepoRules("gitlab") == nil || cfg.RepoRules("gitee") != nil || cfg.RepoRules("github") != nil {
		t.Error("RepoRules: want gitlab's only")
	}
	// A key GitLab's allow-list leaves out is refused naming gitlab's.
	_, err = cfg.RepoRules("gitlab").RepoProject(cfg.Projects[0], RepoFile, []byte("environments:\n  dev: {auto: true}\n"))
	if err == nil || !strings.Contains(err.Error(), "gitlab.repo_config.allow in ferry's configuration allows environments.*.branches") {
		t.Errorf("refused key: %v", err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{cfg.GitLab, cfg.Gitee, *cfg, cfg} {
			out := fmt.Sprintf(format, v)
			for _, secret := range vars {
				if strings.Contains(out, secret) || strings.Contains(out, "c2lnbi1kby1ub3QtcHJpbnQ") {
					t.Errorf("%s of %T shows a secret: %s", format, v, out)
				}
			}
		}
	}
}
