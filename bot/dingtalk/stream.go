package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/payload"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/utils"
)

// Stream topics ferry subscribes to.
const (
	topicMessage = payload.BotMessageCallbackTopic   // /v1.0/im/bot/messages/get
	topicCard    = payload.CardInstanceCallbackTopic // /v1.0/card/instances/callback
)

// Keepalive of a Stream connection: a WebSocket ping every streamPing; a
// connection that says nothing (no frame, no pong) for streamDead is
// taken for dead and opened again.
const (
	streamPing = 60 * time.Second
	streamDead = 3 * streamPing
	maxFrame   = 1 << 20
)

// errMoved is DingTalk's disconnect: it moves the client elsewhere, which
// connects again at once.
var errMoved = errors.New("DingTalk asked to connect again (disconnect)")

// runStream keeps a Stream connection open until ctx ends, opening a new
// one at once when DingTalk says disconnect, and after a backoff when the
// connection could not be opened or died.
//
// It speaks DingTalk's Stream protocol with the SDK's own types
// (github.com/open-dingtalk/dingtalk-stream-sdk-go/payload) and not with
// the SDK's client, which in v0.9.1 writes acks from many goroutines at
// once (gorilla's WebSocket panics on that, and the ack is lost), can crash
// its reader by closing the connection under it, and sets its fields
// without locks: here one goroutine reads, acknowledges each frame once,
// in order, and closes the connection when ctx ends.
func (a *Adapter) runStream(ctx context.Context) {
	const minBackoff, maxBackoff = time.Second, 5 * time.Minute
	backoff := minBackoff
	for ctx.Err() == nil {
		opened, err := a.stream(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errMoved):
			backoff = minBackoff
			continue
		case opened:
			backoff = minBackoff
		}
		a.log.WarnContext(ctx, "dingtalk: stream connection ended; opening it again", "platform", platform, "err", err, "backoff", backoff)
		select {
		case <-a.clock.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// stream opens one connection and serves it until it ends; opened says
// whether it got that far.
func (a *Adapter) stream(ctx context.Context) (opened bool, err error) {
	endpoint, err := a.openStream(ctx)
	if err != nil {
		return false, err
	}
	dialer := websocket.Dialer{HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment}
	conn, res, err := dialer.DialContext(ctx, endpoint, nil)
	if res != nil {
		res.Body.Close()
	}
	if err != nil {
		return false, fmt.Errorf("stream: connect: %w", scrubURL(err))
	}
	a.log.InfoContext(ctx, "dingtalk: stream connected", "platform", platform)
	conn.SetReadLimit(maxFrame)
	done := make(chan struct{})
	defer close(done)
	go keepalive(ctx, conn, done)
	_ = conn.SetReadDeadline(time.Now().Add(streamDead))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(streamDead)) })
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return true, fmt.Errorf("stream: read: %w", err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(streamDead))
		df, err := payload.DecodeDataFrame(msg)
		if err != nil || df.Headers == nil {
			a.log.WarnContext(ctx, "dingtalk: a stream frame that does not decode", "platform", platform, "bytes", len(msg))
			continue
		}
		resp, moved := a.frame(ctx, df)
		if resp != nil {
			resp.SetHeader(payload.DataFrameHeaderKMessageId, df.GetMessageId())
			if resp.GetHeader(payload.DataFrameHeaderKContentType) == "" {
				resp.SetHeader(payload.DataFrameHeaderKContentType, payload.DataFrameContentTypeKJson)
			}
			if err := conn.WriteJSON(resp); err != nil {
				return true, fmt.Errorf("stream: acknowledge %s: %w", df.GetMessageId(), err)
			}
		}
		if moved {
			return true, errMoved
		}
	}
}

// keepalive pings the connection until done, and closes it when ctx ends
// (which ends its reader).
func keepalive(ctx context.Context, conn *websocket.Conn, done <-chan struct{}) {
	defer conn.Close()
	tick := time.NewTicker(streamPing)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "ferry stops"), time.Now().Add(time.Second))
			return
		case <-tick.C:
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)) != nil {
				return
			}
		}
	}
}

// frame answers one frame: a pong to DingTalk's ping, an ack to its
// disconnect (then moved), and a callback stored in the inbox before it is
// acknowledged.
func (a *Adapter) frame(ctx context.Context, df *payload.DataFrame) (resp *payload.DataFrameResponse, moved bool) {
	switch {
	case df.Type == utils.SubscriptionTypeKSystem && df.GetTopic() == "ping":
		pong := payload.NewDataFrameAckPong(df.GetMessageId())
		pong.Data = df.Data
		return pong, false
	case df.Type == utils.SubscriptionTypeKSystem && df.GetTopic() == "disconnect":
		a.log.InfoContext(ctx, "dingtalk: DingTalk says disconnect; connecting again", "platform", platform)
		return payload.NewSuccessDataFrameResponse(), true
	case df.Type == utils.SubscriptionTypeKCallback && (df.GetTopic() == topicMessage || df.GetTopic() == topicCard):
		return a.onFrame(ctx, df), false
	}
	return payload.NewDataFrameResponse(payload.DataFrameResponseStatusCodeKHandlerNotFound), false
}

// openStream asks DingTalk where to connect (POST
// /v1.0/gateway/connections/open with the app's key and secret and what
// it subscribes to) and returns the address with its ticket.
func (a *Adapter) openStream(ctx context.Context) (string, error) {
	req := payload.ConnectionEndpointRequest{
		ClientId: a.api.clientID, ClientSecret: a.api.clientSecret, UserAgent: "ferry (dingtalk-stream-sdk-go/v0.9.1 protocol)",
		Subscriptions: []*payload.SubscriptionModel{
			{Type: utils.SubscriptionTypeKCallback, Topic: topicMessage},
			{Type: utils.SubscriptionTypeKCallback, Topic: topicCard},
			{Type: utils.SubscriptionTypeKSystem, Topic: "ping"},
			{Type: utils.SubscriptionTypeKSystem, Topic: "disconnect"},
		},
	}
	var ep payload.ConnectionEndpointResponse
	if err := a.api.send(ctx, http.MethodPost, utils.GetConnectionEndpointAPIUrl, "", req, &ep); err != nil {
		return "", fmt.Errorf("stream: %w", err)
	}
	if err := ep.Valid(); err != nil {
		return "", fmt.Errorf("stream: DingTalk answered without an endpoint: %w", err)
	}
	return ep.Endpoint + "?ticket=" + url.QueryEscape(ep.Ticket), nil
}

// onFrame stores a callback in the inbox before it is acknowledged: a
// frame ferry could not store is answered with an error, and DingTalk
// sends it again; one stored before is acknowledged and ignored.
func (a *Adapter) onFrame(ctx context.Context, df *payload.DataFrame) *payload.DataFrameResponse {
	d, err := a.delivery([]byte(df.Data), df.GetMessageId())
	if err != nil {
		a.log.WarnContext(ctx, "dingtalk: unreadable stream callback", "platform", platform, "topic", df.GetTopic(), "err", err)
		return payload.NewSuccessDataFrameResponse() // sending it again would not help
	}
	if err := a.accept(ctx, d); err != nil {
		a.logErr(ctx, "store a stream callback", err, "delivery", d.ID)
		return payload.NewErrorDataFrameResponse(errors.New("ferry could not store the callback"))
	}
	resp := payload.NewSuccessDataFrameResponse()
	if df.GetTopic() == topicCard {
		// The card stays as it is; what the press does changes it
		// through the outbox.
		_ = resp.SetJson(map[string]any{"response": map[string]any{}})
	}
	return resp
}
