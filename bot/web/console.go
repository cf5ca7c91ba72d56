package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// consoleCards is how many recent deploys the console shows.
const consoleCards = 20

type consoleView struct {
	Cards []cardView
	Hints []string
}

// console is the chat: the command box, the last reply and the cards of
// recent deploys, which the page's script keeps live.
func (s *Server) console(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	view := consoleView{Hints: s.hints()}
	ds, err := s.engine.Deploys(ctx, pipeline.DeployFilter{Limit: consoleCards})
	if err != nil {
		msg, st := s.explain(ctx, err)
		s.refuse(w, r, st, msg)
		return
	}
	for _, d := range ds {
		c, err := s.bot.Card(ctx, d.ID)
		if err != nil {
			s.explain(ctx, err, "deploy_id", d.ID, "project", d.Project, "env", d.Env)
			continue
		}
		view.Cards = append(view.Cards, cardView{Card: c, CSRF: v.CSRF})
	}
	s.renderPage(w, r, http.StatusOK, "console", pageData{Title: "Console", Nav: "console", Viewer: v, Live: true}, view)
}

// hints are example commands for the projects ferry knows.
func (s *Server) hints() []string {
	hints := []string{"help", "status"}
	for _, p := range s.engine.Projects() {
		for _, e := range p.Envs {
			if e.DefaultRef != "" {
				return append(hints, "deploy "+p.Name+" to "+e.Name, "history "+p.Name)
			}
		}
	}
	return hints
}

// command runs what the person typed.
func (s *Server) command(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.run(w, r, v, r.PostForm.Get("text"))
}

// action runs the text command of a card's button: the same path as typing
// it, so the same parser and policy decide.
func (s *Server) action(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.run(w, r, v, r.PostForm.Get("command"))
}

// run runs a command as the viewer and shows the reply: as a fragment to
// the page's script, or once on the page the form came from.
func (s *Server) run(w http.ResponseWriter, r *http.Request, v *viewer, text string) {
	reply := s.bot.Handle(r.Context(), v.Actor, text)
	if reply.Kind == bot.KindInternal {
		// The verb and target only: the text may hold a secret
		// (config demo prod set DB_PASSWORD=…), which the audit keeps
		// only a digest of.
		cmd, _ := bot.Parse(text) // it parsed, or it would not have failed inside
		s.log.ErrorContext(r.Context(), "web: command failed", append(cmd.LogArgs(), "platform", "web", "actor", v.Name)...)
	}
	if fromScript(r) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(replyStatus(reply))
		s.renderPart(w, "reply", s.replyView(text, reply, v.CSRF))
		return
	}
	s.flashes.put(v.Nonce, flash{command: text, reply: reply}, s.now())
	http.Redirect(w, r, localPath(r.PostForm.Get("back")), http.StatusSeeOther)
}

// flashes keep the reply of a form post for the page it redirects to,
// one per session, for a few minutes.
type flashes struct {
	mu sync.Mutex
	m  map[string]flash // session nonce → reply
}

type flash struct {
	command string
	reply   bot.Reply
	expires time.Time
}

const flashTTL = 5 * time.Minute

func newFlashes() *flashes { return &flashes{m: map[string]flash{}} }

func (f *flashes) put(nonce string, fl flash, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n, x := range f.m {
		if now.After(x.expires) {
			delete(f.m, n)
		}
	}
	fl.expires = now.Add(flashTTL)
	f.m[nonce] = fl
}

func (f *flashes) take(nonce string) (flash, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl, ok := f.m[nonce]
	delete(f.m, nonce)
	return fl, ok
}
