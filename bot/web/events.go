package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// streamBuffer is how many events a stream may fall behind before it is
// dropped; the browser reconnects by itself.
const streamBuffer = 32

// hub fans rendered card events out to the event streams.
type hub struct {
	mu     sync.Mutex
	subs   map[chan []byte]struct{}
	closed bool
	done   chan struct{} // closed by Close: every stream ends
}

func newHub() *hub {
	return &hub{subs: map[chan []byte]struct{}{}, done: make(chan struct{})}
}

// Subscriber is what the web console is owed when a deploy changes: its
// card, in the open pages that follow deploys.
type Subscriber struct{}

var (
	_ pipeline.Subscriber = Subscriber{}
	_ bot.Sink            = (*Server)(nil)
)

// Notices implements pipeline.Subscriber.
func (Subscriber) Notices(d pipeline.Deploy) []pipeline.Notice {
	return []pipeline.Notice{{Platform: "web", Dest: fmt.Sprint("deploy ", d.ID), Kind: "card", Latest: true, DeployID: d.ID, State: d.State}}
}

// Deliver implements bot.Sink: it offers the deploy's card to every open
// event stream, rendered once and only if somebody is watching. A stream
// that has fallen behind is dropped; its browser reconnects by itself.
func (s *Server) Deliver(_ context.Context, o bot.Outgoing, ref string) (string, error) {
	if !s.hub.watched() {
		return ref, nil
	}
	ev, err := s.cardEvent(o.Card)
	if err != nil {
		return ref, bot.Permanent(fmt.Errorf("render the card of deploy %d: %w", o.DeployID, err))
	}
	s.hub.broadcast(ev)
	return ref, nil
}

func (h *hub) watched() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.closed && len(h.subs) > 0
}

// cardEvent renders a deploy's card as an event-stream frame.
func (s *Server) cardEvent(c bot.Card) ([]byte, error) {
	html, err := s.cardHTML(cardView{Card: c})
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(struct {
		ID   int64  `json:"id"`
		HTML string `json:"html"`
	}{c.DeployID, html})
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "event: card\ndata: %s\n\n", data), nil
}

// broadcast offers ev to every stream; a stream whose buffer is full is
// dropped rather than waited for.
func (h *hub) broadcast(ev []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

func (h *hub) subscribe() (chan []byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	ch := make(chan []byte, streamBuffer)
	h.subs[ch] = struct{}{}
	return ch, true
}

func (h *hub) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}

// Close ends every event stream, so that http.Server.Shutdown need not
// wait for streams that never end (cmd/ferry registers it with
// RegisterOnShutdown). Later changes are not shown.
func (s *Server) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// events streams card events to a signed-in browser, with a ping comment
// every 15 seconds so that proxies keep the connection open.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	v, ok := s.viewer(w, r)
	if !ok {
		http.Error(w, "sign in to follow deploys", http.StatusUnauthorized)
		return
	}
	ch, ok := s.hub.subscribe()
	if !ok {
		http.Error(w, "ferry is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.hub.unsubscribe(ch)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second)) // unsupported by some writers
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send([]byte("retry: 3000\n: connected\n\n")) {
		return
	}
	ping := time.NewTicker(s.ping)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.hub.done:
			return
		case ev, ok := <-ch:
			if !ok || !send(ev) {
				return // dropped for falling behind, or gone
			}
		case <-ping.C:
			if !s.now().Before(v.Expires) || !s.stillKnown(v) {
				return // the session ended while the page was open
			}
			if !send([]byte(": ping\n\n")) {
				return
			}
		}
	}
}

func (s *Server) stillKnown(v *viewer) bool {
	if s.revoked.has(v.Nonce) {
		return false
	}
	_, ok := s.users.User(v.Name)
	return ok
}
