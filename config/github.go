package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// GitHub is the github: section of ferry.yaml: the webhook ferry hears on
// POST /hooks/github and how it calls GitHub's API. The zero value means
// ferry does not talk to GitHub. Its secrets are never printed: String and
// GoString leave them out.
type GitHub struct {
	// WebhookSecret verifies deliveries (X-Hub-Signature-256); required
	// when the section is there.
	WebhookSecret string
	// Token is a personal access or fine-grained token for the API; "": no
	// token (an App, or no API calls). Not together with AppID.
	Token string
	// AppID and PrivateKey authenticate as a GitHub App (installation
	// tokens per repository); 0 and "": no App. PrivateKey is the PEM
	// itself or, when it does not start with -----BEGIN, a path to it,
	// resolved against the file's directory.
	AppID      int64
	PrivateKey string
	// BaseURL is a GitHub Enterprise Server's API address, like
	// https://github.example.com/api/v3/; "": github.com.
	BaseURL string
	// RedeliverInterval is how often ferry, as an App, lists the App's
	// recent deliveries and redelivers those GitHub failed to make; 0:
	// never. redeliver_interval: defaults to 10m with an App and must be a
	// minute or more; 0 turns it off.
	RedeliverInterval time.Duration
	// RepoConfig, when not nil, makes ferry read a repository's own
	// .ferry.yaml for the events of its repository (see RepoProject); nil:
	// ferry reads none, and optional environments are never added.
	RepoConfig *RepoConfig
}

// RepoConfig is a forge's repo_config (github.repo_config, …): what a
// repository's .ferry.yaml may change of its projects' environments.
type RepoConfig struct {
	// Allow are the keys a repository may set, as paths into .ferry.yaml:
	// environments.<env>.<key>, where <env> and each name of <key> may be
	// * for any one name (environments.*.strategy.*). Empty: a repository
	// may only add optional environments.
	Allow []string
}

// defaultRedeliverInterval is how often an App looks for failed deliveries
// unless redeliver_interval says otherwise.
const defaultRedeliverInterval = 10 * time.Minute

// Enabled reports whether GitHub is configured.
func (g GitHub) Enabled() bool { return g.WebhookSecret != "" }

// String describes the section without its secrets.
func (g GitHub) String() string {
	repo := "none"
	if g.RepoConfig != nil {
		repo = "{allow: [" + strings.Join(g.RepoConfig.Allow, ", ") + "]}"
	}
	return fmt.Sprintf("{webhook_secret: %s, token: %s, app_id: %d, private_key: %s, base_url: %q, redeliver_interval: %s, repo_config: %s}",
		set(g.WebhookSecret), set(g.Token), g.AppID, set(g.PrivateKey), g.BaseURL, g.RedeliverInterval, repo)
}

// GoString is String, so that %#v shows no secret either.
func (g GitHub) GoString() string { return "config.GitHub" + g.String() }

var (
	githubKeys     = []string{"webhook_secret", "token", "app_id", "private_key", "base_url", "redeliver_interval", "repo_config"}
	repoConfigKeys = []string{"allow"}
)

// github decodes the github: section. Messages name the keys and never
// show the values of secrets.
func (d *decoder) github(f field) GitHub {
	var g GitHub
	if f.line == 0 || isNull(f.val) {
		return g
	}
	fs := d.fields(f.val, "github", githubKeys...)
	secret := func(key string) string {
		t, ok := d.scalar(fs[key].val, "github."+key)
		if !ok {
			return ""
		}
		return t.s
	}
	g.WebhookSecret = secret("webhook_secret")
	g.Token = secret("token")
	if g.PrivateKey = secret("private_key"); g.PrivateKey != "" && !strings.HasPrefix(strings.TrimSpace(g.PrivateKey), "-----BEGIN") {
		g.PrivateKey = d.path(g.PrivateKey, "")
	}
	if t, ok := d.scalar(fs["app_id"].val, "github.app_id"); ok && t.s != "" {
		id, err := strconv.ParseInt(t.s, 10, 64)
		if err != nil || id <= 0 {
			d.addf(t.line, "github.app_id must be the App's numeric ID (General › About on the App's settings page), not %s", t.shown())
		}
		g.AppID = id
	}
	if t, ok := d.scalar(fs["base_url"].val, "github.base_url"); ok && t.s != "" {
		if !strings.HasPrefix(t.s, "https://") && !strings.HasPrefix(t.s, "http://") || len(strings.TrimRight(strings.SplitN(t.s, "://", 2)[1], "/")) == 0 {
			d.addf(t.line, "github.base_url must be a GitHub Enterprise API URL, e.g. https://github.example.com/api/v3/, not %s", t.shown())
		}
		g.BaseURL = t.s
	}
	if g.WebhookSecret == "" {
		d.addf(f.line, "github has no webhook_secret: add webhook_secret: ${GITHUB_WEBHOOK_SECRET} with the secret set on the webhook (or the App's Webhook secret)")
	}
	g.RedeliverInterval = d.redeliverInterval(fs["redeliver_interval"], g.AppID != 0)
	g.RepoConfig = d.repoConfigSection("github", fs["repo_config"])
	if g.RepoConfig != nil && g.Token == "" && g.AppID == 0 {
		d.addf(fs["repo_config"].line, "github.repo_config needs API access to read a repository's .ferry.yaml: add token, or app_id and private_key")
	}
	switch {
	case g.Token != "" && (g.AppID != 0 || g.PrivateKey != ""):
		d.addf(f.line, "github has both token and app_id/private_key: ferry calls GitHub as an App or with a token; keep one")
	case (g.AppID != 0) != (g.PrivateKey != ""):
		d.addf(f.line, "github needs app_id and private_key together to act as a GitHub App (General › About and Private keys on the App's settings page)")
	}
	return g
}

// redeliverInterval decodes github.redeliver_interval: absent, the default
// for an App; 0, never; otherwise a minute or more, with an App.
func (d *decoder) redeliverInterval(f field, app bool) time.Duration {
	if f.line == 0 {
		if app {
			return defaultRedeliverInterval
		}
		return 0
	}
	v := d.duration(f.val, "github.redeliver_interval")
	switch {
	case v == 0:
	case !app:
		d.addf(f.line, "github.redeliver_interval needs app_id and private_key: GitHub lists the deliveries of an App to the App only; remove it, or set up the App")
	case v < time.Minute:
		d.addf(f.line, "github.redeliver_interval is %s; make it a minute or more (GitHub rate-limits the listing), or 0 to turn redelivery off", v)
	}
	return v
}
