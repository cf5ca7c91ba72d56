package config

import (
	"fmt"
	"strings"
)

// Forge is the gitlab: or gitee: section of ferry.yaml: the webhook ferry
// hears on POST /hooks/gitlab or /hooks/gitee and how it calls the forge's
// API. The zero value means ferry does not talk to that forge. Its
// secrets are never printed: String and GoString leave them out.
type Forge struct {
	// WebhookSecret is GitLab's secret token (X-Gitlab-Token) or Gitee's
	// WebHook password or signing key (X-Gitee-Token); required when the
	// section is there.
	WebhookSecret string
	// SigningToken is GitLab's signing token of the webhook (whsec_…),
	// which signs each delivery's body (webhook-signature); "": the
	// secret token alone. GitLab only.
	SigningToken string
	// Token calls the API: a GitLab personal, project or group access
	// token, a Gitee personal access token; "": no API calls, ferry
	// deploys from the webhooks and says nothing on the forge.
	Token string
	// BaseURL is a self-managed instance: https://gitlab.example.com, or
	// a Gitee's https://gitee.example.com/api/v5; "": gitlab.com or
	// gitee.com.
	BaseURL string
	// RepoConfig is as github.repo_config, for this forge's repositories.
	RepoConfig *RepoConfig
}

// Enabled reports whether the forge is configured.
func (f Forge) Enabled() bool { return f.WebhookSecret != "" }

// String describes the section without its secrets.
func (f Forge) String() string {
	repo := "none"
	if f.RepoConfig != nil {
		repo = "{allow: [" + strings.Join(f.RepoConfig.Allow, ", ") + "]}"
	}
	return fmt.Sprintf("{webhook_secret: %s, signing_token: %s, token: %s, base_url: %q, repo_config: %s}",
		set(f.WebhookSecret), set(f.SigningToken), set(f.Token), f.BaseURL, repo)
}

// GoString is String, so that %#v shows no secret either.
func (f Forge) GoString() string { return "config.Forge" + f.String() }

// set says whether a secret is set, never what it is.
func set(v string) string {
	if v == "" {
		return "unset"
	}
	return "set"
}

// forgeSections are the forges ferry.yaml configures beside github:, with
// how each names its webhook's secret and where an example base_url
// points.
var forgeSections = map[string]struct {
	name, secret, env, baseURL string
	keys                       []string
}{
	"gitlab": {"GitLab", "the Secret token set on the webhook (Settings › Webhooks)", "GITLAB_WEBHOOK_SECRET", "https://gitlab.example.com",
		[]string{"webhook_secret", "signing_token", "token", "base_url", "repo_config"}},
	"gitee": {"Gitee", "the WebHook password or signing key set on the webhook (管理 › WebHooks)", "GITEE_WEBHOOK_SECRET", "https://gitee.example.com/api/v5",
		[]string{"webhook_secret", "token", "base_url", "repo_config"}},
}

// forge decodes a gitlab: or gitee: section. Messages name the keys and
// never show the values of secrets.
func (d *decoder) forge(platform string, f field) Forge {
	var g Forge
	if f.line == 0 || isNull(f.val) {
		return g
	}
	s := forgeSections[platform]
	fs := d.fields(f.val, platform, s.keys...)
	secret := func(key string) string {
		t, ok := d.scalar(fs[key].val, platform+"."+key)
		if !ok {
			return ""
		}
		return t.s
	}
	g.WebhookSecret = secret("webhook_secret")
	g.Token = secret("token")
	if platform == "gitlab" {
		if g.SigningToken = secret("signing_token"); g.SigningToken != "" && !strings.HasPrefix(g.SigningToken, "whsec_") {
			d.addf(fs["signing_token"].line, "gitlab.signing_token must be the webhook's Signing token as GitLab shows it, starting with whsec_")
		}
	}
	if t, ok := d.scalar(fs["base_url"].val, platform+".base_url"); ok && t.s != "" {
		if !strings.HasPrefix(t.s, "https://") && !strings.HasPrefix(t.s, "http://") || len(strings.TrimRight(strings.SplitN(t.s, "://", 2)[1], "/")) == 0 {
			d.addf(t.line, "%s.base_url must be the address of a self-managed %s, e.g. %s, not %s", platform, s.name, s.baseURL, t.shown())
		}
		g.BaseURL = t.s
	}
	if g.WebhookSecret == "" {
		d.addf(f.line, "%s has no webhook_secret: add webhook_secret: ${%s} with %s", platform, s.env, s.secret)
	}
	g.RepoConfig = d.repoConfigSection(platform, fs["repo_config"])
	if g.RepoConfig != nil && g.Token == "" {
		d.addf(fs["repo_config"].line, "%s.repo_config needs API access to read a repository's .ferry.yaml: add token", platform)
	}
	return g
}

// repoConfigSection decodes the repo_config: of a forge's section.
func (d *decoder) repoConfigSection(platform string, rc field) *RepoConfig {
	if rc.line == 0 {
		return nil
	}
	out := &RepoConfig{}
	for _, t := range d.texts(d.fields(rc.val, platform+".repo_config", repoConfigKeys...)["allow"].val, platform+".repo_config.allow") {
		out.Allow = append(out.Allow, t.s)
		d.notes.allow = append(d.notes.allow, allowNote{platform: platform, key: t})
	}
	return out
}

// RepoRules is what one forge's repo_config lets the .ferry.yaml of its
// repositories change; it implements forge.RepoConfig.
type RepoRules struct {
	cfg      *Config
	platform string
	rc       *RepoConfig
}

// RepoRules returns the rules of platform's repo_config (github, gitlab,
// gitee); nil when the forge has none, whose RepoProject reads no file.
func (c *Config) RepoRules(platform string) *RepoRules {
	var rc *RepoConfig
	switch platform {
	case "github":
		rc = c.GitHub.RepoConfig
	case "gitlab":
		rc = c.GitLab.RepoConfig
	case "gitee":
		rc = c.Gitee.RepoConfig
	}
	if rc == nil {
		return nil
	}
	return &RepoRules{cfg: c, platform: platform, rc: rc}
}
