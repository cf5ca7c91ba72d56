// Package fakeslack is a fake of the parts of Slack ferry talks to, on an
// httptest.Server that speaks Slack's wire format, so that the real client
// code (slack-go) runs against it: the Web API methods ferry calls
// (chat.postMessage, chat.update, chat.postEphemeral, conversations.open,
// conversations.list, apps.connections.open, and the external file upload:
// files.getUploadURLExternal, the upload itself, files.completeUploadExternal),
// response URLs, and a Socket Mode WebSocket. It
// records what it was sent as state for tests to look at, counts every
// call, and answers 429 with Retry-After when told to.
package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Call is one call of a Web API method or a post to a response URL.
type Call struct {
	Method  string // "chat.postMessage", …, or "response_url"
	Channel string
	TS      string // the message it posted or updated
	User    string // chat.postEphemeral: who sees it
	Thread  string // thread_ts
	Text    string
	Blocks  json.RawMessage
	// ResponseType is "ephemeral" or "in_channel" for response_url posts.
	ResponseType    string
	ReplaceOriginal bool
}

// Message is a message as it stands now in a channel.
type Message struct {
	Channel, TS, Text string
	Blocks            json.RawMessage
	Updates           int
	Files             []string // IDs of the files shared with it
}

// File is a file uploaded with files.getUploadURLExternal and the upload
// address it gave.
type File struct {
	ID, Name, Title, AltText string
	Length                   int    // what files.getUploadURLExternal was told
	Data                     []byte // what was uploaded; nil until then
	Channel                  string // where files.completeUploadExternal shared it; "" until then
}

// Server is a fake Slack. The zero value is not usable; use New.
type Server struct {
	BotToken string // what the Web API accepts; set before use
	AppToken string // what apps.connections.open accepts

	srv      *httptest.Server
	mu       sync.Mutex
	calls    []Call
	count    map[string]int
	messages []*Message
	files    []*File
	seq      int
	// Channels are the names conversations.list answers with, without #;
	// their IDs are as channelID makes them.
	Channels []string
	limits   map[string][]int // method → Retry-After seconds of the 429s to answer next
	changed  chan struct{}    // closed and replaced on every change

	upgrader websocket.Upgrader
	sock     *conn
	connects int
	acks     map[string]int
}

// New starts a fake Slack on 127.0.0.1; it stops with the test.
func New(t testing.TB) *Server {
	s := &Server{
		BotToken: "xoxb-fake-bot-token", AppToken: "xapp-1-fake-app-token",
		count: map[string]int{}, limits: map[string][]int{}, acks: map[string]int{}, changed: make(chan struct{}),
		// slack-go sends Origin: https://api.slack.com, as to Slack.
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{method}", s.api)
	mux.HandleFunc("POST /response/{id}", s.response)
	mux.HandleFunc("POST /upload/{id}", s.upload)
	mux.HandleFunc("GET /socket", s.socket)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.mu.Lock()
		if s.sock != nil {
			s.sock.c.Close()
		}
		s.mu.Unlock()
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

// APIURL is the base address of the Web API, for slack.OptionAPIURL.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// ResponseURL is a response URL of a command or a click.
func (s *Server) ResponseURL(id string) string { return s.srv.URL + "/response/" + id }

// RateLimit makes the next calls of method answer 429 with Retry-After,
// one per value given, in seconds.
func (s *Server) RateLimit(method string, retryAfter ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[method] = append(s.limits[method], retryAfter...)
}

// Count returns how many times method was called, 429s included.
func (s *Server) Count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count[method]
}

// Counts returns the number of calls of every method called.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := map[string]int{}
	for k, v := range s.count {
		c[k] = v
	}
	return c
}

// Calls returns the successful calls of method ("" for all), in order.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cs []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			cs = append(cs, c)
		}
	}
	return cs
}

// Messages returns the messages posted with chat.postMessage as they stand.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := make([]Message, len(s.messages))
	for i, m := range s.messages {
		ms[i] = *m
	}
	return ms
}

// Until waits until cond holds, checking it after every change, and fails
// the test after 10 seconds.
func (s *Server) Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond): // what cond reads may be outside the fake
		case <-deadline:
			t.Fatalf("fake Slack: timed out waiting for %s", what)
		}
	}
}

// changedLocked wakes Until; s.mu is held.
func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

type obj = map[string]any

// api serves the Web API methods.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	token := r.PostForm.Get("token")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changedLocked()
	s.count[method]++
	if l := s.limits[method]; len(l) > 0 {
		s.limits[method] = l[1:]
		w.Header().Set("Retry-After", fmt.Sprint(l[0]))
		w.WriteHeader(http.StatusTooManyRequests)
		writeJSON(w, obj{"ok": false, "error": "ratelimited"})
		return
	}
	want := s.BotToken
	if method == "apps.connections.open" {
		want = s.AppToken
	}
	if token != want {
		writeJSON(w, obj{"ok": false, "error": "invalid_auth"})
		return
	}
	f := r.PostForm
	c := Call{Method: method, Channel: channelID(f.Get("channel")), TS: f.Get("ts"), User: f.Get("user"), Thread: f.Get("thread_ts"), Text: f.Get("text")}
	if b := f.Get("blocks"); b != "" {
		c.Blocks = json.RawMessage(b)
	}
	switch method {
	case "chat.postMessage":
		s.seq++
		c.TS = fmt.Sprintf("1700000000.%06d", s.seq)
		s.messages = append(s.messages, &Message{Channel: c.Channel, TS: c.TS, Text: c.Text, Blocks: c.Blocks})
		s.calls = append(s.calls, c)
		writeJSON(w, obj{"ok": true, "channel": c.Channel, "ts": c.TS, "message": obj{"text": c.Text, "ts": c.TS}})
	case "chat.update":
		m := s.find(c.Channel, c.TS)
		if m == nil {
			writeJSON(w, obj{"ok": false, "error": "message_not_found"})
			return
		}
		m.Text, m.Blocks = c.Text, c.Blocks
		m.Updates++
		s.calls = append(s.calls, c)
		writeJSON(w, obj{"ok": true, "channel": c.Channel, "ts": c.TS, "text": c.Text})
	case "chat.postEphemeral":
		s.seq++
		s.calls = append(s.calls, c)
		writeJSON(w, obj{"ok": true, "message_ts": fmt.Sprintf("1700000000.%06d", s.seq)})
	case "conversations.open":
		c.User = f.Get("users")
		s.calls = append(s.calls, c)
		writeJSON(w, obj{"ok": true, "channel": obj{"id": "D" + c.User}})
	case "conversations.list":
		var chans []obj
		for _, name := range s.Channels {
			chans = append(chans, obj{"id": channelID("#" + name), "name": name})
		}
		s.calls = append(s.calls, c)
		writeJSON(w, obj{"ok": true, "channels": chans, "response_metadata": obj{"next_cursor": ""}})
	case "files.getUploadURLExternal":
		s.seq++
		n, _ := strconv.Atoi(f.Get("length"))
		file := &File{ID: fmt.Sprintf("F%06d", s.seq), Name: f.Get("filename"), AltText: f.Get("alt_txt"), Length: n}
		s.files = append(s.files, file)
		s.calls = append(s.calls, c)
		writeJSON(w, obj{"ok": true, "file_id": file.ID, "upload_url": s.srv.URL + "/upload/" + file.ID})
	case "files.completeUploadExternal":
		var shared []struct{ ID, Title string }
		if err := json.Unmarshal([]byte(f.Get("files")), &shared); err != nil || len(shared) == 0 {
			writeJSON(w, obj{"ok": false, "error": "invalid_arguments"})
			return
		}
		c.Channel = f.Get("channel_id")
		s.seq++
		m := &Message{Channel: c.Channel, TS: fmt.Sprintf("1700000000.%06d", s.seq), Blocks: c.Blocks}
		var out []obj
		for _, sh := range shared {
			file := s.file(sh.ID)
			if file == nil || file.Data == nil || len(file.Data) != file.Length {
				writeJSON(w, obj{"ok": false, "error": "file_not_found"})
				return
			}
			file.Title, file.Channel = sh.Title, c.Channel
			m.Files = append(m.Files, file.ID)
			out = append(out, obj{"id": file.ID, "title": file.Title})
		}
		s.messages = append(s.messages, m)
		s.calls = append(s.calls, c)
		writeJSON(w, obj{"ok": true, "files": out})
	case "apps.connections.open":
		s.calls = append(s.calls, c)
		writeJSON(w, obj{"ok": true, "url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/socket"})
	default:
		writeJSON(w, obj{"ok": false, "error": "unknown_method"})
	}
}

// channelID turns a channel name into an ID, as Slack answers with one.
func channelID(ch string) string {
	if name, ok := strings.CutPrefix(ch, "#"); ok {
		return "C" + strings.ToUpper(strings.ReplaceAll(name, "-", ""))
	}
	return ch
}

func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

// upload takes the content of a file at the address
// files.getUploadURLExternal gave, as slack-go sends it: a multipart form
// with a "file" part, and the bot token.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.BotToken {
		http.Error(w, "invalid_auth", http.StatusForbidden)
		return
	}
	part, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	data, err := io.ReadAll(part)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changedLocked()
	s.count["upload"]++
	file := s.file(r.PathValue("id"))
	if file == nil {
		http.NotFound(w, r)
		return
	}
	file.Data = data
	fmt.Fprintf(w, "OK - %d", len(data))
}

func (s *Server) file(id string) *File {
	for _, f := range s.files {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// Files returns the files uploaded, as they stand.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := make([]File, len(s.files))
	for i, f := range s.files {
		fs[i] = *f
	}
	return fs
}

// response serves response URLs.
func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	var m struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
	}
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changedLocked()
	s.count["response_url"]++
	if l := s.limits["response_url"]; len(l) > 0 {
		s.limits["response_url"] = l[1:]
		w.Header().Set("Retry-After", fmt.Sprint(l[0]))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	s.calls = append(s.calls, Call{Method: "response_url", TS: r.PathValue("id"), Text: m.Text, Blocks: m.Blocks, ResponseType: m.ResponseType, ReplaceOriginal: m.ReplaceOriginal})
	_, _ = w.Write([]byte("ok"))
}
