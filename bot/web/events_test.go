package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
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
	slow, _ := h.subscribe("s")
	fast, _ := h.subscribe("s")
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

// openStream opens /events as c and reads its first line; it returns the
// status, the Retry-After header and the body of a refusal.
func (f *fixture) openStream(ctx context.Context, c *http.Client) (status int, retryAfter, body string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.ts.URL+"/events", nil)
	if err != nil {
		f.t.Error(err)
		return 0, "", ""
	}
	sc := *c
	sc.Timeout = 0 // the stream stays open
	res, err := sc.Do(req)
	if err != nil {
		f.t.Errorf("events: %v", err)
		return 0, "", ""
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Retry-After"), string(b)
	}
	go func() { <-ctx.Done(); res.Body.Close() }()
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "retry: 3000\n" {
		f.t.Errorf("first line of a stream: %q, %v", line, err)
	}
	return res.StatusCode, "", ""
}

// TestStreamLimits opens streams concurrently: a session gets at most
// maxSessionStreams (429 beyond), ferry serves at most its total (503 with
// Retry-After beyond), and a closed stream makes room.
func TestStreamLimits(t *testing.T) {
	f := newFixture(t)
	f.srv.hub.total = maxSessionStreams + 2
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	alice, bob := f.signIn("alice", alicePassword), f.signIn("bob", bobPassword)

	// One session opens one stream more than it may, all at once.
	first, closeFirst := context.WithCancel(ctx)
	var mu sync.Mutex
	statuses := map[int]int{}
	var refusal string
	var wg sync.WaitGroup
	for i := range maxSessionStreams + 1 {
		wg.Go(func() {
			sctx := ctx
			if i == 0 {
				sctx = first
			}
			st, _, body := f.openStream(sctx, alice)
			mu.Lock()
			defer mu.Unlock()
			statuses[st]++
			if st != http.StatusOK {
				refusal = body
			}
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] != maxSessionStreams || statuses[http.StatusTooManyRequests] != 1 {
		t.Fatalf("%d concurrent streams of one session: %v; want %d × 200 and one 429", maxSessionStreams+1, statuses, maxSessionStreams)
	}
	if !strings.Contains(refusal, "your session already has 8 open; close some of ferry's tabs") {
		t.Errorf("the 429 says %q", refusal)
	}

	// Another session fills what is left of the total, and is refused beyond.
	for range 2 {
		if st, _, body := f.openStream(ctx, bob); st != http.StatusOK {
			t.Fatalf("bob's stream: %d %s", st, body)
		}
	}
	st, retry, body := f.openStream(ctx, bob)
	if st != http.StatusServiceUnavailable || retry != "30" || !strings.Contains(body, "it is serving as many as it can (10); reload in 30s") {
		t.Fatalf("a stream beyond the total: %d, Retry-After %q, %q", st, retry, body)
	}

	// A stream that ends makes room, for a session that had reached its bound too.
	closeFirst()
	for deadline := time.Now().Add(10 * time.Second); f.srv.hub.streams() > f.srv.hub.total-1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the closed stream is still counted: %d open", f.srv.hub.streams())
		}
	}
	if st, _, body := f.openStream(ctx, alice); st != http.StatusOK {
		t.Errorf("alice's stream after she closed one: %d %s", st, body)
	}
}

// replicas stands for the other replicas on one database: it records
// what this one publishes and hands it the changes the others made.
type replicas struct {
	mu        sync.Mutex
	published []int64
	changes   chan int64
}

func (r *replicas) PublishChange(_ context.Context, id int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.published = append(r.published, id)
	return nil
}

func (r *replicas) Changes() <-chan int64 { return r.changes }

// TestEventsAcrossReplicas: a change this replica's outbox delivers is
// published to the others, and a change another replica made reaches
// this replica's open pages.
func TestEventsAcrossReplicas(t *testing.T) {
	others := &replicas{changes: make(chan int64, 1)}
	f := newFixture(t, setup{replicas: others})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f.api(http.MethodPost, "/api/v1/commands", aliceToken, command("deploy demo to staging"), nil)
	d := f.wait(1, pipeline.StateSucceeded)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		others.mu.Lock()
		published := slices.Contains(others.published, d.ID)
		others.mu.Unlock()
		if published {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("deploy 1 was not published to the other replicas")
		}
	}

	bob := f.signIn("bob", bobPassword)
	cards, comments := f.stream(ctx, bob)
	if c := <-comments; c != "connected" {
		t.Fatalf("first comment %q", c)
	}
	others.changes <- d.ID // another replica changed deploy 1
	select {
	case m := <-cards:
		if m.ID != d.ID || !strings.Contains(m.HTML, `data-state="succeeded"`) {
			t.Fatalf("card event %+v, want deploy 1 as it is now", m)
		}
	case <-ctx.Done():
		t.Fatal("a change another replica made did not reach the open page")
	}
}
