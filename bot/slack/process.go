package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// responseURLTTL is how long Slack takes answers at a response URL.
const responseURLTTL = 30 * time.Minute

// handle runs the requests of a delivery from the inbox.
func (a *Adapter) handle(ctx context.Context, d pipeline.Delivery) string {
	var stored []storedRequest
	if err := json.Unmarshal(d.Body, &stored); err != nil {
		return "unreadable: " + err.Error()
	}
	late := a.clock.Now().Sub(d.Received) > responseURLTTL
	for _, s := range stored {
		r := s.request()
		if late { // its response URL has expired: answer in a direct message
			r.responseURL, r.late = "", true
		}
		a.process(ctx, r)
	}
	return fmt.Sprintf("answered %d request(s)", len(stored))
}

// process runs one request as the person who made it and answers them.
func (a *Adapter) process(ctx context.Context, r request) {
	reply, confirm := a.answer(ctx, r)
	if r.kind == "action" && !reply.Error {
		// The card in the channel shows what the click did; tell only the
		// person who clicked, in a line.
		reply = bot.Reply{Text: reply.Text, Ephemeral: true}
	}
	msg := replyMessage(reply)
	if confirm != nil {
		msg = confirmMessage(*confirm)
	}
	err := a.respond(ctx, r, reply.Ephemeral || reply.Error || confirm != nil, msg)
	if err != nil && (r.responseURL != "" || r.late) {
		// The answer cannot go where it was asked for (ferry restarted and
		// the response URL expired, say): what was asked is done all the
		// same, and the person is told so directly.
		err = a.tellLate(ctx, r, msg)
	}
	if err != nil {
		a.logErr(ctx, "answer", err, "actor", r.user, "command", firstWord(r.text))
	}
}

// tellLate answers a request in a direct message, saying why it comes
// there.
func (a *Adapter) tellLate(ctx context.Context, r request, msg message) error {
	note := fmt.Sprintf("ferry answers `%s` here: it could not answer where you asked (it restarted, or the answer link expired). What you asked was done:", strings.ReplaceAll(r.text, "`", "'"))
	blocks := append([]slackapi.Block{slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, escape(note), false, false), nil, nil)}, msg.Blocks...)
	return a.dm(ctx, r.user, message{Text: note + " " + msg.Text, Blocks: blocks})
}

// answer decides what to say to a request: a reply, or a command to
// confirm before it runs.
func (a *Adapter) answer(ctx context.Context, r request) (bot.Reply, *bot.Command) {
	cmd, err := bot.Parse(r.text)
	if err != nil {
		return bot.Reply{Text: err.Error(), Error: true, Ephemeral: true, Kind: bot.KindInvalid}, nil
	}
	if cmd.Verb == bot.VerbLink {
		return a.linkReply(r), nil
	}
	actor, known, err := a.actor(ctx, r.user)
	if err != nil {
		a.logErr(ctx, "identify", err, "actor", r.user)
		return bot.Reply{Text: "ferry could not tell who you are because of an internal error; it is in ferry's log.", Error: true, Ephemeral: true, Kind: bot.KindInternal}, nil
	}
	if !known && cmd.Verb != bot.VerbHelp {
		return unknownReply(a.accounts.Linking()), nil
	}
	if !r.confirmed && a.dangerous(cmd) {
		return bot.Reply{Ephemeral: true}, &cmd
	}
	reply := a.bot.Do(ctx, actor, cmd)
	if reply.Kind == bot.KindInternal {
		a.log.ErrorContext(ctx, "slack: command failed", append(cmd.LogArgs(), "platform", platform, "actor", actor.Name)...)
	}
	return reply, nil
}

// dangerous reports whether a command typed in Slack must be confirmed
// first: anything forced, and a rollback of a production environment.
func (a *Adapter) dangerous(c bot.Command) bool {
	if c.Force {
		return true
	}
	if c.Verb != bot.VerbRollback {
		return false
	}
	if p, ok := a.project(c.Project); ok {
		if env, ok := p.Env(c.Env); ok {
			return production(env)
		}
	}
	return false
}

// production reports whether an environment is one people treat as
// production: it needs approvals, or it is called so.
func production(env pipeline.Environment) bool {
	name := strings.ToLower(env.Name)
	return env.Approvals.Required > 0 || strings.HasPrefix(name, "prod") || name == "prd" || name == "live"
}

// respond sends a reply where the request came from: to its response URL,
// or, for a mention, into the channel's thread (in public) or to the person
// alone (ephemeral).
func (a *Adapter) respond(ctx context.Context, r request, ephemeral bool, msg message) error {
	if r.late {
		return errors.New("too late to answer where it was asked")
	}
	if r.responseURL != "" {
		hook := &slackapi.WebhookMessage{Text: msg.Text, Blocks: &slackapi.Blocks{BlockSet: msg.Blocks}, ResponseType: slackapi.ResponseTypeInChannel}
		if ephemeral {
			hook.ResponseType = slackapi.ResponseTypeEphemeral
		}
		return a.call(ctx, "response_url", func() error {
			return slackapi.PostWebhookCustomHTTPContext(ctx, r.responseURL, a.http, hook)
		})
	}
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks...), slackapi.MsgOptionTS(r.threadTS)}
	if ephemeral {
		return a.call(ctx, "chat.postEphemeral", func() error {
			_, err := a.api.PostEphemeralContext(ctx, r.channel, r.user, opts...)
			return err
		})
	}
	return a.call(ctx, "chat.postMessage", func() error {
		_, _, err := a.api.PostMessageContext(ctx, r.channel, opts...)
		return err
	})
}

// call makes one call to Slack, waiting out rate limits (429 with
// Retry-After) up to callAttempts tries.
func (a *Adapter) call(ctx context.Context, method string, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		var limited *slackapi.RateLimitedError
		if !errors.As(err, &limited) || attempt == callAttempts {
			if err != nil {
				return fmt.Errorf("%s: %w", method, err)
			}
			return nil
		}
		a.log.WarnContext(ctx, "slack: rate limited", "platform", platform, "method", method, "retry_after", limited.RetryAfter)
		if err := a.sleep(ctx, limited.RetryAfter); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
	}
}

// sleep waits d on the adapter's clock, or until ctx ends.
func (a *Adapter) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-a.clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return strings.TrimPrefix(f[0], "/")
}
