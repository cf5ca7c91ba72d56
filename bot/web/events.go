package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// streamBuffer is how many events a stream may fall behind before it is
// dropped; the browser reconnects by itself.
const streamBuffer = 32

// hub fans rendered card events out to the event streams. Changes are
// queued by deploy, so a burst of changes to one deploy renders it once,
// and rendered by one goroutine that runs only while there is work.
type hub struct {
	mu       sync.Mutex
	subs     map[chan []byte]struct{}
	pending  []int64
	queued   map[int64]bool
	draining bool
	closed   bool
	done     chan struct{} // closed by Close: every stream ends
	wg       sync.WaitGroup
	// ctx bounds the rendering, not the engine's context: a change is
	// reported from a deploy's worker, whose context ends with the deploy.
	ctx    context.Context
	cancel context.CancelFunc
}

func newHub() *hub {
	ctx, cancel := context.WithCancel(context.Background())
	return &hub{subs: map[chan []byte]struct{}{}, queued: map[int64]bool{}, done: make(chan struct{}), ctx: ctx, cancel: cancel}
}

// DeployChanged implements pipeline.Notifier. It returns at once: the card
// is rendered on another goroutine, and only if somebody is watching.
func (s *Server) DeployChanged(_ context.Context, d pipeline.Deploy) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.subs) == 0 {
		return
	}
	if !h.queued[d.ID] {
		h.queued[d.ID] = true
		h.pending = append(h.pending, d.ID)
	}
	if !h.draining {
		h.draining = true
		h.wg.Add(1)
		go s.drain()
	}
}

// drain renders each pending deploy's card once and offers it to every
// stream, until nothing is pending.
func (s *Server) drain() {
	h := s.hub
	defer h.wg.Done()
	for {
		h.mu.Lock()
		if len(h.pending) == 0 || h.closed {
			h.draining = false
			h.mu.Unlock()
			return
		}
		id := h.pending[0]
		h.pending = h.pending[1:]
		delete(h.queued, id)
		h.mu.Unlock()

		ev, err := s.cardEvent(h.ctx, id)
		if err != nil {
			if h.ctx.Err() == nil { // not stopped by Close
				s.log.Error("web: render card event", "platform", "web", "deploy_id", id, "err", err)
			}
			continue
		}
		h.broadcast(ev)
	}
}

// cardEvent renders a deploy's card as an event-stream frame.
func (s *Server) cardEvent(ctx context.Context, id int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := s.bot.Card(ctx, id)
	if err != nil {
		return nil, err
	}
	html, err := s.cardHTML(cardView{Card: c})
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(struct {
		ID   int64  `json:"id"`
		HTML string `json:"html"`
	}{id, html})
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

// Close ends every event stream and stops the card being rendered, so
// that http.Server.Shutdown need not wait for streams that never end
// (cmd/ferry registers it with RegisterOnShutdown). Later changes are not
// rendered.
func (s *Server) Close() {
	h := s.hub
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
		h.cancel()
	}
	h.mu.Unlock()
	h.wg.Wait()
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
