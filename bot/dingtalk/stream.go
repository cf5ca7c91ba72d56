package dingtalk

import (
	"context"
	"errors"
	"time"

	stream "github.com/open-dingtalk/dingtalk-stream-sdk-go/client"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/payload"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/utils"
)

// Stream topics ferry subscribes to.
const (
	topicMessage = payload.BotMessageCallbackTopic   // /v1.0/im/bot/messages/get
	topicCard    = payload.CardInstanceCallbackTopic // /v1.0/card/instances/callback
)

// runStream keeps a Stream connection open until ctx ends. The SDK
// answers DingTalk's pings, and when DingTalk says disconnect (or the
// connection dies) it opens a new one by itself; ferry starts it again,
// after a backoff, only when opening fails.
func (a *Adapter) runStream(ctx context.Context) {
	const minBackoff, maxBackoff = time.Second, 5 * time.Minute
	backoff := minBackoff
	for ctx.Err() == nil {
		cli := stream.NewStreamClient(
			stream.WithAppCredential(stream.NewAppCredentialConfig(a.api.clientID, a.api.clientSecret)),
			stream.WithOpenApiHost(a.api.base),
		)
		cli.RegisterRouter(utils.SubscriptionTypeKCallback, topicMessage, a.onFrame)
		cli.RegisterRouter(utils.SubscriptionTypeKCallback, topicCard, a.onFrame)
		err := cli.Start(ctx)
		if err == nil {
			a.log.InfoContext(ctx, "dingtalk: stream connected", "platform", platform)
			<-ctx.Done()
			// The SDK would open a new connection when this one closes.
			cli.AutoReconnect = false
			cli.Close()
			return
		}
		if ctx.Err() != nil {
			return
		}
		// Never the SDK's error as it is: it may quote the request.
		a.log.ErrorContext(ctx, "dingtalk: could not open the stream connection; trying again", "platform", platform,
			"err", a.redact(err.Error()), "backoff", backoff)
		select {
		case <-a.clock.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// onFrame stores a callback in the inbox before the SDK acknowledges it:
// a frame ferry could not store is answered with an error, and DingTalk
// sends it again; one stored before is acknowledged and ignored.
func (a *Adapter) onFrame(ctx context.Context, df *payload.DataFrame) (*payload.DataFrameResponse, error) {
	d, err := a.delivery([]byte(df.Data), df.GetMessageId())
	if err != nil {
		a.log.WarnContext(ctx, "dingtalk: unreadable stream callback", "platform", platform, "topic", df.GetTopic(), "err", err)
		return payload.NewSuccessDataFrameResponse(), nil // sending it again would not help
	}
	if err := a.accept(ctx, d); err != nil {
		a.logErr(ctx, "store a stream callback", err, "delivery", d.ID)
		return nil, errors.New("ferry could not store the callback")
	}
	resp := payload.NewSuccessDataFrameResponse()
	if df.GetTopic() == topicCard {
		// The card stays as it is; what the click does changes it
		// through the outbox.
		_ = resp.SetJson(map[string]any{"response": map[string]any{}})
	}
	return resp, nil
}
