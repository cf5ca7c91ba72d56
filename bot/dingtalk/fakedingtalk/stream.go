package fakedingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The topics of the CALLBACK frames the fake sends.
const (
	BotMessageTopic   = "/v1.0/im/bot/messages/get"
	CardCallbackTopic = "/v1.0/card/instances/callback"
)

// ErrNoConnection is what sending a frame returns when no Stream
// connection is live.
var ErrNoConnection = errors.New("fakedingtalk: no live Stream connection")

// ErrConnectionClosed is what sending a frame returns when the connection
// closed before the client acked it.
var ErrConnectionClosed = errors.New("fakedingtalk: Stream connection closed before the ack")

// Subscription is one of what the client asked for at connections/open.
type Subscription struct {
	Type  string // SYSTEM, EVENT, CALLBACK
	Topic string
}

// Ack is what the client answered a frame with.
type Ack struct {
	Code      int
	MessageID string // headers.messageId
	Message   string
	Data      string
}

// stream is the fake's Stream-mode state; Server.mu guards it.
type stream struct {
	subs     []Subscription
	tickets  map[string]bool // issued, not used yet
	live     *conn           // the newest connection, while it is open
	open     map[*conn]bool  // every open connection
	connects int
	acks     []Ack
	seq      int
	closed   bool // the test is over: accept no connection
}

func (st *stream) init() {
	st.tickets = map[string]bool{}
	st.open = map[*conn]bool{}
}

// conn is one Stream connection; writes are serialized, as gorilla allows
// one writer.
type conn struct {
	ws   *websocket.Conn
	mu   sync.Mutex
	done chan struct{} // closed when its read loop has ended
}

func (c *conn) write(ctx context.Context, msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	_ = c.ws.SetWriteDeadline(deadline)
	return c.ws.WriteMessage(websocket.TextMessage, msg)
}

// openConnection serves POST /v1.0/gateway/connections/open, the SDK's
// call for an endpoint and a ticket.
func (s *Server) openConnection(_ *http.Request, body []byte, _ time.Time) (int, any) {
	var b struct {
		ClientID      string         `json:"clientId"`
		ClientSecret  string         `json:"clientSecret"`
		Subscriptions []Subscription `json:"subscriptions"`
		UA            string         `json:"ua"`
		LocalIP       string         `json:"localIp"`
	}
	if err := decode(body, &b); err != nil {
		return badParam("请求体不是合法的JSON: " + err.Error())
	}
	if b.ClientID != s.cfg.ClientID || b.ClientSecret != s.cfg.ClientSecret {
		return http.StatusUnauthorized, apiError("InvalidAuthentication", "clientId或clientSecret不合法")
	}
	s.subs = b.Subscriptions
	ticket := randomHex(16)
	s.tickets[ticket] = true
	return http.StatusOK, obj{"endpoint": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/connect", "ticket": ticket}
}

// connect serves GET /connect?ticket=…, the Stream WebSocket. A ticket is
// good for one connection. The connection accepted becomes the live one;
// an older one still open is closed.
func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	call := Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, At: s.now()}
	refuse := func(status int, body []byte) {
		call.Status = status
		s.calls = append(s.calls, call)
		s.changedLocked()
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
	if f, ok := s.takeFailLocked(r.Method, r.URL.Path); ok {
		refuse(f.status, []byte(f.body))
		return
	}
	if !s.tickets[ticket] {
		out, _ := json.Marshal(apiError("InvalidAuthentication", "ticket不存在或已失效"))
		refuse(http.StatusUnauthorized, out)
		return
	}
	delete(s.tickets, ticket)
	// The lock is held while the 101 goes out, so that whatever the client
	// asks the fake once its dial returned sees the connection.
	ws, err := s.upgrader.Upgrade(w, r, nil) // on failure it answered 4xx
	call.Status = http.StatusSwitchingProtocols
	if err != nil {
		call.Status = http.StatusBadRequest
	}
	s.calls = append(s.calls, call)
	if err != nil || s.closed {
		s.changedLocked()
		s.mu.Unlock()
		if ws != nil {
			_ = ws.Close()
		}
		return
	}
	c := &conn{ws: ws, done: make(chan struct{})}
	old := s.live
	s.live = c
	s.open[c] = true
	s.connects++
	s.changedLocked()
	s.mu.Unlock()
	if old != nil {
		_ = old.ws.Close()
	}
	s.read(c)
}

// read reads the acks the client sends on c until it closes.
func (s *Server) read(c *conn) {
	defer func() {
		_ = c.ws.Close()
		s.mu.Lock()
		delete(s.open, c)
		if s.live == c {
			s.live = nil
		}
		s.changedLocked()
		s.mu.Unlock()
		close(c.done)
	}()
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		var a struct {
			Code    int               `json:"code"`
			Headers map[string]string `json:"headers"`
			Message string            `json:"message"`
			Data    string            `json:"data"`
		}
		if json.Unmarshal(data, &a) != nil {
			continue
		}
		s.mu.Lock()
		s.acks = append(s.acks, Ack{Code: a.Code, MessageID: a.Headers["messageId"], Message: a.Message, Data: a.Data})
		s.changedLocked()
		s.mu.Unlock()
	}
}

// closeConnections closes every open connection, waits for their read
// loops to end, and makes the fake accept no more.
func (s *Server) closeConnections() {
	s.mu.Lock()
	s.closed = true
	cs := make([]*conn, 0, len(s.open))
	for c := range s.open {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		_ = c.ws.Close()
		<-c.done
	}
}

// Subscriptions returns the subscriptions of the latest connections/open
// the fake accepted.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.subs)
}

// Connections returns how many Stream connections the fake accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// Connected reports whether a Stream connection is live.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live != nil
}

// WaitConnections blocks until the fake accepted at least n Stream
// connections, or ctx ends.
func (s *Server) WaitConnections(ctx context.Context, n int) error {
	return s.Wait(ctx, func() bool { return s.Connections() >= n })
}

// Acks returns every ack the client sent, on any connection, in order.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acks)
}

// frame is a data frame the fake sends.
type frame struct {
	SpecVersion string            `json:"specVersion"`
	Type        string            `json:"type"`
	Headers     map[string]string `json:"headers"`
	Data        string            `json:"data"`
}

// newFrame makes a frame with a new, unique message ID.
func (s *Server) newFrame(typ, topic, data string) ([]byte, string) {
	s.mu.Lock()
	s.seq++
	now := s.now()
	id := fmt.Sprintf("%s_%d_%x_%s", randomHex(4), s.seq, now.UnixMilli(), randomHex(2))
	s.mu.Unlock()
	h := map[string]string{
		"contentType": "application/json",
		"messageId":   id,
		"time":        strconv.FormatInt(now.UnixMilli(), 10),
		"topic":       topic,
	}
	if typ == "CALLBACK" || typ == "EVENT" {
		h["appId"] = s.appID
	}
	raw, _ := json.Marshal(frame{SpecVersion: "1.0", Type: typ, Headers: h, Data: data})
	return raw, id
}

// SendCallback sends a CALLBACK frame of topic with data (JSON, sent as a
// JSON string) on the live connection, and waits for the client's ack of
// it, or until ctx ends.
func (s *Server) SendCallback(ctx context.Context, topic string, data []byte) (Ack, error) {
	raw, id := s.newFrame("CALLBACK", topic, string(data))
	return s.SendFrame(ctx, raw, id)
}

// SendBotMessage sends a robot message, data being what a robot callback
// carries (testdata/payloads/robot_callback.text.json), as a CALLBACK
// frame, and waits for its ack.
func (s *Server) SendBotMessage(ctx context.Context, data []byte) (Ack, error) {
	return s.SendCallback(ctx, BotMessageTopic, data)
}

// SendCardCallback sends a click on an interactive card as a CALLBACK
// frame, and waits for its ack.
func (s *Server) SendCardCallback(ctx context.Context, data []byte) (Ack, error) {
	return s.SendCallback(ctx, CardCallbackTopic, data)
}

// SendFrame sends raw as it is on the live connection and waits for an ack
// with messageID that came after it, or until ctx ends; so a test can send
// a frame twice. With messageID "" it does not wait and returns a zero Ack.
func (s *Server) SendFrame(ctx context.Context, raw []byte, messageID string) (Ack, error) {
	s.mu.Lock()
	c, from := s.live, len(s.acks)
	s.mu.Unlock()
	if c == nil {
		return Ack{}, ErrNoConnection
	}
	if err := c.write(ctx, raw); err != nil {
		return Ack{}, fmt.Errorf("fakedingtalk: sending a frame: %w", err)
	}
	if messageID == "" {
		return Ack{}, nil
	}
	var ack Ack
	found := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, a := range s.acks[from:] {
			if a.MessageID == messageID {
				ack = a
				return true
			}
		}
		return false
	}
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if found() {
			return ack, nil
		}
		select {
		case <-ch:
		case <-c.done: // every ack it read is recorded by now
			if found() {
				return ack, nil
			}
			return Ack{}, ErrConnectionClosed
		case <-ctx.Done():
			return Ack{}, fmt.Errorf("fakedingtalk: waiting for the ack of %s: %w", messageID, context.Cause(ctx))
		}
	}
}

// Ping sends a SYSTEM ping frame with data {"opaque":"<random>"} and waits
// for the pong, which must echo the data.
func (s *Server) Ping(ctx context.Context) (Ack, error) {
	data := fmt.Sprintf(`{"opaque":"%s"}`, uuid())
	raw, id := s.newFrame("SYSTEM", "ping", data)
	ack, err := s.SendFrame(ctx, raw, id)
	if err == nil && ack.Data != data {
		err = fmt.Errorf("fakedingtalk: the pong's data %q does not echo the ping's %q", ack.Data, data)
	}
	return ack, err
}

// Disconnect does what DingTalk does when it moves a client: it sends the
// SYSTEM disconnect frame and, once the client acknowledged it (or closed
// the connection itself), closes the connection from the server's side.
// It returns when the connection is closed, or ctx ends.
func (s *Server) Disconnect(ctx context.Context) error {
	s.mu.Lock()
	c := s.live
	s.mu.Unlock()
	if c == nil {
		return ErrNoConnection
	}
	raw, id := s.newFrame("SYSTEM", "disconnect", `{"reason":"connection is expired"}`)
	_, err := s.SendFrame(ctx, raw, id)
	switch {
	case errors.Is(err, ErrConnectionClosed):
		return nil
	case err != nil:
		return fmt.Errorf("fakedingtalk: disconnect: %w", err)
	}
	_ = c.ws.Close()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fakedingtalk: waiting for the connection to close: %w", context.Cause(ctx))
	}
}

// Drop closes the live connection abruptly, from the server's side, and
// returns once the fake forgot it.
func (s *Server) Drop() {
	s.mu.Lock()
	c := s.live
	s.mu.Unlock()
	if c == nil {
		return
	}
	_ = c.ws.Close()
	<-c.done
}
