package fakeslack

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// hello is what Slack sends first on a Socket Mode connection.
const hello = `{"type":"hello","num_connections":1,"debug_info":{"host":"fakeslack"},"connection_info":{"app_id":"A111"}}`

// conn is one Socket Mode connection; writes are serialized.
type conn struct {
	c    *websocket.Conn
	mu   sync.Mutex
	done chan struct{}
}

func (c *conn) write(msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.c.WriteMessage(websocket.TextMessage, msg)
}

// socket serves the Socket Mode WebSocket: hello, pings every 100 ms, and
// the acknowledgements the client sends back.
func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{c: ws, done: make(chan struct{})}
	defer close(c.done)
	defer ws.Close()
	if err := c.write([]byte(hello)); err != nil {
		return
	}
	s.mu.Lock()
	s.sock = c
	s.connects++
	s.changedLocked()
	s.mu.Unlock()
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-t.C:
				c.mu.Lock()
				err := ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
				c.mu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(data, &ack) == nil && ack.EnvelopeID != "" {
			s.mu.Lock()
			s.acks[ack.EnvelopeID]++
			s.changedLocked()
			s.mu.Unlock()
		}
	}
}

// Send sends an envelope (or any message, like a disconnect) on the
// current Socket Mode connection.
func (s *Server) Send(msg []byte) error {
	s.mu.Lock()
	c := s.sock
	s.mu.Unlock()
	if c == nil {
		return errors.New("fakeslack: no Socket Mode connection")
	}
	return c.write(msg)
}

// Connections returns how many Socket Mode connections were opened.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// Acks returns how many times the envelope was acknowledged.
func (s *Server) Acks(envelopeID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acks[envelopeID]
}
