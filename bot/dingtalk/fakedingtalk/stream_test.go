package fakedingtalk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ferrybot/ferry/bot/dingtalk/fakedingtalk"
)

// frame is a Stream data frame as the client reads it.
type frame struct {
	SpecVersion string            `json:"specVersion"`
	Type        string            `json:"type"`
	Headers     map[string]string `json:"headers"`
	Data        string            `json:"data"`
}

// wireClient is a Stream client written out as the SDK behaves: it acks
// every CALLBACK frame, answers a ping with a pong echoing its data, and
// closes on a disconnect frame. Unlike the SDK it reads and writes in one
// goroutine, so it is race-free and -race can check the fake with it.
type wireClient struct {
	ws     *websocket.Conn
	frames chan frame    // the CALLBACK frames it acked
	closed chan struct{} // its loop has ended
	// noAck makes it close the connection on the first CALLBACK instead
	// of acking it.
	noAck bool
}

// openStream calls connections/open as the SDK does.
func openStream(t *testing.T, s *fakedingtalk.Server, secret string) (int, map[string]any) {
	t.Helper()
	return do(t, "POST", s.URL()+"/v1.0/gateway/connections/open", "", obj{
		"clientId": appKey, "clientSecret": secret, "ua": "dingtalk-sdk-go/v0.9.1", "localIp": "10.0.0.1",
		"subscriptions": []obj{{"type": "SYSTEM", "topic": "ping"}, {"type": "SYSTEM", "topic": "disconnect"}, {"type": "CALLBACK", "topic": fakedingtalk.BotMessageTopic}},
	})
}

func dialStream(t *testing.T, s *fakedingtalk.Server, noAck bool) *wireClient {
	t.Helper()
	status, out := openStream(t, s, appSecret)
	if status != 200 {
		t.Fatalf("connections/open: %d %v", status, out)
	}
	endpoint, ticket := out["endpoint"].(string), out["ticket"].(string)
	if !strings.HasPrefix(endpoint, "ws://127.0.0.1:") || !strings.HasSuffix(endpoint, "/connect") || ticket == "" {
		t.Fatalf("connections/open answered %v", out)
	}
	ws, _, err := websocket.DefaultDialer.DialContext(testContext(t), endpoint+"?ticket="+ticket, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &wireClient{ws: ws, frames: make(chan frame, 10), closed: make(chan struct{}), noAck: noAck}
	go c.loop()
	t.Cleanup(func() {
		ws.Close()
		<-c.closed
	})
	return c
}

type ack struct {
	Code    int               `json:"code"`
	Headers map[string]string `json:"headers"`
	Message string            `json:"message"`
	Data    string            `json:"data"`
}

func (c *wireClient) loop() {
	defer close(c.closed)
	defer c.ws.Close()
	for {
		_, raw, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var f frame
		if json.Unmarshal(raw, &f) != nil {
			return
		}
		h := map[string]string{"contentType": "application/json", "messageId": f.Headers["messageId"]}
		switch {
		case f.Type == "SYSTEM" && f.Headers["topic"] == "ping":
			err = c.ws.WriteJSON(ack{200, h, "ok", f.Data})
		case f.Type == "SYSTEM" && f.Headers["topic"] == "disconnect":
			return
		case c.noAck:
			return
		default:
			c.frames <- f
			err = c.ws.WriteJSON(ack{200, h, "OK", `{"response": null}`})
		}
		if err != nil {
			return
		}
	}
}

func TestStreamFrames(t *testing.T) {
	clk := newClock()
	s := newServer(t, clk)
	ctx := testContext(t)
	c := dialStream(t, s, false)
	if n := s.Connections(); n != 1 || !s.Connected() {
		t.Fatalf("%d connections, connected %v", n, s.Connected())
	}
	if subs := s.Subscriptions(); len(subs) != 3 || subs[2] != (fakedingtalk.Subscription{Type: "CALLBACK", Topic: fakedingtalk.BotMessageTopic}) {
		t.Errorf("Subscriptions = %v", subs)
	}

	data := []byte(`{"conversationId":"cid==","text":{"content":"deploy api"},"msgtype":"text"}`)
	a, err := s.SendBotMessage(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	f := <-c.frames
	if f.SpecVersion != "1.0" || f.Type != "CALLBACK" || f.Data != string(data) || f.Headers["topic"] != fakedingtalk.BotMessageTopic ||
		f.Headers["contentType"] != "application/json" || f.Headers["appId"] == "" || f.Headers["time"] != strconv.FormatInt(clk.Now().UnixMilli(), 10) {
		t.Errorf("frame = %+v", f)
	}
	if a != (fakedingtalk.Ack{Code: 200, MessageID: f.Headers["messageId"], Message: "OK", Data: `{"response": null}`}) {
		t.Errorf("ack = %+v", a)
	}

	if _, err := s.SendCardCallback(ctx, []byte(`{"outTrackId":"x"}`)); err != nil {
		t.Fatal(err)
	}
	f2 := <-c.frames
	if f2.Headers["topic"] != fakedingtalk.CardCallbackTopic || f2.Headers["messageId"] == f.Headers["messageId"] {
		t.Errorf("card callback frame = %+v", f2)
	}

	// The frame of the payloads, twice: the same messageId, two acks.
	raw, err := os.ReadFile("../testdata/payloads/stream.callback.bot_message.json")
	if err != nil {
		t.Fatal(err)
	}
	const id = "212ca9d7_974_1898c159aa6_1783b"
	for range 2 {
		if a, err := s.SendFrame(ctx, raw, id); err != nil || a.MessageID != id || a.Code != 200 {
			t.Fatalf("SendFrame: %+v %v", a, err)
		}
		if f := <-c.frames; f.Headers["messageId"] != id {
			t.Errorf("frame %+v", f)
		}
	}

	pong, err := s.Ping(ctx)
	if err != nil || pong.Code != 200 || !strings.HasPrefix(pong.Data, `{"opaque":"`) {
		t.Errorf("Ping: %+v %v", pong, err)
	}
	acks := s.Acks()
	if len(acks) != 5 || acks[0] != a || acks[2].MessageID != id || acks[3].MessageID != id || acks[4] != pong {
		t.Errorf("Acks = %+v", acks)
	}
}

func TestStreamDisconnect(t *testing.T) {
	s := newServer(t, nil)
	ctx := testContext(t)
	c := dialStream(t, s, false)
	if err := s.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	<-c.closed
	if s.Connected() {
		t.Error("connected after the client closed")
	}
	if _, err := s.SendBotMessage(ctx, []byte(`{}`)); !errors.Is(err, fakedingtalk.ErrNoConnection) {
		t.Errorf("SendBotMessage with no connection: %v", err)
	}
	if err := s.Disconnect(ctx); !errors.Is(err, fakedingtalk.ErrNoConnection) {
		t.Errorf("Disconnect with no connection: %v", err)
	}

	// The client reconnects as the SDK does: connections/open, a new ticket.
	c = dialStream(t, s, false)
	if err := s.WaitConnections(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendBotMessage(ctx, []byte(`{"msgtype":"text"}`)); err != nil {
		t.Fatal(err)
	}
	<-c.frames

	s.Drop()
	<-c.closed
	if s.Connected() {
		t.Error("connected after Drop")
	}
	s.Drop() // no connection: nothing to do
}

func TestStreamTickets(t *testing.T) {
	s := newServer(t, nil)
	status, out := openStream(t, s, "wrong")
	wantError(t, "connections/open with a wrong secret", status, out, 401, "InvalidAuthentication")
	_, out = openStream(t, s, appSecret)
	u := out["endpoint"].(string) + "?ticket=" + out["ticket"].(string)
	ws, _, err := websocket.DefaultDialer.DialContext(testContext(t), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, u := range []string{u, out["endpoint"].(string) + "?ticket=made-up"} {
		_, resp, err := websocket.DefaultDialer.DialContext(testContext(t), u, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %v %v, want 401 (a ticket is good once)", u, resp, err)
		}
	}
	s.FailNext("GET", "/connect", 1, 503, `{"code":"ServiceUnavailable","message":"busy"}`)
	_, out = openStream(t, s, appSecret)
	_, resp, err := websocket.DefaultDialer.DialContext(testContext(t), out["endpoint"].(string)+"?ticket="+out["ticket"].(string), nil)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("FailNext at /connect: %v %v", resp, err)
	}
	var statuses []int
	for _, c := range s.Calls() {
		if c.Path == "/connect" {
			statuses = append(statuses, c.Status)
		}
	}
	if len(statuses) != 4 || statuses[0] != 101 || statuses[1] != 401 || statuses[3] != 503 || s.Connections() != 1 {
		t.Errorf("/connect answered %v; %d connections", statuses, s.Connections())
	}
}

func TestStreamNewestConnection(t *testing.T) {
	s := newServer(t, nil)
	ctx := testContext(t)
	old := dialStream(t, s, false)
	c := dialStream(t, s, false)
	<-old.closed // the fake closed the older one
	if _, err := s.SendBotMessage(ctx, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	<-c.frames
	if n := s.Connections(); n != 2 {
		t.Errorf("%d connections", n)
	}
}

func TestStreamClosedBeforeAck(t *testing.T) {
	s := newServer(t, nil)
	c := dialStream(t, s, true)
	if _, err := s.SendBotMessage(testContext(t), []byte(`{}`)); !errors.Is(err, fakedingtalk.ErrConnectionClosed) {
		t.Errorf("SendBotMessage to a client that closed: %v", err)
	}
	<-c.closed
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.WaitConnections(ctx, 2); err == nil {
		t.Error("WaitConnections returned nil with its context ended")
	}
}
