package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProblems parses each file of testdata/problems and expects exactly
// the listed problems, in line order.
func TestProblems(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unknown_key.yaml", []string{
			`1: unknown key "listn" at the top level; did you mean "listen"?`,
			`4: unknown key "admn" in user alice; did you mean "admin"?`,
			`8: unknown key "colour" in project demo; allowed: channel, dingtalk_group, environments, promotions, repo`,
			`11: unknown key "brnches" in environment staging; did you mean "branches"?`,
			`13: unknown key "contnue" in strategy of environment staging; did you mean "continue"?`,
			`14: unknown key "requird" in approvals of environment staging; did you mean "required"?`,
		}},
		{"types.yaml", []string{
			`1: listen must be a single value, not a mapping`,
			`4: admin of user alice must be true or false, not "yes"`,
			`5: teams of user alice must be a list, e.g. [a, b], not "ops"`,
			`11: branches of environment staging must be a list, e.g. [a, b], not "^main$"`,
			`12: auto of environment staging must be true or false, not "1"`,
			`14: strategy of environment staging must be a mapping (key: value), not a list`,
			`15: lock_ttl of environment staging must be a single value, not a list`,
			`16: approvals.required of environment staging must be a whole number, not "two"`,
			`17: an item of deployers of environment staging must be a single value, not a list`,
		}},
		{"regex.yaml", []string{
			"6: bad regexp \"^(main$\" in branches of environment staging: error parsing regexp: missing closing ): `^(main$`",
			`6: branches of environment staging has an empty rule, which matches every name; write '.*' if that is what you mean`,
			"7: bad regexp \"v[0-9+\" in tags of environment staging: error parsing regexp: missing closing ]: `[0-9+`",
		}},
		{"durations.yaml", []string{
			`7: strategy.bake of environment staging must be a duration like 30s, 5m, 2h or 7d, not "30"`,
			`8: lock_ttl of environment staging must be a duration like 30s, 5m, 2h or 7d, not "-1h"`,
			`9: approvals.expire of environment staging must be a duration like 30s, 5m, 2h or 7d, not "1x"`,
		}},
		{"batches.yaml", []string{
			`9: strategy.batches of environment staging: "0" is not a batch size; write a number of units (1 or more) or a percentage (above 0% and at most 100%)`,
			`10: strategy.batches of environment staging: "150%" is not a batch size; write a number of units (1 or more) or a percentage (above 0% and at most 100%)`,
			`12: strategy.batches of environment staging must increase: "10%" comes after "50%"; sizes are cumulative, e.g. [1, 50%, 100%]`,
			`14: strategy.batches of environment staging must increase: "1" comes after "2"; sizes are cumulative, e.g. [1, 50%, 100%]`,
			`16: strategy.batches of environment staging: "5" comes after 100%, which already reaches every unit; remove it`,
			`17: strategy.continue of environment staging must be auto or manual, not "sometimes"`,
			`18: strategy.parallel of environment staging must be 0 or more, not "-1"`,
			`19: strategy.max_failed_units of environment staging must be a whole number, not "x"`,
			`22: strategy.batches of environment prod is empty; list the sizes, e.g. [1, 50%, 100%], or remove it to deploy every unit at once`,
		}},
		{"approvals.yaml", []string{
			`12: approvals.required of environment staging must be 0 or more, not "-1"`,
			`16: approvals.required of environment prod is 2, but approvals.from lets only 1 person approve (alice); lower it or add approvers to approvals.from`,
			`17: approvals.from of environment prod names "opps", which is neither a user nor a team; did you mean "ops"?`,
			`17: approvals.from of environment prod names "carol", which is neither a user nor a team; add it under users: or teams:`,
			`18: deployers of environment prod names "bobb", which is neither a user nor a team; did you mean "bob"?`,
			`21: approvals.required of environment qa is 3, but there are only 2 users to approve (alice, bob); lower it or add users`,
		}},
		{"teams.yaml", []string{
			`3: user alice is in team "opps", which is not declared under teams:; did you mean "ops"?`,
			`3: user alice is in team "qa", which is not declared under teams:; declare it there`,
			`7: team ops lists member "carl", who is not a user; add them under users:`,
			`8: team bob has the name of a user; rename one of them, or approvals.from and deployers cannot tell them apart`,
		}},
		{"secrets.yaml", []string{
			`1: session_secret is shorter than 32 characters; make one with: openssl rand -hex 32`,
			`4: password_hash of user alice is not a bcrypt hash ($2a$10$ and 53 more characters); make one with: htpasswd -nbBC 10 '' PASSWORD | cut -d: -f2`,
			`5: a token of user alice is shorter than 16 characters; make one with: openssl rand -hex 32`,
			`8: a token of user bob is also a token of user alice (line 5); every token must be unique`,
			`9: a token of user bob is empty; set its variable, or remove it`,
		}},
		{"target.yaml", []string{
			`5: environment staging has no target: add target: with a type (kubernetes, local, ssh), e.g. target: {type: local}`,
			`8: target of environment qa has no type: add type: with one of kubernetes, local, ssh`,
			`10: unknown target type "lcoal" in environment prod; did you mean "local"?`,
			`12: target of environment dev must be a mapping (key: value), not "local"`,
		}},
		{"projects.yaml", []string{
			`2: project demo has no repo: add repo: with a git URL or a path relative to this file`,
			`4: project demo has no environments: add one under environments:, e.g. staging: {target: {type: local}}`,
			`5: project web has no environments: add one under environments:, e.g. staging: {target: {type: local}}`,
			`10: environment name "pro d" must be letters, digits, '.', '_' or '-', starting with a letter or digit`,
			`12: project name "my project" must be letters, digits, '.', '_' or '-', starting with a letter or digit`,
		}},
		{"overlap.yaml", []string{
			`10: branch "main" matches both staging (^main$) and prod (^ma.*$); make the rules disjoint`,
			`11: tag "v-rc" matches both staging (^v.*-rc[0-9]*$) and prod (^v.*); make the rules disjoint`,
		}},
		{"env.yaml", []string{
			`1: ${FERRY_LISTEN} is not set: export it or use ${FERRY_LISTEN:-default}`,
			`4: ${ALICE_TOKEN} is not set: export it or use ${ALICE_TOKEN:-default}`,
			`8: unterminated "${": close it with "}", or write "$${" for a literal "${"`,
			`11: "${1ROOT}" is not a variable reference: a name is letters, digits and _, not starting with a digit; write "$${" for a literal "${"`,
		}},
		{"identities.yaml", []string{
			`3: unknown chat platform "slak" in chat of user alice; did you mean "slack"?`,
			`6: chat.web of user bob is empty; give the user's ID there, or remove the line`,
			`6: chat.slack of user bob is "U1", which user alice has too (line 3); an identity belongs to one user`,
			`7: unknown forge platform "bitbucket" in forge of user bob; allowed: gitee, github, gitlab`,
			`7: forge.github of user bob is "al", which user alice has too (line 4); an identity belongs to one user`,
		}},
		{"refs.yaml", []string{
			`7: default_ref "main" of environment staging matches none of its branch or tag rules, so a deploy that names no ref would be refused; name a ref the rules take`,
			`10: auto of environment dev deploys pushes of matching refs, but it has no branches or tags; add branches: ['^main$'], or remove auto`,
		}},
		{"syntax.yaml", []string{
			`3: invalid YAML: did not find expected ',' or ']'; inside [...] or {...} quote a value with a variable, e.g. ["${TOKEN}"]`,
		}},
		{"duplicate.yaml", []string{
			`7: duplicate key "staging" in environments of project demo; it is first at line 5`,
			`9: duplicate key "repo" in project demo; it is first at line 3`,
		}},
		{"empty.yaml", []string{
			`the file is empty; it needs at least projects:`,
		}},
		{"misc.yaml", []string{
			`2: user name "ferry" is reserved: the audit log records ferry's own actions under it; choose another name`,
			`11: a merge (<<) into strategy of environment dev must be a mapping (key: value), not "5"`,
			`12: a second YAML document starts here; ferry.yaml holds one`,
		}},
		{"slack.yaml", []string{
			`2: slack.bot_token is not a bot token: those start with xoxb- (find it under OAuth & Permissions)`,
			`3: slack.app_token is not an app-level token: those start with xapp- (find it under Basic Information › App-Level Tokens)`,
			`4: unknown key "default_chanel" in slack; did you mean "default_channel"?`,
			`10: project api has no channel and slack.default_channel is not set, so its deploy cards would not reach Slack; add channel: to the project or default_channel: to slack`,
		}},
		{"slack_empty.yaml", []string{
			`1: slack has no bot_token: add bot_token: ${SLACK_BOT_TOKEN} with the app's bot token (xoxb-…, OAuth & Permissions)`,
			`1: slack needs signing_secret (for the HTTP routes, Basic Information › App Credentials) or app_token (for Socket Mode, Basic Information › App-Level Tokens), or both`,
		}},
		{"github.yaml", []string{
			`1: github has no webhook_secret: add webhook_secret: ${GITHUB_WEBHOOK_SECRET} with the secret set on the webhook (or the App's Webhook secret)`,
			`3: github.app_id must be the App's numeric ID (General › About on the App's settings page), not "twelve"`,
			`4: github.base_url must be a GitHub Enterprise API URL, e.g. https://github.example.com/api/v3/, not "github.example.com"`,
			`5: unknown key "privat_key" in github; did you mean "private_key"?`,
		}},
		{"dashboards.yaml", []string{
			`2: dashboards.production names environment "prdo", which no project has; did you mean "prod"?`,
			`3: dashboards.failure_window must be a duration like 30s, 5m, 2h or 7d, not "soon"`,
			`4: dashboards.opt_out names "alcie", who is not a user; did you mean "alice"?`,
			`5: dashboards.timezone must be a time zone name like Europe/Berlin, Asia/Shanghai or UTC, not "Mars/Olympus"`,
			`7: schedule "every monday" is not a cron expression of five fields (minute hour day-of-month month weekday), like "0 10 * * 1" for Mondays at 10:00`,
			`9: channel "#deploys" of dashboards.digest.channels is a Slack channel, but ferry has no slack: section to post to it; add a slack: section, or send the digest to DingTalk as dingtalk:<openConversationId> or dingtalk-robot:<robot name>`,
			`10: channel "#payments" of dashboards.digest.channels is a Slack channel, but ferry has no slack: section to post to it; add a slack: section, or send the digest to DingTalk as dingtalk:<openConversationId> or dingtalk-robot:<robot name>`,
			`11: scope "team:nobody": no team is called "nobody"; teams: none`,
			`14: channel 3 of dashboards.digest.channels names no channel: give a Slack channel ID like C0123 or a name like #deploys, or dingtalk:<openConversationId> or dingtalk-robot:<robot name> for DingTalk`,
		}},
		{"github_empty.yaml", []string{
			`1: github has no webhook_secret: add webhook_secret: ${GITHUB_WEBHOOK_SECRET} with the secret set on the webhook (or the App's Webhook secret)`,
			`1: github needs app_id and private_key together to act as a GitHub App (General › About and Private keys on the App's settings page)`,
		}},
		{"github_repo.yaml", []string{
			`4: github.redeliver_interval needs app_id and private_key: GitHub lists the deliveries of an App to the App only; remove it, or set up the App`,
			`9: github.repo_config.allow: "environments.stagin.tags" names environment stagin, which no project has; did you mean "staging"?`,
			`10: github.repo_config.allow: "environments.*.deployers" can never be allowed: a repository cannot change who may deploy`,
			`11: github.repo_config.allow: "environments.*.strategy.bak" is not a key a repository can set; did you mean "strategy.bake"?`,
			`12: github.repo_config.allow: "deploy.branches" is not a key of .ferry.yaml; write environments.<env>.<key>, e.g. environments.*.branches`,
		}},
		{"github_app.yaml", []string{
			`5: github.redeliver_interval is 30s; make it a minute or more (GitHub rate-limits the listing), or 0 to turn redelivery off`,
			`12: url "https://{{.Branch}}.example.com" of environment staging: it uses {{.Branch}}, which is not one of them; it may use {{.Project}}, {{.Env}}, {{.Version}}, {{.Ref}}, {{.Commit}} and {{.ID}}`,
			`15: url "{{.Env}}.example.com" of environment qa must give an http:// or https:// URL with a host, e.g. https://{{.Env}}.example.com`,
			`18: environment preview of project demo is optional, but no forge has repo_config, so no repository can add it; add repo_config: {} under github: (or gitlab:, gitee:), or remove optional`,
			`19: url "https://{{.Env}.example.com" of environment preview: it is not a valid template (template: url:1: bad character U+007D '}'); it may use {{.Project}}, {{.Env}}, {{.Version}}, {{.Ref}}, {{.Commit}} and {{.ID}}`,
		}},
		{"github_noapi.yaml", []string{
			`3: github.repo_config needs API access to read a repository's .ferry.yaml: add token, or app_id and private_key`,
		}},
		{"forges.yaml", []string{
			`1: gitlab has no webhook_secret: add webhook_secret: ${GITLAB_WEBHOOK_SECRET} with the Secret token set on the webhook (Settings › Webhooks)`,
			`2: gitlab.signing_token must be the webhook's Signing token as GitLab shows it, starting with whsec_`,
			`3: gitlab.base_url must be the address of a self-managed GitLab, e.g. https://gitlab.example.com, not "gitlab.example.com"`,
			`4: gitlab.repo_config needs API access to read a repository's .ferry.yaml: add token`,
			`4: gitlab.repo_config.allow: "environments.*.brnches" is not a key a repository can set; did you mean "branches"?`,
			`5: unknown key "tokn" in gitlab; did you mean "token"?`,
			`8: unknown key "signing_token" in gitee; allowed: base_url, repo_config, token, webhook_secret`,
			`9: gitee.repo_config needs API access to read a repository's .ferry.yaml: add token`,
		}},
		{"server.yaml", []string{
			`no projects: add one under projects:, with a repo and environments`,
			`1: listen must be host:port, e.g. 127.0.0.1:8080 or :8080, not "8080"`,
			`2: base_url must be an http:// or https:// URL with a host, e.g. https://ferry.example.com, not "ferry.example.com"`,
		}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			got := problemsOf(t, filepath.Join("problems", tt.file), nil)
			var want []string
			for _, w := range tt.want {
				if w[0] >= '0' && w[0] <= '9' {
					want = append(want, tt.file+":"+w)
				} else {
					want = append(want, tt.file+": "+w)
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// problemsOf parses testdata/name, named by its base name, and returns its
// problems as printed.
func problemsOf(t *testing.T, name string, vars map[string]string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loader(vars).Parse(filepath.Base(name), data, "/etc/ferry")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse(%s) = %v, %v; want Problems", name, cfg, err)
	}
	if got, want := len(strings.Split(err.Error(), "\n")), len(ps); got != want {
		t.Errorf("Error() has %d lines for %d problems", got, want)
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return lines
}

// loader expands variables from vars only.
func loader(vars map[string]string) Loader {
	return Loader{LookupEnv: func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}}
}
