package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// Subscriber is what Slack is owed when a deploy changes: its card, posted
// once and then edited in place, and, when the deploy ends, a direct
// message to its requester. It needs nothing: the Adapter's Deliver decides
// the channel and the people.
type Subscriber struct{}

var (
	_ pipeline.Subscriber = Subscriber{}
	_ pipeline.Announcer  = Subscriber{}
	_ bot.Sink            = (*Adapter)(nil)
	_ bot.Pacer           = (*Adapter)(nil)
)

// Notices implements pipeline.Subscriber.
func (Subscriber) Notices(d pipeline.Deploy) []pipeline.Notice {
	ns := []pipeline.Notice{{Platform: platform, Dest: fmt.Sprint("card ", d.ID), Kind: "card", Latest: true, DeployID: d.ID, State: d.State}}
	if d.State.Done() {
		ns = append(ns, pipeline.Notice{Platform: platform, Dest: fmt.Sprint("dm ", d.ID), Kind: "dm", DeployID: d.ID, State: d.State})
	}
	return ns
}

// Announce implements pipeline.Announcer: news of a project goes to its
// channel.
func (Subscriber) Announce(an pipeline.Announcement) []pipeline.Notice {
	b, _ := json.Marshal(an)
	return []pipeline.Notice{{Platform: platform, Dest: "announce " + an.Project, Kind: "announce", Payload: b}}
}

// announce posts an announcement in its project's channel, or the default
// one.
func (a *Adapter) announce(ctx context.Context, payload []byte) error {
	var an pipeline.Announcement
	if err := json.Unmarshal(payload, &an); err != nil {
		return bot.Permanent(fmt.Errorf("an announcement that does not decode: %w", err))
	}
	channel := a.channelOf(an.Project)
	if channel == "" {
		return nil // nowhere to say it, as for cards
	}
	msg := announceMessage(an.Text)
	_, _, err := a.api.PostMessageContext(ctx, channel, slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks...))
	if err != nil {
		return fmt.Errorf("chat.postMessage of an announcement to %s: %w", channel, err)
	}
	return nil
}

// Pace implements bot.Pacer: a card is edited at most once per
// Config.UpdateEvery.
func (a *Adapter) Pace() time.Duration { return a.every }

// Deliver implements bot.Sink: it posts or edits a deploy's card (ref is
// its "channel ts"), sends a requester their direct message, or posts a
// digest.
func (a *Adapter) Deliver(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	var err error
	switch o.Kind {
	case "card":
		ref, err = a.sendCard(ctx, o.Card, ref)
	case "dm":
		err = a.tellRequester(ctx, o.Card, o.State)
	case "digest":
		err = a.sendDigest(ctx, o.Payload)
	case "announce":
		err = a.announce(ctx, o.Payload)
	default:
		err = bot.Permanent(fmt.Errorf("slack delivers no %q notices", o.Kind))
	}
	return ref, slackError(err)
}

// slackError says when a failed call may be tried again: after a rate
// limit's Retry-After, never when Slack refuses what was asked.
func slackError(err error) error {
	var limited *slackapi.RateLimitedError
	var refused slackapi.SlackErrorResponse
	switch {
	case err == nil:
		return nil
	case errors.As(err, &limited):
		return bot.RetryAfter(limited.RetryAfter, err)
	case errors.As(err, &refused) && slices.Contains([]string{"channel_not_found", "not_in_channel", "is_archived",
		"invalid_auth", "account_inactive", "token_revoked", "missing_scope", "invalid_blocks"}, refused.Err):
		return bot.Permanent(err)
	}
	return err
}

// sendCard posts a deploy's card, or edits it where ref says it is, and
// returns where it is.
func (a *Adapter) sendCard(ctx context.Context, card bot.Card, ref string) (string, error) {
	msg := cardMessage(a.cardInput(ctx, card))
	channel, ts, ok := strings.Cut(ref, " ")
	if !ok {
		return a.postCard(ctx, card, msg)
	}
	_, _, _, err := a.api.UpdateMessageContext(ctx, channel, ts, slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks...))
	if isGone(err) { // deleted by someone: post it again
		a.log.InfoContext(ctx, "slack: card gone, posting it again", "platform", platform, "deploy_id", card.DeployID)
		return a.postCard(ctx, card, msg)
	}
	if err != nil {
		return ref, fmt.Errorf("chat.update of deploy %d: %w", card.DeployID, err)
	}
	return ref, nil
}

// postCard posts the first card of a deploy in its project's channel, or
// the default one, and returns where it is.
func (a *Adapter) postCard(ctx context.Context, card bot.Card, msg message) (string, error) {
	channel := a.channelOf(card.Project)
	if channel == "" {
		return "", bot.Permanent(fmt.Errorf("deploy %d: project %s has no channel and there is no default channel; set slack.default_channel or the project's channel", card.DeployID, card.Project))
	}
	ch, ts, err := a.api.PostMessageContext(ctx, channel, slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks...))
	if err != nil {
		return "", fmt.Errorf("chat.postMessage of deploy %d to %s: %w", card.DeployID, channel, err)
	}
	return ch + " " + ts, nil
}

// isGone reports whether chat.update failed because the message is gone.
func isGone(err error) bool {
	var e slackapi.SlackErrorResponse
	return errors.As(err, &e) && (e.Err == "message_not_found" || e.Err == "channel_not_found")
}

// tellRequester sends the requester of a deploy that ended (in state: the
// deploy may have moved on since) a direct message, if their Slack ID is
// known.
func (a *Adapter) tellRequester(ctx context.Context, card bot.Card, state pipeline.State) error {
	user := a.slackID(ctx, card.Requester)
	if user == "" {
		return nil
	}
	card.State = state
	if err := a.dm(ctx, user, dmMessage(card)); err != nil {
		return fmt.Errorf("the requester of deploy %d: %w", card.DeployID, err)
	}
	return nil
}

// dm sends a Slack user a direct message.
func (a *Adapter) dm(ctx context.Context, user string, msg message) error {
	dm, ok := a.dms.Load(user)
	if !ok {
		ch, _, _, err := a.api.OpenConversationContext(ctx, &slackapi.OpenConversationParameters{Users: []string{user}})
		if err != nil {
			return fmt.Errorf("conversations.open: %w", err)
		}
		dm = ch.ID
		a.dms.Store(user, ch.ID)
	}
	if _, _, err := a.api.PostMessageContext(ctx, dm.(string), slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks...)); err != nil {
		return fmt.Errorf("direct message: %w", err)
	}
	return nil
}

// channelOf is the channel of a project's cards and news: its own, or
// the default one; "" for none.
func (a *Adapter) channelOf(project string) string {
	if p, ok := a.project(project); ok && p.Channel != "" {
		return p.Channel
	}
	return a.channel
}

// project is the configured project of that name.
func (a *Adapter) project(name string) (pipeline.Project, bool) {
	for _, p := range a.projects.Projects() {
		if p.Name == name {
			return p, true
		}
	}
	return pipeline.Project{}, false
}

// cardInput adds to a card what Slack shows of people: the requester and,
// while it awaits approval, who may approve it, as mentions.
func (a *Adapter) cardInput(ctx context.Context, c bot.Card) cardInput {
	in := cardInput{Card: c, Requester: escape(c.Requester)}
	if id := a.slackID(ctx, c.Requester); id != "" {
		in.Requester = "<@" + id + ">"
	}
	users, anyone := bot.WaitingFor(a.projects.Projects(), a.users, c)
	in.AnyoneBut = anyone
	for _, name := range users {
		if id := a.slackID(ctx, name); id != "" {
			in.Approvers = append(in.Approvers, "<@"+id+">")
		}
	}
	return in
}
