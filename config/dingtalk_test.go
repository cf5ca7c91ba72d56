package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var dingtalkEnv = map[string]string{
	"DINGTALK_CLIENT_ID":     "dingq8zx1ek4not5ecret",
	"DINGTALK_CLIENT_SECRET": "app-secret-do-not-print-0123456789",
	"DINGTALK_OPS_WEBHOOK":   "https://oapi.dingtalk.com/robot/send?access_token=ops-token-do-not-print",
	"DINGTALK_OPS_SECRET":    "SEC-robot-secret-do-not-print",
}

const dingtalkFull = `dingtalk:
  client_id: ${DINGTALK_CLIENT_ID}
  client_secret: ${DINGTALK_CLIENT_SECRET}
  robot_code: dingrobot42
  mode: http
  card_template_id: 8f3c2a.schema
  default_group: cidDEFAULT==
  api_url: https://dingtalk-proxy.example.com/
  robots:
    - name: ops
      webhook: ${DINGTALK_OPS_WEBHOOK}
      secret: ${DINGTALK_OPS_SECRET}
      scope: team:ops
    - name: all-digests
      webhook: https://oapi.dingtalk.com/robot/send?access_token=plain-token-do-not-print
      cards: false
users:
  alice: {teams: [ops], chat: {dingtalk: "manager4220"}}
teams:
  ops: {}
dashboards:
  digest:
    channels:
      - dingtalk:cidDIGEST==
      - {channel: "dingtalk-robot:ops", scope: team:ops, schedule: "0 9 * * 1"}
      - dingtalk-robot:all-digests
projects:
  demo:
    repo: ./demo
    dingtalk_group: cidDEMO==
    environments: {dev: {target: {type: local}}}
  api:
    repo: ./api
    environments: {dev: {target: {type: local}}}
`

func TestDingTalkSection(t *testing.T) {
	cfg, err := loader(dingtalkEnv).Parse("ferry.yaml", []byte(dingtalkFull), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	want := DingTalk{
		ClientID: dingtalkEnv["DINGTALK_CLIENT_ID"], ClientSecret: dingtalkEnv["DINGTALK_CLIENT_SECRET"],
		RobotCode: "dingrobot42", Mode: DingTalkHTTP, CardTemplateID: "8f3c2a.schema",
		DefaultGroup: "cidDEFAULT==", APIURL: "https://dingtalk-proxy.example.com",
		Robots: []DingTalkRobot{
			{Name: "ops", Webhook: dingtalkEnv["DINGTALK_OPS_WEBHOOK"], Secret: dingtalkEnv["DINGTALK_OPS_SECRET"], Scope: "team:ops", Cards: true},
			{Name: "all-digests", Webhook: "https://oapi.dingtalk.com/robot/send?access_token=plain-token-do-not-print"},
		},
		Groups: map[string]string{"demo": "cidDEMO=="},
	}
	if !reflect.DeepEqual(cfg.DingTalk, want) {
		t.Errorf("DingTalk =\n%+v\nwant\n%+v", cfg.DingTalk, want)
	}
	if !cfg.DingTalk.Enabled() || (DingTalk{}).Enabled() {
		t.Error("Enabled is wrong")
	}
	var channels []string
	for _, g := range cfg.Dashboards.Digests {
		channels = append(channels, g.Channel)
	}
	if got := strings.Join(channels, " "); got != "dingtalk:cidDIGEST== dingtalk-robot:ops dingtalk-robot:all-digests" {
		t.Errorf("digest channels = %s", got)
	}
	if u, ok := cfg.UserByChat("dingtalk", "manager4220"); !ok || u.Name != "alice" {
		t.Errorf("UserByChat(dingtalk, manager4220) = %v, %v", u.Name, ok)
	}
}

// TestDingTalkDefaults: an app with only its credentials and a default
// group gets its robotCode, mode and OpenAPI filled in.
func TestDingTalkDefaults(t *testing.T) {
	const data = `dingtalk:
  client_id: dingabc
  client_secret: s
  default_group: cidALL==
projects:
  demo: {repo: ./demo, environments: {dev: {target: {type: local}}}}
`
	cfg, err := loader(nil).Parse("ferry.yaml", []byte(data), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	want := DingTalk{ClientID: "dingabc", ClientSecret: "s", RobotCode: "dingabc", Mode: DingTalkStream,
		DefaultGroup: "cidALL==", APIURL: DefaultDingTalkAPIURL}
	if !reflect.DeepEqual(cfg.DingTalk, want) {
		t.Errorf("DingTalk = %#v, want %#v", cfg.DingTalk, want)
	}
	none, err := loader(nil).Parse("ferry.yaml", []byte("dingtalk:\n"+data[strings.Index(data, "projects:"):]), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(none.DingTalk, DingTalk{}) {
		t.Errorf("an empty dingtalk: gives %#v, want the zero DingTalk", none.DingTalk)
	}
}

// TestDingTalkRobotsOnly: robots without an app are a DingTalk ferry
// posts to, and projects need no dingtalk_group.
func TestDingTalkRobotsOnly(t *testing.T) {
	const data = `dingtalk:
  robots:
    - name: ops
      webhook: https://oapi.dingtalk.com/robot/send?access_token=abc
projects:
  demo: {repo: ./demo, environments: {dev: {target: {type: local}}}}
dashboards:
  digest: {channels: ["dingtalk-robot:ops"]}
`
	cfg, err := loader(nil).Parse("ferry.yaml", []byte(data), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	want := DingTalk{Robots: []DingTalkRobot{{Name: "ops", Webhook: "https://oapi.dingtalk.com/robot/send?access_token=abc", Cards: true}}}
	if !reflect.DeepEqual(cfg.DingTalk, want) || cfg.DingTalk.Enabled() {
		t.Errorf("DingTalk = %#v, want %#v, not enabled", cfg.DingTalk, want)
	}
}

func TestDingTalkProblems(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"dingtalk.yaml", []string{
			`1: dingtalk has client_id but no client_secret: add client_secret: ${DINGTALK_CLIENT_SECRET} with the app's AppSecret (Client Secret, 凭证与基础信息 on the app's page at open-dev.dingtalk.com)`,
			`3: dingtalk.mode must be stream (ferry connects to DingTalk, no public address needed) or http (DingTalk calls POST /chat/dingtalk), not "steam"; did you mean "stream"?`,
			`4: dingtalk.api_url must be an http:// or https:// URL with a host, e.g. https://api.dingtalk.com, not "api.dingtalk.com"`,
			`5: dingtalk.default_group "oc123" is not an openConversationId: those start with cid; use the group's openConversationId, e.g. the conversationId of a message the robot receives in the group`,
			`6: unknown key "card_templat_id" in dingtalk; did you mean "card_template_id"?`,
			`10: dingtalk_group "123" of project demo is not an openConversationId: those start with cid; use the group's openConversationId, e.g. the conversationId of a message the robot receives in the group`,
		}},
		{"dingtalk_groups.yaml", []string{
			`9: project api has no dingtalk_group and dingtalk.default_group is not set, so its deploy cards would not reach DingTalk; add dingtalk_group: to the project or default_group: to dingtalk`,
		}},
		{"dingtalk_robots.yaml", []string{
			`2: dingtalk.mode is for the app, and dingtalk has no client_id: add client_id and client_secret, or remove mode`,
			`7: robot ops of dingtalk.robots: scope "team:nobody": no team is called "nobody"; teams: none`,
			`8: robot ops of dingtalk.robots has the name of the robot at line 4; give each robot its own name`,
			`10: robot 3 of dingtalk.robots has no name: add name:, e.g. name: ops; digests name it as dingtalk-robot:<name>`,
			`11: name "Ops Team" of robot 4 of dingtalk.robots must be lowercase letters, digits, '_' or '-', starting with a letter or digit`,
			`13: robot noweb of dingtalk.robots has no webhook: add webhook: ${DINGTALK_NOWEB_WEBHOOK}; copy the Webhook address DingTalk shows when the robot is added, https://oapi.dingtalk.com/robot/send?access_token=…`,
			`14: unknown key "secert" in robot 5 of dingtalk.robots; did you mean "secret"?`,
			`16: webhook of robot badweb of dingtalk.robots is not a robot's Webhook address with an access_token: copy the Webhook address DingTalk shows when the robot is added, https://oapi.dingtalk.com/robot/send?access_token=…`,
			`17: secret of robot badweb of dingtalk.robots is not a 加签 secret: those start with SEC (the robot's 安全设置 › 加签); leave secret out if the robot uses a keyword or an IP allow-list instead`,
			`18: cards of robot badweb of dingtalk.robots must be true or false, not "maybe"`,
			`19: robot 7 of dingtalk.robots must be a mapping with name: and webhook:, not "just-a-string"`,
			`23: project demo has a dingtalk_group, but dingtalk has no client_id, so nothing would post to that group; add client_id and client_secret to dingtalk, or remove dingtalk_group`,
		}},
		{"dingtalk_empty.yaml", []string{
			`1: dingtalk has neither an app nor robots: add client_id and client_secret for the app ferry runs as (凭证与基础信息 on the app's page at open-dev.dingtalk.com), or robots: with the custom robots that receive notifications, or both`,
		}},
		{"dingtalk_secret.yaml", []string{
			`1: dingtalk has client_secret but no client_id: add client_id: ${DINGTALK_CLIENT_ID} with the app's AppKey (Client ID, 凭证与基础信息 on the app's page at open-dev.dingtalk.com)`,
		}},
		{"dingtalk_digest.yaml", []string{
			`8: channel "dingtalk:cidAAA==" of dashboards.digest.channels posts through the DingTalk app, but dingtalk has no client_id; add client_id and client_secret to dingtalk, or send the digest through a robot as dingtalk-robot:<robot name>`,
			`9: channel "dingtalk:oc123" of dashboards.digest.channels does not name a DingTalk group: write dingtalk:<openConversationId>, which starts with cid; use the group's openConversationId, e.g. the conversationId of a message the robot receives in the group`,
			`10: channel "dingtalk-robot:opps" of dashboards.digest.channels names no robot of dingtalk.robots; did you mean "ops"?`,
			`12: channel "dingtalk-robot:" of dashboards.digest.channels names no robot: write dingtalk-robot:<name> with the name of one of dingtalk.robots`,
			`13: channel 6 of dashboards.digest.channels is read as a mapping with the key dingtalk, because of the space after the colon; write "dingtalk:<openConversationId>" with no space, in quotes`,
			`14: channel "#deploys" of dashboards.digest.channels is a Slack channel, but ferry has no slack: section to post to it; add a slack: section, or send the digest to DingTalk as dingtalk:<openConversationId> or dingtalk-robot:<robot name>`,
			`15: channel "dingtalk-robot:nobody" of dashboards.digest.channels names no robot of dingtalk.robots; name one of ops, or add the robot under dingtalk.robots`,
		}},
		{"dingtalk_nochat.yaml", []string{
			`3: channel "dingtalk-robot:ops" of dashboards.digest.channels names a robot, but dingtalk has no robots; add it under dingtalk.robots with its name and webhook`,
			`3: channel "dingtalk:cidAAA==" of dashboards.digest.channels posts through the DingTalk app, but dingtalk has no client_id; add client_id and client_secret to dingtalk, or send the digest through a robot as dingtalk-robot:<robot name>`,
		}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			got := problemsOf(t, filepath.Join("problems", tt.file), nil)
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = tt.file + ":" + w
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestDingTalkSecretsNeverShown: neither printing the section nor the
// problems of bad secrets show a secret or a webhook's token.
func TestDingTalkSecretsNeverShown(t *testing.T) {
	cfg, err := loader(dingtalkEnv).Parse("ferry.yaml", []byte(dingtalkFull), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{dingtalkEnv["DINGTALK_CLIENT_SECRET"], "ops-token-do-not-print", "plain-token-do-not-print", "robot-secret-do-not-print", "access_token"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{cfg.DingTalk, cfg.DingTalk.Robots, cfg.DingTalk.Robots[0], *cfg, cfg} {
			out := fmt.Sprintf(format, v)
			for _, secret := range secrets {
				if strings.Contains(out, secret) {
					t.Errorf("%s of %T shows a DingTalk secret: %s", format, v, out)
				}
			}
		}
	}
	wantString := `{client_id: "dingq8zx1ek4not5ecret", client_secret: set, robot_code: "dingrobot42", mode: http, card_template_id: "8f3c2a.schema", default_group: "cidDEFAULT==", api_url: "https://dingtalk-proxy.example.com", ` +
		`robots: [ops: {webhook: set, secret: set, scope: "team:ops", cards: true}, all-digests: {webhook: set, secret: unset, scope: "", cards: false}], groups: {demo: "cidDEMO=="}}`
	if got := cfg.DingTalk.String(); got != wantString {
		t.Errorf("String() =\n%s\nwant\n%s", got, wantString)
	}
	if got := cfg.DingTalk.GoString(); got != "config.DingTalk"+wantString {
		t.Errorf("GoString() = %s", got)
	}
	if got, want := cfg.DingTalk.Robots[0].GoString(), `config.DingTalkRobot{name: "ops", webhook: set, secret: set, scope: "team:ops", cards: true}`; got != want {
		t.Errorf("robot GoString() = %s, want %s", got, want)
	}

	// Bad secrets, from variables and written out, are named, never shown.
	vars := map[string]string{"HOOK": "http://oapi.dingtalk.com/robot/send?token=hook-do-not-print", "SIGN": "sign-do-not-print"}
	bad := `dingtalk:
  client_secret: client-secret-do-not-print
  robots:
    - {name: a, webhook: "${HOOK}", secret: "${SIGN}"}
    - {name: b, webhook: "oapi.dingtalk.com/robot/send?token=written-do-not-print", secret: written-sign-do-not-print}
projects:
  demo: {repo: ./demo, environments: {dev: {target: {type: local}}}}
`
	_, err = loader(vars).Parse("ferry.yaml", []byte(bad), "/etc/ferry")
	if err == nil {
		t.Fatal("Parse succeeded; want problems")
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 5 {
		t.Errorf("%d problems, want 5 (client_id, two webhooks, two secrets):\n%v", n, err)
	}
	if strings.Contains(err.Error(), "do-not-print") {
		t.Errorf("problems show a secret:\n%v", err)
	}
}

func TestDigestPlatform(t *testing.T) {
	tests := []struct{ channel, platform, dest string }{
		{"#deploys", DigestSlack, "#deploys"},
		{"C0123", DigestSlack, "C0123"},
		{"dingtalk:cidAbC==", DigestDingTalk, "cidAbC=="},
		{"dingtalk-robot:ops", DigestDingTalkRobot, "ops"},
		{"dingtalk-robot:", DigestDingTalkRobot, ""},
		{"DingTalk:cid1", DigestSlack, "DingTalk:cid1"},
	}
	for _, tt := range tests {
		if p, d := DigestPlatform(tt.channel); p != tt.platform || d != tt.dest {
			t.Errorf("DigestPlatform(%q) = %q, %q; want %q, %q", tt.channel, p, d, tt.platform, tt.dest)
		}
	}
	if DigestSlack != "slack" || DigestDingTalk != "dingtalk" || DigestDingTalkRobot != "dingtalk-robot" {
		t.Error("the platforms' names changed")
	}
}
