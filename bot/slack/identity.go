package slack

import (
	"context"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// actor is who a Slack user acts as (see bot.Accounts); known is false
// for someone ferry does not know.
func (a *Adapter) actor(ctx context.Context, slackID string) (pipeline.Actor, bool, error) {
	return a.accounts.Actor(ctx, platform, slackID)
}

// slackID returns the Slack ID of a ferry user: from ferry.yaml, else their
// newest link; "" when they have none.
func (a *Adapter) slackID(ctx context.Context, user string) string {
	return a.accounts.ChatID(ctx, platform, user)
}

// linkReply answers the link command with a one-time address on the web
// console, to the person alone.
func (a *Adapter) linkReply(r request) bot.Reply {
	if !a.accounts.Linking() {
		return bot.Reply{Text: "Linking is not set up on this ferry: ask an admin to add your Slack ID (" + r.user + ") to ferry.yaml as chat: {slack: " + r.user + "}.", Ephemeral: true}
	}
	return bot.Reply{Text: bot.LinkText(a.accounts.LinkAddress(platform, r.user, r.team)), Ephemeral: true}
}

// unknownReply tells someone ferry does not know how to become known.
func unknownReply(linking bool) bot.Reply {
	text := "ferry does not know who you are in Slack yet, so it did nothing. "
	if linking {
		text += "Say /ferry link to link your Slack account to your ferry user, or ask an admin to add your Slack ID to ferry.yaml."
	} else {
		text += "Ask an admin to add your Slack ID to ferry.yaml (users.<you>.chat.slack)."
	}
	return bot.Reply{Text: text, Error: true, Ephemeral: true, Kind: bot.KindForbidden}
}
