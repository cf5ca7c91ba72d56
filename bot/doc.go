// Package bot is what ferry understands and what it says, independent of any
// chat platform: the one command grammar for every chat and for pull request
// comments, and the message model that chat adapters (bot/slack,
// bot/dingtalk, bot/web) and the CLI render.
//
// # Commands
//
//	deploy <project> [<ref>] to <env> [force]
//	rollback <project> <env> [to <release>] [force]
//	approve <deploy> | reject <deploy> [reason...]
//	continue <deploy> | pause <deploy> | cancel <deploy> | resume <deploy>
//	lock <project|*> <env> [for <duration>] [reason...] | unlock <project|*> <env>
//	promote <project> <from-env> to <to-env>
//	status [<project>] | history <project> [<env>] | whoami | help [<command>]
//	digest preview [<scope>]
//
// Parse reads a chat message and ParsePR a pull request comment, where
// "/ferry deploy <env>" and "/ferry rollback <env>" name no project: the
// caller fills it in from the pull request. A leading "/ferry", "@ferry" or
// "ferry" is dropped. Words are separated by white space; a word in quotes
// ("..." or “...”) may hold spaces and is never a keyword, so a reason can be
// quoted and a project named "to" can still be deployed. <deploy> is a deploy
// number, 12 or #12; a duration is a Go duration with days added ("30m",
// "2h", "1d"). Commands and keywords are case-insensitive; names are not.
// Errors are *ParseError and read as a sentence with the usage of the command
// meant, so adapters show them as they are. Command.String writes a command
// back in the grammar; it is what a button's text command is made of.
//
// # Messages
//
// NewCard turns a deploy and its rows (units, approvals, logs) into a Card:
// title, versions, state, progress, the units in their batches, approvals,
// the tail of the log, and the Actions its state allows, each with the text
// command it stands for, so a button and a typed command take one path
// through the parser and the policy. Reply is the answer to any command: a
// text, cards, or a Table for status and history. RenderText, RenderTable
// and RenderReply render them as plain text; every chat renders the same
// values in its own format. These are pure: no I/O, time is an input.
//
// # Inbox and outbox
//
// What comes in and what goes out is durable. An Inbox stores each delivery
// of a platform before it is acknowledged and handles it from the store,
// once. A Dispatcher delivers the outbox: the notices the engine's
// subscribers wrote in the commit of each change, handed to each platform's
// Sink with the deploy's current card, one at a time per destination,
// folded into the latest, retried with backoff and Retry-After, and marked
// dead after its give-up time for an admin to retry.
package bot
