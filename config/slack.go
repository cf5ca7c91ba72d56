package config

import (
	"fmt"
	"strings"
)

// Slack is the slack: section of ferry.yaml: the Slack app ferry runs as.
// The zero value means ferry does not talk to Slack. Its tokens and secret
// are never printed: String and GoString leave them out.
type Slack struct {
	BotToken string // xoxb-…, for the Web API; required when the section is there
	// SigningSecret verifies the requests Slack sends to /chat/slack/...;
	// "": those routes are off, and ferry hears Slack over Socket Mode only.
	SigningSecret string
	// AppToken is an app-level token (xapp-…) with connections:write, for
	// Socket Mode; "": no Socket Mode.
	AppToken string
	// DefaultChannel takes the deploy cards of projects that name no
	// channel: an ID like C0123 or a name like #deploys; "": none.
	DefaultChannel string
}

// Enabled reports whether Slack is configured.
func (s Slack) Enabled() bool { return s.BotToken != "" }

// String describes the section without its secrets.
func (s Slack) String() string {
	set := func(v string) string {
		if v == "" {
			return "unset"
		}
		return "set"
	}
	return fmt.Sprintf("{bot_token: %s, signing_secret: %s, app_token: %s, default_channel: %q}",
		set(s.BotToken), set(s.SigningSecret), set(s.AppToken), s.DefaultChannel)
}

// GoString is String, so that %#v shows no secret either.
func (s Slack) GoString() string { return "config.Slack" + s.String() }

var slackKeys = []string{"bot_token", "signing_secret", "app_token", "default_channel"}

// slack decodes the slack: section. Messages name the keys and never show
// their values, which are secrets.
func (d *decoder) slack(f field) Slack {
	var s Slack
	if f.line == 0 || isNull(f.val) {
		return s
	}
	fs := d.fields(f.val, "slack", slackKeys...)
	secret := func(key, prefix, what string) string {
		t, ok := d.scalar(fs[key].val, "slack."+key)
		if !ok || t.s == "" {
			return ""
		}
		if prefix != "" && !strings.HasPrefix(t.s, prefix) {
			d.addf(t.line, "slack.%s is not %s: those start with %s (find it under %s)", key, what, prefix, slackPages[key])
		}
		return t.s
	}
	s.BotToken = secret("bot_token", "xoxb-", "a bot token")
	s.SigningSecret = secret("signing_secret", "", "")
	s.AppToken = secret("app_token", "xapp-", "an app-level token")
	s.DefaultChannel = strings.TrimSpace(d.str(fs["default_channel"].val, "slack.default_channel"))
	if s.BotToken == "" {
		d.addf(f.line, "slack has no bot_token: add bot_token: ${SLACK_BOT_TOKEN} with the app's bot token (xoxb-…, %s)", slackPages["bot_token"])
	}
	if s.SigningSecret == "" && s.AppToken == "" {
		d.addf(f.line, "slack needs signing_secret (for the HTTP routes, %s) or app_token (for Socket Mode, %s), or both",
			slackPages["signing_secret"], slackPages["app_token"])
	}
	d.notes.slack = f.line
	return s
}

// slackPages says where a Slack app's settings show each secret.
var slackPages = map[string]string{
	"bot_token":      "OAuth & Permissions",
	"signing_secret": "Basic Information › App Credentials",
	"app_token":      "Basic Information › App-Level Tokens",
}

// slackChannels checks that every project's deploy cards have a channel
// to go to once Slack is configured.
func (d *decoder) slackChannels(cfg *Config) {
	if d.notes.slack == 0 || cfg.Slack.DefaultChannel != "" {
		return
	}
	for i, p := range cfg.Projects {
		if p.Channel == "" {
			d.addf(d.notes.projects[i].line, "project %s has no channel and slack.default_channel is not set, so its deploy cards would not reach Slack; add channel: to the project or default_channel: to slack", p.Name)
		}
	}
}
