// Package github hears ferry's GitHub webhooks. It is built on
// github.com/google/go-github (imported as gh) for parsing payloads.
//
// # Ingress
//
//	POST /hooks/github
//
// The body is capped at 25 MiB, GitHub's own limit for a payload (413
// beyond). X-Hub-Signature-256 must be "sha256=" + hex(HMAC-SHA256(secret,
// body)), compared in constant time; a request without a valid one gets 401
// and nothing is stored. A ping gets 200. Events ferry does not act on get
// 200 and are dropped. The others are stored in the inbox (bot.Inbox) under
// their X-GitHub-Delivery, body and signature included, before GitHub gets
// its 200: a redelivery is acknowledged and ignored, and so is the same body
// under a new ID within a day (a replay). Processing runs on the inbox's
// workers, owned by Run; what a stopped ferry acknowledged and did not
// process is processed when it starts again.
//
// # Pushes
//
// A push is matched to every configured project whose repo names the same
// repository (its clone, SSH or web URL, or owner/name). Its ref is routed
// with pipeline.RouteRef; when the environment it routes to is auto, ferry
// requests a deploy of the pushed branch or tag. A ref that routes nowhere,
// a non-auto environment and a deleted ref are logged and ignored.
//
// The deploy is requested as the ferry user whose users.forge.github is the
// pusher's login. A pusher ferry does not know acts as the system actor
// "github": not an admin, in no team, so environments that name their
// deployers refuse it (the refusal is stored and audited like any other),
// and environments open to anyone deploy. Link the people who push to
// protected environments in ferry.yaml.
//
// A tag pushed to GitHub arrives twice: as a push of refs/tags/<tag> and as
// a create event. The push deploys it (it carries the commit and the
// pusher); the create event is routed and logged only, so a tag never
// deploys twice.
//
// # Pull request comments
//
// With a Bot and API access, a new comment on an open pull request that
// starts with /ferry (bot.Addressed) is read with bot.ParsePR and run as
// its author, who must have write (or admin) permission on the repository
// (asked of the API on each command) and be linked in ferry.yaml
// (users.forge.github); help needs neither. "/ferry deploy <env>" deploys
// the pull request's head branch, read from the API; a branch in a fork is
// refused. ferry answers every command in its one sticky comment on the
// pull request (found by a marker, <!-- ferry -->, and edited; added when
// there is none), mentioning the author: what was done, or why nothing was.
// A deploy asked for on the pull request (by comment, label or review)
// keeps it as its origin, and is followed: each change of its state
// rewrites the sticky comment with its card, through the outbox. Comments that do not address
// ferry cost no API call.
//
// # A repository's .ferry.yaml
//
// With a RepoConfig, pushes, deploy labels and /ferry deploy read the
// repository's .ferry.yaml at the event's commit (the pushed commit, the
// pull request's head) through the contents API, once per commit, and
// route and request with the project as it makes it (config.RepoProject):
// environments narrowed, optional ones added. The narrowed environment
// goes with the request (pipeline.Request.Override), which the engine
// checks again. A ref the file routes to an environment whose rules in
// ferry.yaml do not take it routes nowhere. A file ferry refuses deploys
// nothing: a push marks its commit with the error status ferry/config, a
// label or command is answered with the problems, key, line and why, and
// a pull request whose new head has one is told so at once.
//
// # Missed deliveries
//
// As an App, ferry redelivers the deliveries GitHub failed to make and it
// did not store; see redeliver.go.
//
// # Statuses
//
// Each deploy sets the commit status ferry/<env> and keeps a GitHub
// Deployment with a status per change, whose environment_url is the
// environment's url: and log_url the deploy's page (see postDeployment).
// Both are notices of the outbox (Subscriber, Deliver): retried, folded into
// the latest state, and delivered after a restart; the Deployment's ID and
// the App installation of each repository are kept in the store.
package github
