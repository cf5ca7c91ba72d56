package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages are the templates under templates/ that are whole pages; the other
// files (layout.html, parts.html, card.html) are shared by all of them.
var pages = []string{"console", "login", "board", "deploy", "history", "audit", "outbox", "error", "link", "dashboard", "leaderboards", "tokens", "setup"}

var shared = []string{"templates/layout.html", "templates/card.html", "templates/parts.html"}

// pageData is what the layout needs to frame a page.
type pageData struct {
	Title  string
	Nav    string     // the current section: console, board, history, audit, outbox, dashboard, leaderboards
	Viewer *viewer    // nil when signed out
	Live   bool       // the page follows the event stream
	Flash  *replyView // the reply to the form posted before the redirect here
	Body   any        // the page's own data
}

// cardView is a card as a template renders it.
type cardView struct {
	Card bot.Card
	CSRF string // "" in a card broadcast to every stream: the script fills it in
	Back string // the page a button's form returns to without the script; "": the console
}

// replyView is the answer to a command as a template renders it.
type replyView struct {
	Command string
	bot.Reply
	CSRF string
}

// notice is a sentence shown on its own: an error page, a refusal.
type notice struct {
	Error bool
	Text  string
}

func (s *Server) loadTemplates() error {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return fmt.Errorf("web: static: %w", err)
	}
	s.static = static
	s.assets = map[string]string{}
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		s.assets[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return fmt.Errorf("web: static: %w", err)
	}
	base, err := template.New("").Funcs(s.funcs()).ParseFS(templateFS, shared...)
	if err != nil {
		return fmt.Errorf("web: templates: %w", err)
	}
	s.parts = base
	s.pages = map[string]*template.Template{}
	for _, p := range pages {
		files := []string{"templates/" + p + ".html"}
		if p == "leaderboards" {
			files = append([]string{"templates/dashboard.html"}, files...) // its selectors
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, files...)
		if err != nil {
			return fmt.Errorf("web: templates: %w", err)
		}
		s.pages[p] = t
	}
	return nil
}

func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) (string, error) {
			h, ok := s.assets[name]
			if !ok {
				return "", fmt.Errorf("no asset %q", name)
			}
			return "/static/" + name + "?v=" + h, nil
		},
		"words": func(v any) string { return strings.ReplaceAll(fmt.Sprint(v), "_", " ") },
		"stamp": stamp,
		"clock": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("15:04:05")
		},
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"dur": bot.ShortDuration,
		"took": func(d pipeline.Deploy) string {
			if d.StartedAt.IsZero() || d.FinishedAt.IsZero() {
				return ""
			}
			return bot.ShortDuration(d.FinishedAt.Sub(d.StartedAt))
		},
		"inc":  func(i int) int { return i + 1 },
		"tone": tone,
		"card": func(c bot.Card, csrf, back string) cardView { return cardView{Card: c, CSRF: csrf, Back: back} },
		"deployPath": func(id int64) string {
			return fmt.Sprintf("/deploys/%d", id)
		},
		"unitGroups": bot.UnitGroups,
		"join":       strings.Join,
		"dashLink":   dashLink,
		"dashboards": func() bool { return s.dash != nil },
		"outbox":     func() bool { return s.outbox != nil },
		"tokens":     func() bool { return s.tokens != nil },
		"boardLine":  bot.BoardLine,
	}
}

// tone is the colour family of a deploy or unit state, for its badge.
func tone(state any) string {
	switch fmt.Sprint(state) {
	case "succeeded", "done":
		return "good"
	case "running", "rolling_back", "queued", "requested":
		return "busy"
	case "awaiting_approval", "paused", "partial":
		return "wait"
	case "failed", "interrupted":
		return "bad"
	case "rolled_back":
		return "back"
	}
	return "idle" // denied, rejected, expired, cancelled, pending
}

// stamp writes a time the same way for everybody; "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// renderPage renders a whole page into a buffer first, so that a template
// error becomes a clean 500 rather than half a page.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, st int, name string, pd pageData, body any) {
	pd.Body = body
	if pd.Viewer != nil {
		if f, ok := s.flashes.take(pd.Viewer.Nonce); ok {
			rv := s.replyView(f.command, f.reply, pd.Viewer.CSRF)
			pd.Flash = &rv
		}
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", pd); err != nil {
		s.log.ErrorContext(r.Context(), "web: render page", "platform", "web", "page", name, "err", err)
		http.Error(w, "ferry could not render this page; the error is in its log", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(st)
	_, _ = buf.WriteTo(w)
}

// renderPart renders a shared template (card, reply, notice) to w.
func (s *Server) renderPart(w io.Writer, name string, data any) {
	if err := s.parts.ExecuteTemplate(w, name, data); err != nil {
		s.log.Error("web: render", "platform", "web", "template", name, "err", err)
	}
}

// cardHTML renders one card as an HTML fragment.
func (s *Server) cardHTML(cv cardView) (string, error) {
	var b strings.Builder
	if err := s.parts.ExecuteTemplate(&b, "card", cv); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (s *Server) replyView(command string, r bot.Reply, csrf string) replyView {
	return replyView{Command: command, Reply: r, CSRF: csrf}
}

// staticHandler serves the embedded assets; their URLs carry a hash of
// their content, so they may be cached for long.
func (s *Server) staticHandler() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(s.static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.assets[strings.TrimPrefix(r.URL.Path, "/static/")]; !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}
