package fakedingtalk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-dingtalk/dingtalk-stream-sdk-go/card"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/chatbot"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/client"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/logger"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/payload"

	"github.com/ferrybot/ferry/bot/dingtalk/fakedingtalk"
)

// The Stream SDK v0.9.1 handles each frame in a goroutine of its own and
// writes its ack from there with no lock; its Close and reconnect set its
// connection while those goroutines read it. So a frame sent as soon as
// the fake has the previous ack can meet gorilla's "concurrent write"
// panic (the SDK recovers it and the ack is lost), and -race reports
// those accesses. The tests sequence the SDK through its logger, which it
// calls after each ack is written and before a reconnect: exchange waits
// for that log line before the next frame, the handlers synchronize with
// it, and the read error that starts a reconnect waits for the ack of a
// disconnect frame to be logged. With that the SDK runs race-free.

// sdkLog is the SDK's logger in the tests.
type sdkLog struct {
	mu            sync.Mutex
	changed       chan struct{}
	acks          int      // acks the SDK logged as written
	disconnecting bool     // a disconnect frame is being handled
	readErrors    int      // connections the SDK stopped reading
	panics        []string // frames whose handling panicked
}

var wire = &sdkLog{changed: make(chan struct{})}

func TestMain(m *testing.M) {
	logger.SetLogger(wire)
	os.Exit(m.Run())
}

func (l *sdkLog) changedLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *sdkLog) Debugf(format string, _ ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.HasPrefix(format, "[wire] [websocket] local => remote") {
		l.acks++
		l.disconnecting = false
		l.changedLocked()
	}
}

func (l *sdkLog) Errorf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case strings.HasPrefix(format, "connection processDataFrame panic"):
		l.panics = append(l.panics, fmt.Sprintf(format, args...))
	case strings.HasPrefix(format, "connection process read message error"):
		// The connection closed: the SDK is about to reconnect. Not
		// before the disconnect frame's goroutine is done with it.
		timeout := time.After(10 * time.Second)
		for l.disconnecting {
			ch := l.changed
			l.mu.Unlock()
			select {
			case <-ch:
			case <-timeout:
				l.mu.Lock()
				return
			}
			l.mu.Lock()
		}
		l.readErrors++
		l.changedLocked()
	}
}

func (l *sdkLog) Infof(string, ...any)    { l.sync() }
func (l *sdkLog) Warningf(string, ...any) { l.sync() }
func (l *sdkLog) Fatalf(string, ...any)   { l.sync() }

// sync orders what the SDK logged so far before what its caller does next.
func (l *sdkLog) sync() {
	l.mu.Lock()
	defer l.mu.Unlock()
}

func (l *sdkLog) disconnect() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.disconnecting = true
}

func (l *sdkLog) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acks
}

func (l *sdkLog) stopped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.readErrors
}

func (l *sdkLog) waitAcks(ctx context.Context, n int) error {
	return l.wait(ctx, func() bool { return l.acks >= n })
}

func (l *sdkLog) waitStopped(ctx context.Context, n int) error {
	return l.wait(ctx, func() bool { return l.readErrors >= n })
}

// wait waits until cond, run with l.mu held, holds.
func (l *sdkLog) wait(ctx context.Context, cond func() bool) error {
	for {
		l.mu.Lock()
		ch, done := l.changed, cond()
		l.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *sdkLog) panicked() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.panics)
}

// sdk is the Stream SDK's client, connected to a fake, with what its
// handlers received.
type sdk struct {
	*client.StreamClient
	messages chan *chatbot.BotCallbackDataModel
	clicks   chan *card.CardRequest
}

// startSDK starts an SDK client with the bot and card handlers; it is
// closed at the end of the test, before the fake. Not with a bare Close:
// the SDK's read loop reads its connection anew for every frame and
// dereferences nil if Close came in between. So the fake drops the
// connection, the SDK's read loop ends (it logs that), and then Close.
func startSDK(t *testing.T, s *fakedingtalk.Server, secret string) (*sdk, error) {
	t.Helper()
	c := &sdk{
		StreamClient: client.NewStreamClient(
			client.WithOpenApiHost(s.URL()),
			client.WithAppCredential(client.NewAppCredentialConfig(appKey, secret)),
		),
		messages: make(chan *chatbot.BotCallbackDataModel, 10),
		clicks:   make(chan *card.CardRequest, 10),
	}
	c.RegisterChatBotCallbackRouter(func(_ context.Context, m *chatbot.BotCallbackDataModel) ([]byte, error) {
		wire.sync()
		c.messages <- m
		return []byte(`{"response": null}`), nil
	})
	c.RegisterCardCallbackRouter(func(_ context.Context, r *card.CardRequest) (*card.CardResponse, error) {
		wire.sync()
		c.clicks <- r
		return &card.CardResponse{CardData: &card.CardDataDto{CardParamMap: map[string]string{"status": r.GetActionString("action")}}}, nil
	})
	// The SDK's own ping and disconnect handlers, sequenced.
	c.RegisterRouter("SYSTEM", "ping", func(ctx context.Context, df *payload.DataFrame) (*payload.DataFrameResponse, error) {
		wire.sync()
		return c.OnPing(ctx, df)
	})
	c.RegisterRouter("SYSTEM", "disconnect", func(ctx context.Context, df *payload.DataFrame) (*payload.DataFrameResponse, error) {
		wire.disconnect()
		return c.OnDisconnect(ctx, df)
	})
	started := false
	t.Cleanup(func() {
		c.AutoReconnect = false
		wire.sync() // the read loop's end logs before it reads AutoReconnect
		if started {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n := wire.stopped()
			s.Drop()
			if err := wire.waitStopped(ctx, n+1); err != nil {
				t.Errorf("the SDK did not stop reading: %v", err)
			}
		}
		c.Close()
		if p := wire.panicked(); len(p) > 0 {
			t.Errorf("the SDK panicked handling frames: %q", p)
		}
	})
	err := c.Start(testContext(t))
	started = err == nil
	return c, err
}

// exchange sends a frame with send and waits until the SDK logged its ack
// as written, so that the next frame cannot meet that write.
func exchange(t *testing.T, ctx context.Context, send func(context.Context) (fakedingtalk.Ack, error)) fakedingtalk.Ack {
	t.Helper()
	n := wire.acked()
	a, err := send(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.waitAcks(ctx, n+1); err != nil {
		t.Fatalf("the SDK did not log its ack of %s: %v", a.MessageID, err)
	}
	return a
}

// botMessageData is the data of the CALLBACK frame in the payloads.
func botMessageData(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("../testdata/payloads/stream.callback.bot_message.json")
	if err != nil {
		t.Fatal(err)
	}
	var f frame
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return []byte(f.Data)
}

func receive[T any](t *testing.T, ctx context.Context, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatal("the SDK's handler was not called")
		panic("unreachable")
	}
}

func TestSDKFrames(t *testing.T) {
	s := newServer(t, nil)
	ctx := testContext(t)
	c, err := startSDK(t, s, appSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitConnections(ctx, 1); err != nil {
		t.Fatal(err)
	}
	subs := s.Subscriptions()
	for _, want := range []fakedingtalk.Subscription{{"CALLBACK", fakedingtalk.BotMessageTopic}, {"CALLBACK", fakedingtalk.CardCallbackTopic}, {"SYSTEM", "ping"}, {"SYSTEM", "disconnect"}} {
		if !slices.Contains(subs, want) {
			t.Errorf("subscriptions %v lack %v", subs, want)
		}
	}

	data := botMessageData(t)
	ack := exchange(t, ctx, func(ctx context.Context) (fakedingtalk.Ack, error) { return s.SendBotMessage(ctx, data) })
	m := receive(t, ctx, c.messages)
	if m.ConversationId != "cidAsXSBLnA==" || m.Text.Content != " 测试数据" || m.ConversationType != "2" || m.SenderNick != "用户" {
		t.Errorf("the handler got %+v", m)
	}
	if acks := s.Acks(); ack.Code != 200 || ack.MessageID == "" || ack.Data != `{"response": null}` || len(acks) != 1 || acks[0] != ack {
		t.Errorf("ack %+v, acks %+v", ack, acks)
	}

	// The frame of the payloads, twice: the same messageId, two acks.
	raw, err := os.ReadFile("../testdata/payloads/stream.callback.bot_message.json")
	if err != nil {
		t.Fatal(err)
	}
	const id = "212ca9d7_974_1898c159aa6_1783b"
	for range 2 {
		a := exchange(t, ctx, func(ctx context.Context) (fakedingtalk.Ack, error) { return s.SendFrame(ctx, raw, id) })
		if a.Code != 200 || a.MessageID != id {
			t.Errorf("SendFrame: %+v", a)
		}
		receive(t, ctx, c.messages)
	}

	pong := exchange(t, ctx, s.Ping)
	if pong.Code != 200 || !strings.HasPrefix(pong.Data, `{"opaque":"`) {
		t.Errorf("Ping: %+v", pong)
	}

	click, _ := json.Marshal(map[string]any{
		"outTrackId": "deploy-1", "corpId": "dingcorp", "userId": "u1", "userIdType": 1, "type": "actionCallback",
		"spaceType": "IM", "spaceId": "cidGroup==", "extension": "{}",
		"content": `{"cardPrivateData":{"actionIds":["approve"],"params":{"action":"approve"}}}`,
	})
	ack = exchange(t, ctx, func(ctx context.Context) (fakedingtalk.Ack, error) { return s.SendCardCallback(ctx, click) })
	r := receive(t, ctx, c.clicks)
	if r.OutTrackId != "deploy-1" || r.UserId != "u1" || r.GetActionString("action") != "approve" {
		t.Errorf("the card handler got %+v", r)
	}
	var resp struct {
		Response card.CardResponse `json:"response"`
	}
	if err := json.Unmarshal([]byte(ack.Data), &resp); err != nil || ack.Code != 200 || resp.Response.CardData == nil || resp.Response.CardData.CardParamMap["status"] != "approve" {
		t.Errorf("card ack %+v (%v)", ack, err)
	}
	if n := len(s.Acks()); n != 5 {
		t.Errorf("%d acks, want 5", n)
	}
}

func TestSDKReconnects(t *testing.T) {
	s := newServer(t, nil)
	ctx := testContext(t)
	c, err := startSDK(t, s, appSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitConnections(ctx, 1); err != nil {
		t.Fatal(err)
	}
	data := botMessageData(t)
	send := func(ctx context.Context) (fakedingtalk.Ack, error) { return s.SendBotMessage(ctx, data) }
	exchange(t, ctx, send)
	receive(t, ctx, c.messages)

	// The fake drops the connection: the SDK reconnects by itself, through
	// connections/open and a new ticket, and handles callbacks again.
	n := wire.stopped()
	s.Drop()
	if err := wire.waitStopped(ctx, n+1); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitConnections(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if a := exchange(t, ctx, send); a.Code != 200 {
		t.Errorf("after the drop: %+v", a)
	}
	receive(t, ctx, c.messages)
	if n := s.CallCount("/v1.0/gateway/connections/open"); n != 2 {
		t.Errorf("%d connections/open calls, want 2", n)
	}
}

func TestSDKRefused(t *testing.T) {
	s := newServer(t, nil)
	if _, err := startSDK(t, s, "wrong secret"); err == nil || !strings.Contains(err.Error(), "InvalidAuthentication") {
		t.Errorf("Start with a wrong secret: %v", err)
	}
	s.FailNext("POST", "/v1.0/gateway/connections/open", 1, 503, `{"code":"ServiceUnavailable","message":"busy"}`)
	if _, err := startSDK(t, s, appSecret); err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") {
		t.Errorf("Start with connections/open failing: %v", err)
	}
	if n := s.Connections(); n != 0 {
		t.Errorf("%d connections", n)
	}
}
