package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// streamBuffer is how many events a stream may fall behind before it is
// dropped; the browser reconnects by itself.
const streamBuffer = 32

// Bounds of the event streams: each holds a connection and two goroutines
// for as long as its page is open.
const (
	maxSessionStreams = 8   // per session: a few tabs
	maxStreams        = 256 // in all
	streamsRetryAfter = 30 * time.Second
)

// Why a stream is not opened.
var (
	errSessionStreams = errors.New("too many live streams for this session")
	errStreams        = errors.New("too many live streams")
	errClosed         = errors.New("ferry is shutting down")
)

// hub fans rendered card events out to the event streams.
type hub struct {
	mu                sync.Mutex
	subs              map[chan []byte]string // stream → its session's nonce
	sessions          map[string]int         // session nonce → its open streams
	perSession, total int                    // the bounds of subscribe
	closed            bool
	done              chan struct{} // closed by Close: every stream ends
}

func newHub() *hub {
	return &hub{subs: map[chan []byte]string{}, sessions: map[string]int{},
		perSession: maxSessionStreams, total: maxStreams, done: make(chan struct{})}
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

// Replicas carries deploy changes between the consoles of replicas: the
// replica that delivers a change of the web's outbox publishes it, and
// every other one shows it in its own open pages (see Run).
type Replicas interface {
	PublishChange(ctx context.Context, deployID int64) error
	Changes() <-chan int64
}

// Deliver implements bot.Sink: it offers the deploy's card to every open
// event stream, rendered once and only if somebody is watching, and tells
// the other replicas, whose pages show it too. A stream that has fallen
// behind is dropped; its browser reconnects by itself.
func (s *Server) Deliver(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	if s.replicas != nil {
		if err := s.replicas.PublishChange(ctx, o.DeployID); err != nil {
			return ref, err
		}
	}
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

// Run shows in this replica's open pages the deploys other replicas
// changed, until ctx ends: changes that arrive together are rendered once
// per deploy, and only while somebody is watching. Without Replicas it
// waits for ctx. It also checks the identity provider, if there is one,
// once at start.
func (s *Server) Run(ctx context.Context) error {
	if s.idp != nil {
		go s.checkProvider(ctx)
	}
	if s.replicas == nil {
		<-ctx.Done()
		return nil
	}
	changes := s.replicas.Changes()
	for {
		var id int64
		select {
		case <-ctx.Done():
			return nil
		case id = <-changes:
		}
		ids := map[int64]bool{id: true}
	more:
		for {
			select {
			case id := <-changes:
				ids[id] = true
			default:
				break more
			}
		}
		if !s.hub.watched() {
			continue
		}
		for id := range ids {
			c, err := s.bot.Card(ctx, id)
			if err == nil {
				var ev []byte
				if ev, err = s.cardEvent(c); err == nil {
					s.hub.broadcast(ev)
				}
			}
			if err != nil && ctx.Err() == nil {
				s.log.Error("web: show a change another replica made", "deploy_id", id, "err", err)
			}
		}
	}
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
			h.drop(ch)
		}
	}
}

// subscribe opens a stream for a session, within the bounds: at most
// perSession streams of one session, total in all.
func (h *hub) subscribe(session string) (chan []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, errClosed
	case h.sessions[session] >= h.perSession:
		return nil, errSessionStreams
	case len(h.subs) >= h.total:
		return nil, errStreams
	}
	ch := make(chan []byte, streamBuffer)
	h.subs[ch] = session
	h.sessions[session]++
	return ch, nil
}

func (h *hub) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drop(ch)
}

// drop ends a stream, if it is open; h.mu is held.
func (h *hub) drop(ch chan []byte) {
	session, ok := h.subs[ch]
	if !ok {
		return
	}
	delete(h.subs, ch)
	close(ch)
	if h.sessions[session]--; h.sessions[session] <= 0 {
		delete(h.sessions, session)
	}
}

// streams is how many streams are open.
func (h *hub) streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
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
// every 15 seconds so that proxies keep the connection open. A session
// opens at most maxSessionStreams (429 beyond) and ferry serves at most
// maxStreams (503 with Retry-After beyond).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	v, ok := s.viewer(w, r)
	if !ok {
		http.Error(w, "sign in to follow deploys", http.StatusUnauthorized)
		return
	}
	ch, err := s.hub.subscribe(v.Nonce)
	switch {
	case errors.Is(err, errSessionStreams):
		http.Error(w, fmt.Sprintf("ferry did not open this live view: your session already has %d open; close some of ferry's tabs, then reload", s.hub.perSession), http.StatusTooManyRequests)
		return
	case errors.Is(err, errStreams):
		w.Header().Set("Retry-After", strconv.Itoa(int(streamsRetryAfter.Seconds())))
		http.Error(w, fmt.Sprintf("ferry did not open this live view: it is serving as many as it can (%d); reload in %s", s.hub.total, streamsRetryAfter), http.StatusServiceUnavailable)
		return
	case err != nil:
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
			if ok, err := s.current(r.Context(), v.session); !s.now().Before(v.Expires) || !ok || err != nil {
				return // the session ended while the page was open
			}
			if !send([]byte(": ping\n\n")) {
				return
			}
		}
	}
}
