package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

type cardMsg struct {
	ID   int64  `json:"id"`
	HTML string `json:"html"`
}

// stream reads the event stream of c and sends each card event.
func (f *fixture) stream(ctx context.Context, c *http.Client) (<-chan cardMsg, <-chan string) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.ts.URL+"/events", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	sc := *c
	sc.Timeout = 0 // the stream stays open
	res, err := sc.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		f.t.Fatalf("events: %d %v", res.StatusCode, res.Header)
	}
	cards, comments := make(chan cardMsg, 100), make(chan string, 100)
	go func() {
		defer res.Body.Close()
		defer close(cards)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ":"):
				comments <- strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "event: "):
				event = line[len("event: "):]
			case strings.HasPrefix(line, "data: ") && event == "card":
				var m cardMsg
				if err := json.Unmarshal([]byte(line[len("data: "):]), &m); err != nil {
					f.t.Errorf("card event %q: %v", line, err)
				}
				cards <- m
			case line == "":
				event = ""
			}
		}
	}()
	return cards, comments
}

func TestEvents(t *testing.T) {
	f := newFixture(t)
	f.srv.ping = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bob := f.signIn("bob", bobPassword)
	cards, comments := f.stream(ctx, bob)
	if c := <-comments; c != "connected" {
		t.Fatalf("first comment %q", c)
	}

	f.api(http.MethodPost, "/api/v1/commands", aliceToken, command("deploy demo to staging"), nil)
	var states []string
	for m := range cards {
		if m.ID != 1 || !strings.HasPrefix(m.HTML, `<article class="card`) || !strings.Contains(m.HTML, `id="deploy-1"`) {
			t.Fatalf("card event: %+v", m)
		}
		if strings.Contains(m.HTML, `name="csrf" value="`) && !strings.Contains(m.HTML, `name="csrf" value=""`) {
			t.Errorf("a broadcast card carries somebody's CSRF token: %s", m.HTML)
		}
		st := m.HTML[strings.Index(m.HTML, `data-state="`)+len(`data-state="`):]
		st = st[:strings.IndexByte(st, '"')]
		if len(states) == 0 || states[len(states)-1] != st {
			states = append(states, st)
		}
		if st == string(pipeline.StateSucceeded) {
			break
		}
	}
	// Updates are coalesced per deploy and rendered as the deploy is then,
	// so a fast deploy may skip "running"; the stream must still carry it
	// from its first state to its last.
	if got := strings.Join(states, " "); !strings.HasSuffix(got, "succeeded") || len(states) < 2 {
		t.Errorf("card states streamed: %s", got)
	}
	for c := range comments {
		if c == "ping" {
			break
		}
	}

	// Signing out ends the stream at the next ping.
	f.postForm(bob, "/logout", url.Values{"csrf": {f.csrf(bob)}})
	select {
	case _, open := <-cards:
		for open {
			_, open = <-cards
		}
	case <-ctx.Done():
		t.Fatal("the stream outlived the session")
	}
}

func TestSlowStreamDropped(t *testing.T) {
	h := newHub()
	slow, _ := h.subscribe()
	fast, _ := h.subscribe()
	for i := range streamBuffer + 1 {
		h.broadcast([]byte("event"))
		if i < streamBuffer {
			<-fast
		}
	}
	<-fast
	n := 0
	for range slow { // closed once full: the stream ends, the engine never waits
		n++
	}
	if n != streamBuffer {
		t.Errorf("slow stream got %d events before it was dropped, want %d", n, streamBuffer)
	}
	h.broadcast([]byte("event"))
	if len(fast) != 1 {
		t.Errorf("the fast stream stopped getting events")
	}
	h.unsubscribe(slow) // already dropped: no double close
	h.unsubscribe(fast)
}

// TestNoStreamsNoRendering: with nobody watching, a card is not rendered,
// even one that cannot be.
func TestNoStreamsNoRendering(t *testing.T) {
	f := newFixture(t)
	broken := bot.Outgoing{Notice: pipeline.Notice{Platform: "web", Dest: "deploy 42", Kind: "card", DeployID: 42}}
	f.srv.parts = nil // rendering now panics
	if _, err := f.srv.Deliver(context.Background(), broken, ""); err != nil {
		t.Errorf("Deliver with no stream = %v; want nothing done", err)
	}
}
