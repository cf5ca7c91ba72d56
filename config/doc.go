// Package config reads ferry.yaml: where ferry listens and keeps its state,
// the users and teams it knows, and the projects with their environments,
// routing rules, targets, rollout strategies and approval policies. It
// produces the pipeline types (pipeline.Project, pipeline.User, ...) and
// does no other I/O than reading the file.
//
// # Format
//
//	listen: 127.0.0.1:8080            # default 127.0.0.1:8080
//	storage: var/ferry.db             # SQLite file; default ferry.db; or postgres://… (needs session_secret)
//	# or storage: {path: …, retention: {bodies: 24h, deliveries: 7d}, lease: 15s}
//	#   lease: how long a replica holds a running deploy, and the schedules, without renewing
//	workspace: var/workspace          # build workspace; default workspace
//	base_url: https://ferry.example.com   # for links in messages; default http://<listen>
//	session_secret: ${FERRY_SESSION_SECRET}   # 32+ characters; generated at start if empty
//	metrics:                          # optional; default: GET /metrics on listen, open to all
//	  listen: 127.0.0.1:9090          # serve /metrics here instead, and not on listen
//	  token: ${FERRY_METRICS_TOKEN}   # 16+ characters: require Authorization: Bearer <token>
//	slack:                            # optional: the Slack app ferry runs as
//	  bot_token: ${SLACK_BOT_TOKEN}   # xoxb-…, required
//	  signing_secret: ${SLACK_SIGNING_SECRET}   # for POST /chat/slack/...; or:
//	  app_token: ${SLACK_APP_TOKEN}   # xapp-…, for Socket Mode (no public URL)
//	  default_channel: "#deploys"     # cards of projects without a channel
//	dingtalk:                         # optional: DingTalk (钉钉)
//	  client_id: ${DINGTALK_CLIENT_ID}           # the enterprise-internal app's (企业内部应用) AppKey
//	  client_secret: ${DINGTALK_CLIENT_SECRET}   # its AppSecret, required with client_id
//	  robot_code: ${DINGTALK_CLIENT_ID}          # the app's robotCode; default client_id, which it is
//	  mode: stream                    # stream (default, no public address) or http (POST /chat/dingtalk)
//	  card_template_id: 8f3c….schema   # interactive cards; default ActionCards that link to the console
//	  default_group: cidXk0gDqk7dB==  # openConversationId of the group for cards of projects without dingtalk_group
//	  api_url: https://api.dingtalk.com          # the default; for a dedicated DingTalk or a proxy
//	  robots:                         # custom group robots (自定义机器人): they only receive
//	    - name: ops                   # digests name it dingtalk-robot:ops
//	      webhook: ${DINGTALK_OPS_WEBHOOK}   # https://oapi.dingtalk.com/robot/send?access_token=…
//	      secret: ${DINGTALK_OPS_SECRET}     # 加签, SEC…; leave out for a keyword or IP allow-list
//	      scope: team:ops             # whose deploy cards it gets, as a digest's scope; default all
//	      cards: true                 # the default; false: digests only
//	github:                           # optional: GitHub's webhook (POST /hooks/github) and API
//	  webhook_secret: ${GITHUB_WEBHOOK_SECRET}   # required
//	  token: ${GITHUB_TOKEN}          # API calls with a token; or, as a GitHub App:
//	  app_id: 12345
//	  private_key: github-app.pem     # a path, or the PEM itself
//	  base_url: https://github.example.com/api/v3/   # GitHub Enterprise Server; default github.com
//	  redeliver_interval: 10m         # App only: redeliver failed deliveries; default 10m, 0: never
//	  repo_config:                    # read each repository's .ferry.yaml (see RepoProject)
//	    allow: [environments.*.branches, environments.staging.strategy.*]
//	gitlab:                           # optional: GitLab's webhook (POST /hooks/gitlab) and API
//	  webhook_secret: ${GITLAB_WEBHOOK_SECRET}   # the hook's Secret token, required
//	  signing_token: ${GITLAB_SIGNING_TOKEN}     # whsec_…: verify webhook-signature too
//	  token: ${GITLAB_TOKEN}          # personal, project or group access token (api scope)
//	  base_url: https://gitlab.example.com       # self-managed; default gitlab.com
//	  repo_config: {allow: [environments.*.branches]}
//	gitee:                            # optional: Gitee's webhook (POST /hooks/gitee) and API v5
//	  webhook_secret: ${GITEE_WEBHOOK_SECRET}    # the WebHook's password or signing key, required
//	  token: ${GITEE_TOKEN}           # personal access token
//	  base_url: https://gitee.example.com/api/v5 # self-hosted; default gitee.com
//	  repo_config: {allow: [environments.*.branches]}
//	users:
//	  alice:
//	    admin: true
//	    teams: [ops]                  # teams must be declared under teams:
//	    password_hash: $2a$10$...     # bcrypt, for the web console
//	    tokens: ["${ALICE_TOKEN}"]    # API tokens, 16+ characters, unique
//	    chat: {slack: U123, dingtalk: "0987", web: alice}   # dingtalk: the userId (a message's senderStaffId)
//	    forge: {github: alice-gh, gitlab: alice, gitee: alice}
//	dashboards:                       # optional: how the DORA metrics count, where digests go
//	  digest:
//	    channels:                     # Slack (C0123, #name), dingtalk:<openConversationId>, dingtalk-robot:<name>
//	      - "#deploys"
//	      - dingtalk:cidXk0gDqk7dB==
//	      - {channel: "dingtalk-robot:ops", scope: team:ops, schedule: "0 9 * * 1"}
//	teams:
//	  ops: {}
//	  dev: {members: [bob]}           # members may be listed here, on the users, or both
//	projects:
//	  demo:
//	    repo: ./demo-repo             # a git URL (https://..., git@host:path) or a local path
//	    channel: "#deploys"
//	    dingtalk_group: cidQ2bWq9pT1c==   # its DingTalk group's openConversationId; default dingtalk.default_group
//	    environments:
//	      staging:
//	        branches: ['^main$']      # regexps; an environment without rules takes any ref by hand
//	        tags: ['^v[0-9.]+-rc$']
//	        default_ref: main         # default: the branch a sole ^literal$ rule names
//	        auto: true                # deploy pushes of matching refs
//	        target: {type: local, root: var/hosts/staging}   # type: local, ssh or kubernetes;
//	                                  # the other keys are the driver's parameters
//	        strategy: {batches: [1, 50%, 100%], bake: 30s, continue: manual,
//	                   max_failed_units: 0, auto_rollback: true, parallel: 4}
//	        approvals: {required: 1, from: [alice, ops], expire: 1h}   # or approvals: 1
//	        deployers: [ops]          # default: every user
//	        lock_ttl: 2h
//	        url: https://{{.Env}}.example.com   # template: .Project .Env .Version .Ref .Commit .ID
//	        optional: true            # a forge routes to it only where a repository's .ferry.yaml adds it
//	      prod: {target: {type: local, root: var/hosts/prod}}   # no rules: takes what is promoted
//	    promotions:                   # what succeeded in from moves on to to, exactly
//	      - {from: staging, to: prod, when: healthy, soak: 30m}
//	      - {from: prod, to: prod-eu, schedule: "0 14 * * 1-5", timezone: Europe/Berlin}
//	freezes:                          # deploys and promotions refused while a window is open
//	  - {name: year-end, envs: [prod], from: "2026-12-20T00:00:00+01:00", until: "2027-01-04T00:00:00+01:00", reason: year-end}
//	  - {name: weekends, envs: ["*/prod"], schedule: "0 18 * * 5", duration: 62h, timezone: Europe/Berlin, rollbacks: false}
//
// Relative paths (storage, workspace, a local repo, and the target
// parameters that are paths on the ferry host: root of local, key and
// known_hosts of ssh, kubeconfig of kubernetes) are resolved
// against the directory of the file. Durations are Go durations, with d
// for days (7d, 1d12h). Without a strategy a deploy reaches every unit at
// once ([100%], continue auto); without approvals none are required. Keys
// starting with x- are ignored at every level, so they can hold YAML
// anchors for merge keys (<<: *canary).
//
// # A repository's .ferry.yaml
//
// With a forge's repo_config (github.repo_config, gitlab.repo_config,
// gitee.repo_config: each forge's own), a repository's .ferry.yaml narrows
// the environments of its project, and adds the optional ones, for the
// events of that repository; RepoProject reads it, and repo.go states its
// rules.
//
// # Variables and secrets
//
// Every scalar value may use ${VAR} or ${VAR:-default} (default when VAR is
// unset or empty); $${ is a literal ${. Inside [...] or {...} such a value
// must be quoted. A value that came from a variable is never shown in a
// message, so secrets stay out of logs and terminals. The values of the
// slack: section, the secrets of the github:, gitlab: and gitee: sections,
// and dingtalk's client_secret and its robots' webhooks (the access_token
// is in them) and secrets are never shown at all, wherever they come from,
// and their String methods leave them out.
//
// # DingTalk
//
// dingtalk: configures an enterprise-internal app, whose robot ferry runs
// as (client_id and client_secret), custom group robots that only receive
// (robots), or both. With the app, every project's deploy cards need a
// group: its dingtalk_group or dingtalk.default_group, each an
// openConversationId (cid…), which is the conversationId of a message the
// robot receives in the group. A digest's channel goes to Slack, unless it
// is dingtalk:<openConversationId> (through the app) or
// dingtalk-robot:<name> (through that robot); DigestPlatform tells them
// apart.
//
// # Problems
//
// Parse reports every problem at once, as Problems: one line each, the
// file and line it is on, what is wrong and how to fix it.
//
// Validation also looks for a branch or tag that two environments of one
// project would both take. That check works by example: it generates names
// each rule matches and tries them on the other rules (see overlap.go). An
// overlap it reports is real, with a name that shows it; an overlap it does
// not find may still exist.
package config
