package config

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DingTalk is the dingtalk: section of ferry.yaml: the enterprise-internal
// app (企业内部应用) whose robot ferry runs as, and custom group robots
// (自定义机器人) that only receive notifications. The zero value means no
// DingTalk; a section with robots only is a DingTalk that ferry posts to
// but does not hear. Its secrets (client_secret, and each robot's webhook,
// whose access_token is one, and secret) are never printed: String and
// GoString leave them out.
type DingTalk struct {
	// ClientID is the app's AppKey (Client ID); "": no app.
	ClientID string
	// ClientSecret is the app's AppSecret (Client Secret); it also signs
	// the callbacks of HTTP mode. Required with ClientID.
	ClientSecret string
	// RobotCode is the app's robot's robotCode. When robot_code is left
	// out it is the ClientID, which DingTalk gives an internal app's robot
	// as its robotCode; "" (no app, or a Config built by hand) means the
	// ClientID too.
	RobotCode string
	// Mode is how ferry hears the robot: DingTalkStream (a Stream mode
	// connection, no public address needed) or DingTalkHTTP (DingTalk
	// POSTs to /chat/dingtalk). When mode is left out it is stream; ""
	// (no app, or a Config built by hand) means stream too.
	Mode string
	// CardTemplateID is the interactive card template of deploy cards,
	// an ID ending in .schema; "": cards are ActionCard messages with
	// links to the console.
	CardTemplateID string
	// DefaultGroup is the openConversationId (cid…) of the group that
	// takes the deploy cards of projects that name no dingtalk_group;
	// "": none.
	DefaultGroup string
	// APIURL is DingTalk's OpenAPI, without a trailing /, for a dedicated
	// DingTalk or a proxy. When api_url is left out it is
	// DefaultDingTalkAPIURL; "" (a Config built by hand) means that too.
	APIURL string
	// Robots are the custom group robots, in file order.
	Robots []DingTalkRobot
	// Groups maps a project's name to its dingtalk_group, for the
	// projects that have one; nil when none has.
	Groups map[string]string
}

// The modes of the DingTalk app, and the OpenAPI it calls by default.
const (
	DingTalkStream        = "stream"
	DingTalkHTTP          = "http"
	DefaultDingTalkAPIURL = "https://api.dingtalk.com"
)

// DingTalkRobot is one of dingtalk.robots: a custom group robot
// (自定义机器人) that ferry posts to through its webhook. It only
// receives: DingTalk sends ferry nothing of what is said to it.
type DingTalkRobot struct {
	// Name is how digests (dingtalk-robot:<name>) and logs refer to it:
	// lowercase letters, digits, _ and -, unique.
	Name string
	// Webhook is https://oapi.dingtalk.com/robot/send?access_token=…, a
	// secret: the token is in it.
	Webhook string
	// Secret is the robot's 加签 secret (SEC…), which signs each post;
	// "": the robot relies on a keyword or an IP allow-list instead.
	Secret string
	// Scope says whose deploy cards it gets, as digests' scope reads it
	// (dashboards.Directory.ParseScope): "" or all, a project, an
	// environment, a team or a person.
	Scope string
	// Cards is true (cards: left out, or true) when the robot posts the
	// deploy cards of its scope; false: it gets only the digests that
	// name it.
	Cards bool
}

// Enabled reports whether the DingTalk app is configured. A DingTalk with
// robots only is not enabled, but has Robots.
func (d DingTalk) Enabled() bool { return d.ClientID != "" }

// String describes the section without its secrets.
func (d DingTalk) String() string {
	robots := make([]string, len(d.Robots))
	for i, r := range d.Robots {
		robots[i] = r.Name + ": " + r.fields()
	}
	names := make([]string, 0, len(d.Groups))
	for p := range d.Groups {
		names = append(names, p)
	}
	sort.Strings(names)
	groups := make([]string, len(names))
	for i, p := range names {
		groups[i] = p + ": " + strconv.Quote(d.Groups[p])
	}
	return fmt.Sprintf("{client_id: %q, client_secret: %s, robot_code: %q, mode: %s, card_template_id: %q, default_group: %q, api_url: %q, robots: [%s], groups: {%s}}",
		d.ClientID, set(d.ClientSecret), d.RobotCode, d.Mode, d.CardTemplateID, d.DefaultGroup, d.APIURL,
		strings.Join(robots, ", "), strings.Join(groups, ", "))
}

// GoString is String, so that %#v shows no secret either.
func (d DingTalk) GoString() string { return "config.DingTalk" + d.String() }

// String describes the robot without its webhook or secret.
func (r DingTalkRobot) String() string {
	return "{name: " + strconv.Quote(r.Name) + ", " + r.fields()[1:]
}

// GoString is String, so that %#v shows no secret either.
func (r DingTalkRobot) GoString() string { return "config.DingTalkRobot" + r.String() }

func (r DingTalkRobot) fields() string {
	return fmt.Sprintf("{webhook: %s, secret: %s, scope: %q, cards: %t}", set(r.Webhook), set(r.Secret), r.Scope, r.Cards)
}

// The platforms DigestPlatform tells a digest's channel apart by.
const (
	DigestSlack         = "slack"          // a Slack channel: C0123 or #name
	DigestDingTalk      = "dingtalk"       // dingtalk:<openConversationId>, a group the app posts to
	DigestDingTalkRobot = "dingtalk-robot" // dingtalk-robot:<name>, one of dingtalk.robots
)

// DigestPlatform says where a digest's channel (Digest.Channel) goes:
// ("dingtalk", the openConversationId) for dingtalk:<openConversationId>,
// ("dingtalk-robot", the robot's name) for dingtalk-robot:<name>, and
// ("slack", channel) for anything else.
func DigestPlatform(channel string) (platform, dest string) {
	if cid, ok := strings.CutPrefix(channel, DigestDingTalk+":"); ok {
		return DigestDingTalk, strings.TrimSpace(cid)
	}
	if name, ok := strings.CutPrefix(channel, DigestDingTalkRobot+":"); ok {
		return DigestDingTalkRobot, strings.TrimSpace(name)
	}
	return DigestSlack, channel
}

var (
	dingtalkKeys      = []string{"client_id", "client_secret", "robot_code", "mode", "card_template_id", "default_group", "api_url", "robots"}
	dingtalkRobotKeys = []string{"name", "webhook", "secret", "scope", "cards"}
	dingtalkModes     = []string{DingTalkStream, DingTalkHTTP}
	// dingtalkAppKeys mean something only with the app.
	dingtalkAppKeys = []string{"robot_code", "mode", "card_template_id", "default_group", "api_url"}
)

// robotName is what a robot's name may be: digests name it in
// dingtalk-robot:<name>.
var robotName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Where the DingTalk developer console (open-dev.dingtalk.com) shows what
// the messages ask for.
const (
	dingtalkCredentials = "凭证与基础信息 on the app's page at open-dev.dingtalk.com"
	dingtalkWebhookHelp = "copy the Webhook address DingTalk shows when the robot is added, https://oapi.dingtalk.com/robot/send?access_token=…"
	dingtalkGroupHelp   = "use the group's openConversationId, e.g. the conversationId of a message the robot receives in the group"
)

// dingtalk decodes the dingtalk: section. Messages name the keys and never
// show the values of secrets.
func (d *decoder) dingtalk(f field) DingTalk {
	var dt DingTalk
	if f.line == 0 || isNull(f.val) {
		return dt
	}
	d.notes.dingtalk.line = f.line
	fs := d.fields(f.val, "dingtalk", dingtalkKeys...)
	value := func(key string) text {
		t, _ := d.scalar(fs[key].val, "dingtalk."+key)
		t.s = strings.TrimSpace(t.s)
		return t
	}
	dt.ClientID = value("client_id").s
	dt.ClientSecret = value("client_secret").s
	dt.RobotCode = value("robot_code").s
	dt.CardTemplateID = value("card_template_id").s
	if t := value("mode"); t.s != "" {
		dt.Mode = t.s
		if !contains(dingtalkModes, t.s) {
			hint := ""
			if s, ok := suggest(t.s, dingtalkModes); ok && !t.fromEnv {
				hint = fmt.Sprintf("; did you mean %q?", s)
			}
			d.addf(t.line, "dingtalk.mode must be stream (ferry connects to DingTalk, no public address needed) or http (DingTalk calls POST /chat/dingtalk), not %s%s", t.shown(), hint)
		}
	}
	if t := value("default_group"); t.s != "" {
		dt.DefaultGroup = t.s
		d.conversation(t, "dingtalk.default_group "+t.shown())
	}
	if t := value("api_url"); t.s != "" {
		if u, err := url.Parse(t.s); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			d.addf(t.line, "dingtalk.api_url must be an http:// or https:// URL with a host, e.g. %s, not %s", DefaultDingTalkAPIURL, t.shown())
		}
		dt.APIURL = strings.TrimRight(t.s, "/")
	}
	dt.Robots = d.robots(fs["robots"])

	switch {
	case dt.ClientID != "" && dt.ClientSecret == "":
		d.addf(f.line, "dingtalk has client_id but no client_secret: add client_secret: ${DINGTALK_CLIENT_SECRET} with the app's AppSecret (Client Secret, %s)", dingtalkCredentials)
	case dt.ClientID == "" && dt.ClientSecret != "":
		d.addf(f.line, "dingtalk has client_secret but no client_id: add client_id: ${DINGTALK_CLIENT_ID} with the app's AppKey (Client ID, %s)", dingtalkCredentials)
	case dt.ClientID == "" && len(dt.Robots) == 0 && noItems(fs["robots"].val):
		d.addf(f.line, "dingtalk has neither an app nor robots: add client_id and client_secret for the app ferry runs as (%s), or robots: with the custom robots that receive notifications, or both", dingtalkCredentials)
	case dt.ClientID == "":
		for _, key := range dingtalkAppKeys {
			if fs[key].line != 0 && !isNull(fs[key].val) {
				d.addf(fs[key].line, "dingtalk.%s is for the app, and dingtalk has no client_id: add client_id and client_secret, or remove %s", key, key)
			}
		}
	default:
		if dt.RobotCode == "" {
			dt.RobotCode = dt.ClientID
		}
		if dt.Mode == "" {
			dt.Mode = DingTalkStream
		}
		if dt.APIURL == "" {
			dt.APIURL = DefaultDingTalkAPIURL
		}
	}
	return dt
}

// conversation checks that t is an openConversationId; what names it in
// the message.
func (d *decoder) conversation(t text, what string) {
	if !strings.HasPrefix(t.s, "cid") {
		d.addf(t.line, "%s is not an openConversationId: those start with cid; %s", what, dingtalkGroupHelp)
	}
}

// robots decodes dingtalk.robots: a list of mappings.
func (d *decoder) robots(f field) []DingTalkRobot {
	var out []DingTalkRobot
	seen := map[string]int{}
	for i, item := range d.list(f.val, "dingtalk.robots") {
		what := "robot " + strconv.Itoa(i+1) + " of dingtalk.robots"
		if n := resolve(item); n.Kind != yaml.MappingNode {
			d.addf(n.Line, "%s must be a mapping with name: and webhook:, not %s", what, describe(n))
			continue
		}
		fs := d.fields(item, what, dingtalkRobotKeys...)
		r := DingTalkRobot{Cards: true}
		line := resolve(item).Line
		name, ok := d.scalar(fs["name"].val, "name of "+what)
		name.s = strings.TrimSpace(name.s)
		switch {
		case !ok:
			continue
		case name.s == "":
			d.addf(line, "%s has no name: add name:, e.g. name: ops; digests name it as dingtalk-robot:<name>", what)
			continue
		case !robotName.MatchString(name.s):
			d.addf(name.line, "name %s of %s must be lowercase letters, digits, '_' or '-', starting with a letter or digit", name.shown(), what)
			continue
		}
		r.Name = name.s
		what = "robot " + r.Name + " of dingtalk.robots"
		if first, dup := seen[r.Name]; dup {
			d.addf(name.line, "%s has the name of the robot at line %d; give each robot its own name", what, first)
			continue
		}
		seen[r.Name] = name.line

		if t, ok := d.scalar(fs["webhook"].val, "webhook of "+what); ok {
			r.Webhook = strings.TrimSpace(t.s)
			if r.Webhook == "" {
				d.addf(line, "%s has no webhook: add webhook: ${DINGTALK_%s_WEBHOOK}; %s", what, envName(r.Name), dingtalkWebhookHelp)
			} else if !robotWebhook(r.Webhook) {
				d.addf(t.line, "webhook of %s is not a robot's Webhook address with an access_token: %s", what, dingtalkWebhookHelp)
			}
		}
		if t, ok := d.scalar(fs["secret"].val, "secret of "+what); ok {
			r.Secret = strings.TrimSpace(t.s)
			if r.Secret != "" && !strings.HasPrefix(r.Secret, "SEC") {
				d.addf(t.line, "secret of %s is not a 加签 secret: those start with SEC (the robot's 安全设置 › 加签); leave secret out if the robot uses a keyword or an IP allow-list instead", what)
			}
		}
		if t, ok := d.scalar(fs["scope"].val, "scope of "+what); ok && strings.TrimSpace(t.s) != "" {
			r.Scope = strings.TrimSpace(t.s)
			d.notes.dingtalk.scopes = append(d.notes.dingtalk.scopes, robotScope{robot: r.Name, t: t})
		}
		if c := fs["cards"]; c.line != 0 && !isNull(c.val) {
			r.Cards = d.boolean(c.val, "cards of "+what)
		}
		out = append(out, r)
	}
	return out
}

// robotWebhook reports whether s is an http(s) URL with an access_token.
func robotWebhook(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.Query().Get("access_token") != ""
}

// envName is a robot's name as a part of a variable's name.
func envName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// robotScope is the scope of a robot, checked once every project is known.
type robotScope struct {
	robot string
	t     text
}

// dingtalkNotes is what the checks need of the dingtalk: section.
type dingtalkNotes struct {
	line   int // the line of dingtalk:; 0 when there is none
	scopes []robotScope
}

// dingtalkGroup decodes the dingtalk_group of a project.
func (d *decoder) dingtalkGroup(n *yaml.Node, project string) text {
	t, ok := d.scalar(n, "dingtalk_group of project "+project)
	if t.s = strings.TrimSpace(t.s); !ok || t.s == "" {
		return text{}
	}
	d.conversation(t, "dingtalk_group "+t.shown()+" of project "+project)
	return t
}

// dingtalkNames checks, once every project is known, the scopes of the
// robots and that every project's deploy cards reach a group once the app
// is configured.
func (d *decoder) dingtalkNames(cfg *Config) {
	dir := cfg.Directory()
	for _, s := range d.notes.dingtalk.scopes {
		if _, err := dir.ParseScope(s.t.s); err != nil {
			d.addf(s.t.line, "robot %s of dingtalk.robots: %s", s.robot, err)
		}
	}
	dt := cfg.DingTalk
	for i, p := range cfg.Projects {
		g := d.notes.projects[i].dingtalkGroup
		switch {
		case g.s != "" && !dt.Enabled() && dt.ClientSecret == "":
			d.addf(g.line, "project %s has a dingtalk_group, but dingtalk has no client_id, so nothing would post to that group; add client_id and client_secret to dingtalk, or remove dingtalk_group", p.Name)
		case g.s == "" && dt.Enabled() && dt.DefaultGroup == "":
			d.addf(d.notes.projects[i].line, "project %s has no dingtalk_group and dingtalk.default_group is not set, so its deploy cards would not reach DingTalk; add dingtalk_group: to the project or default_group: to dingtalk", p.Name)
		}
	}
}

// digestChannels checks that every digest's channel has a chat to go
// through: Slack for a Slack channel, the DingTalk app for
// dingtalk:<openConversationId>, a robot of dingtalk.robots for
// dingtalk-robot:<name>.
func (d *decoder) digestChannels(cfg *Config) {
	var robots []string
	for _, r := range cfg.DingTalk.Robots {
		robots = append(robots, r.Name)
	}
	for _, t := range d.notes.dashboards.channels {
		what := "channel " + t.shown() + " of dashboards.digest.channels"
		platform, dest := DigestPlatform(t.s)
		switch platform {
		case DigestSlack:
			if !cfg.Slack.Enabled() {
				d.addf(t.line, "%s is a Slack channel, but ferry has no slack: section to post to it; add a slack: section, or send the digest to DingTalk as dingtalk:<openConversationId> or dingtalk-robot:<robot name>", what)
			}
		case DigestDingTalk:
			switch {
			case !strings.HasPrefix(dest, "cid"):
				d.addf(t.line, "%s does not name a DingTalk group: write dingtalk:<openConversationId>, which starts with cid; %s", what, dingtalkGroupHelp)
			case !cfg.DingTalk.Enabled():
				d.addf(t.line, "%s posts through the DingTalk app, but dingtalk has no client_id; add client_id and client_secret to dingtalk, or send the digest through a robot as dingtalk-robot:<robot name>", what)
			}
		case DigestDingTalkRobot:
			switch {
			case dest == "":
				d.addf(t.line, "%s names no robot: write dingtalk-robot:<name> with the name of one of dingtalk.robots", what)
			case len(robots) == 0:
				d.addf(t.line, "%s names a robot, but dingtalk has no robots; add it under dingtalk.robots with its name and webhook", what)
			case !contains(robots, dest):
				d.missing(text{s: dest, line: t.line, fromEnv: t.fromEnv}, what+" names no robot of dingtalk.robots", robots,
					"name one of "+strings.Join(robots, ", ")+", or add the robot under dingtalk.robots")
			}
		}
	}
}
