package slack

import (
	"context"
	"log/slog"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// runSocket keeps a Socket Mode connection open until ctx ends. slack-go's
// client reconnects by itself when Slack asks (a disconnect envelope) or the
// connection dies; when it gives up (a refused token, say) a new client is
// started after a backoff.
func (a *Adapter) runSocket(ctx context.Context) {
	const minBackoff, maxBackoff = time.Second, 5 * time.Minute
	backoff := minBackoff
	for ctx.Err() == nil {
		smc := socketmode.New(a.api, socketmode.OptionLog(slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)))
		done := make(chan error, 1)
		go func() { done <- smc.RunContext(ctx) }()
		err := a.socketEvents(ctx, smc, done)
		if ctx.Err() != nil {
			return
		}
		a.logErr(ctx, "socket mode stopped; starting again", err, "backoff", backoff)
		if a.sleep(ctx, backoff) != nil {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// socketEvents handles a client's events until it stops.
func (a *Adapter) socketEvents(ctx context.Context, smc *socketmode.Client, done <-chan error) error {
	for {
		select {
		case err := <-done:
			return err
		case ev := <-smc.Events:
			a.socketEvent(ctx, smc, ev)
		}
	}
}

// socketEvent acknowledges an envelope as soon as it arrives, once, and
// hands what it asks to the same path as HTTP.
func (a *Adapter) socketEvent(ctx context.Context, smc *socketmode.Client, ev socketmode.Event) {
	switch ev.Type {
	case socketmode.EventTypeConnected:
		a.log.InfoContext(ctx, "slack: socket mode connected", "platform", platform)
		return
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage:
		a.log.WarnContext(ctx, "slack: socket mode", "platform", platform, "event", ev.Type)
		return
	}
	if ev.Request == nil || ev.Request.EnvelopeID == "" {
		return
	}
	ackCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := smc.AckCtx(ackCtx, ev.Request.EnvelopeID, nil)
	cancel()
	if err != nil {
		a.logErr(ctx, "socket mode ack", err, "delivery", ev.Request.EnvelopeID)
	}
	var reqs []request
	var delivery string
	switch data := ev.Data.(type) {
	case slackapi.SlashCommand:
		var req request
		req, delivery = commandRequest(data)
		reqs = []request{req}
	case slackapi.InteractionCallback:
		reqs, delivery = actionRequests(data)
	case slackevents.EventsAPIEvent:
		if req, id, ok := mentionRequest(data); ok {
			reqs, delivery = []request{req}, id
		}
	}
	if len(reqs) == 0 {
		return
	}
	if delivery == "" {
		delivery = "envelope:" + ev.Request.EnvelopeID
	}
	if err := a.accept(ctx, string(ev.Type), delivery, reqs); err != nil {
		// Acknowledged already: Slack will not send it again.
		a.logErr(ctx, "store a request; it is lost", err, "delivery", delivery)
	}
}
