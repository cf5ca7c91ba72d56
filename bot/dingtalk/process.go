package dingtalk

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// handle runs a delivery from the inbox: a command said to the robot, or a
// button pressed on a card.
func (a *Adapter) handle(ctx context.Context, d pipeline.Delivery) string {
	switch d.Event {
	case "message":
		var m message
		if err := json.Unmarshal(d.Body, &m); err != nil {
			return "unreadable: " + err.Error()
		}
		return a.answerMessage(ctx, m)
	case "card":
		var c click
		if err := json.Unmarshal(d.Body, &c); err != nil {
			return "unreadable: " + err.Error()
		}
		return a.answerClick(ctx, c)
	}
	return "ignored: a " + d.Event
}

// answerMessage runs a command as the person who said it and answers in
// the conversation it was said in.
func (a *Adapter) answerMessage(ctx context.Context, m message) string {
	reply, private := a.answer(ctx, m)
	title, text := replyMarkdown(reply)
	var err error
	if private && m.group() {
		// A link address is for the person alone: to their 1:1 chat
		// with the robot, and a word in the group.
		if err = a.api.directSend(ctx, a.robotCode, []string{m.Sender}, markdownMessage(title, text)); err == nil {
			err = a.say(ctx, m, "ferry", "I sent you a direct message.")
		}
	} else {
		err = a.say(ctx, m, title, text)
	}
	if err != nil {
		a.logErr(ctx, "answer", err, "actor", m.Sender, "delivery", m.ID)
		return "not answered: " + oneLine(err.Error())
	}
	return "answered"
}

// answer decides what to say to a message; private is true when only the
// person who asked may see it.
func (a *Adapter) answer(ctx context.Context, m message) (reply bot.Reply, private bool) {
	cmd, err := bot.Parse(m.command())
	if err != nil {
		return bot.Reply{Text: err.Error(), Error: true, Kind: bot.KindInvalid}, false
	}
	if cmd.Verb == bot.VerbLink {
		if !a.accounts.Linking() {
			return bot.Reply{Text: "Linking is not set up on this ferry: ask an admin to add your DingTalk userId (" + m.Sender + ") to ferry.yaml as chat: {dingtalk: \"" + m.Sender + "\"}."}, false
		}
		return bot.Reply{Text: bot.LinkText(a.accounts.LinkAddress(platform, m.Sender, m.Corp))}, true
	}
	actor, known, err := a.accounts.Actor(ctx, platform, m.Sender)
	if err != nil {
		a.logErr(ctx, "identify", err, "actor", m.Sender)
		return bot.Reply{Text: "ferry could not tell who you are because of an internal error; it is in ferry's log.", Error: true, Kind: bot.KindInternal}, false
	}
	if !known && cmd.Verb != bot.VerbHelp {
		return unknownReply(a.accounts.Linking()), false
	}
	reply = a.bot.Do(ctx, actor, cmd)
	if reply.Kind == bot.KindInternal {
		a.log.ErrorContext(ctx, "dingtalk: command failed", append(cmd.LogArgs(), "platform", platform, "actor", actor.Name)...)
	}
	return reply, false
}

// unknownReply tells someone ferry does not know how to become known.
func unknownReply(linking bool) bot.Reply {
	text := "ferry does not know who you are in DingTalk yet, so it did nothing. "
	if linking {
		text += "Say link to ferry to link your DingTalk account to your ferry user, or ask an admin to add your DingTalk userId to ferry.yaml."
	} else {
		text += "Ask an admin to add your DingTalk userId to ferry.yaml (users.<you>.chat.dingtalk)."
	}
	return bot.Reply{Text: text, Error: true, Kind: bot.KindForbidden}
}

// say answers in the conversation of a message: to its session webhook
// while DingTalk takes answers there, otherwise through the OpenAPI (the
// group's robot messages, or the person's 1:1 chat). An error in a group
// @-mentions the person.
func (a *Adapter) say(ctx context.Context, m message, title, text string) error {
	var at *atBody
	if m.group() && m.Sender != "" {
		text += "\n\n@" + m.Sender
		at = &atBody{AtUserIDs: []string{m.Sender}}
	}
	if m.SessionWebhook != "" && a.clock.Now().Before(time.UnixMilli(m.SessionExpires)) {
		err := postWebhook(ctx, a.http, m.SessionWebhook, sessionMessage{MsgType: "markdown", Markdown: &markdownBody{Title: title, Text: text}, At: at})
		if err == nil {
			return nil
		}
		a.logErr(ctx, "answer through the session webhook; through the OpenAPI instead", err, "delivery", m.ID)
	}
	if m.group() {
		return a.api.groupSend(ctx, a.robotCode, m.Conversation, markdownMessage(title, text))
	}
	return a.api.directSend(ctx, a.robotCode, []string{m.Sender}, markdownMessage(title, text))
}

// answerClick runs what a card's button stands for as the person who
// pressed it. The card changes through the outbox when the deploy does; a
// refusal is told to that person alone.
func (a *Adapter) answerClick(ctx context.Context, c click) string {
	id, ok := deployOf(c.OutTrackID)
	if !ok {
		return "ignored: a card ferry did not make"
	}
	actor, known, err := a.accounts.Actor(ctx, platform, c.UserID)
	var reply bot.Reply
	switch {
	case err != nil:
		a.logErr(ctx, "identify", err, "actor", c.UserID)
		reply = bot.Reply{Text: "ferry could not tell who you are because of an internal error; it is in ferry's log.", Error: true}
	case !known:
		reply = unknownReply(a.accounts.Linking())
	default:
		reply = a.press(ctx, actor, id, bot.ActionID(c.action()))
	}
	if !reply.Error {
		return "pressed " + c.action() + " on deploy " + strconv.FormatInt(id, 10)
	}
	if err := a.tellClicker(ctx, c, reply.Text); err != nil {
		a.logErr(ctx, "tell who pressed a button", err, "actor", c.UserID, "deploy_id", id)
	}
	return "refused: " + oneLine(reply.Text)
}

// press runs the command a deploy's button stands for now: a button of an
// old card that the deploy no longer offers is refused, not guessed at.
func (a *Adapter) press(ctx context.Context, actor pipeline.Actor, id int64, action bot.ActionID) bot.Reply {
	card, err := a.bot.Card(ctx, id)
	if err != nil {
		return bot.Reply{Text: fmt.Sprintf("deploy #%d: %v", id, err), Error: true}
	}
	for _, act := range card.Actions {
		if act.ID != action {
			continue
		}
		cmd, err := bot.Parse(act.Command)
		if err != nil {
			return bot.Reply{Text: err.Error(), Error: true}
		}
		return a.bot.Do(ctx, actor, cmd)
	}
	return bot.Reply{Text: fmt.Sprintf("deploy #%d is %s now: %s is not something it can do; the card shows what it can.", id, words(string(card.State)), action), Error: true}
}

// tellClicker tells the person who pressed a button why nothing
// happened: on the card, where only they see it (the template's private
// notice), else in their 1:1 chat with the robot.
func (a *Adapter) tellClicker(ctx context.Context, c click, text string) error {
	if a.template != "" {
		err := a.api.call(ctx, "PUT", "/v1.0/card/instances", updateCard{
			OutTrackID:  c.OutTrackID,
			PrivateData: map[string]cardParams{c.UserID: {CardParamMap: map[string]string{"notice": "⛔ " + text}}},
			Options:     map[string]bool{"updatePrivateDataByKey": true},
		}, nil)
		if err == nil {
			return nil
		}
		a.logErr(ctx, "private card notice; sending a direct message instead", err, "actor", c.UserID)
	}
	title, body := replyMarkdown(bot.Reply{Text: text, Error: true})
	return a.api.directSend(ctx, a.robotCode, []string{c.UserID}, markdownMessage(title, body))
}

// outTrackID names a deploy's card: its ID and when it was created, so
// that a ferry started on a new database never edits an old card.
func outTrackID(d pipeline.Deploy) string {
	return fmt.Sprintf("ferry-%d-%d", d.ID, d.CreatedAt.Unix())
}

// deployOf reads the deploy of a card's outTrackId.
func deployOf(outTrackID string) (int64, bool) {
	rest, ok := strings.CutPrefix(outTrackID, "ferry-")
	if !ok {
		return 0, false
	}
	id, _, _ := strings.Cut(rest, "-")
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}

// oneLine keeps text on one line for outcomes and logs.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
