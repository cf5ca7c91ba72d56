// Package slack runs ferry from Slack: the /ferry slash command, @ferry
// mentions, and a live Block Kit card per deploy with the buttons its state
// allows, over HTTP or Socket Mode. It is built on github.com/slack-go/slack
// (imported as slackapi) for the Web API, Block Kit and Socket Mode.
//
// # Ingress
//
//	POST /chat/slack/commands      the slash command: /ferry <command>
//	POST /chat/slack/interactions  buttons on cards and confirmations
//	POST /chat/slack/events        app_mention (@ferry <command>) and url_verification
//
// Every request is verified before anything is stored: its body is capped at
// 64 KiB (413 past that), and its X-Slack-Signature must be the v0 HMAC-SHA256
// of "v0:<timestamp>:<body>" under the signing secret, compared in constant
// time, with a timestamp within 5 minutes of the adapter's clock (401
// otherwise). The requests it carries are then stored in the inbox (bot.Inbox:
// an event by its event_id, a command or a click by its trigger_id) so that a
// retry is acknowledged and ignored, and Slack gets its 200 at once. The
// command runs on the inbox's workers, owned by Run; one a restart cut off
// runs when ferry starts again. The answer goes to the response_url (or, for
// a mention, into the channel's thread), errors only to the person who
// asked; past the response_url's 30 minutes it is a direct message.
//
// With an app-level token (xapp-…) the adapter also opens a Socket Mode
// connection (slack-go's socketmode client, which reconnects when Slack
// says disconnect or the connection dies): the same commands, buttons and
// mentions arrive as envelopes, each acknowledged once as it arrives, and
// take the same path from there.
//
// # Identity
//
// A Slack user acts as the ferry user whose chat.slack in ferry.yaml is
// their ID or, failing that, the user they linked with "/ferry link": the
// answer is a one-time address on ferry's web console (a token signed with
// the link key, naming the Slack user and workspace, valid 10 minutes) where
// the person signs in and confirms; the Adapter is the console's Linker.
// Anyone else is told how to link. A button acts with the rights of whoever
// presses it, through the same parser and policy as a typed command; a
// refusal is explained to that person alone and the card does not change.
// A rollback of a production environment (one that needs approvals, or is
// named like prod) or a forced command typed in Slack first asks for
// confirmation with a button behind a Block Kit confirm dialog; the card's
// dangerous buttons (Action.Confirm) carry their own confirm dialog.
//
// # Cards
//
// The Adapter is the outbox's Slack sink. Each change of a deploy owes Slack
// a notice (Subscriber), written in the change's commit; the dispatcher
// (bot.Dispatcher) hands it to Deliver with the deploy's current card, which
// is posted (chat.postMessage, in the project's channel or the default one)
// or edited in place (chat.update). Notices that wait fold into one edit,
// since only the latest card matters; edits of one card are at least
// Config.UpdateEvery apart (Pace). A 429 holds every Slack notice for its
// Retry-After, in the store; other failures are retried with backoff and
// never reach the engine. Where each card is (channel and ts) is kept in
// the outbox, so a restarted ferry edits the same message. When a deploy
// ends, its requester gets a direct message. Cards awaiting approval mention
// the people who may approve it. Scheduled digests go through the outbox too
// (Digests).
package slack
