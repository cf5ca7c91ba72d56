package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

// boardView is the project × environment matrix.
type boardView struct {
	Envs    []string   // the columns: every environment name, in order of first appearance
	Rows    []boardRow // one per project
	Freezes []string   // each freeze: open now until when, or its next window
}

type boardRow struct {
	Project string
	Cells   []*boardCell // by column; nil where the project has no such environment
}

// boardCell is one environment on the board.
type boardCell struct {
	pipeline.EnvStatus
	Runtime            string // what its target says it runs, as bot.DescribeRuntime puts it; "" when it cannot say
	RuntimeUnavailable bool   // its target can say but failed to; the error is logged, not shown
}

func (s *Server) boardPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	b, err := s.board(ctx)
	if err != nil {
		msg, st := s.explain(ctx, err)
		s.refuse(w, r, st, msg)
		return
	}
	s.renderPage(w, r, http.StatusOK, "board", pageData{Title: "Board", Nav: "board", Viewer: v}, b)
}

func (s *Server) board(ctx context.Context) (boardView, error) {
	cells, err := s.engine.Board(ctx, "")
	if err != nil {
		return boardView{}, err
	}
	var b boardView
	now := s.engine.Now()
	for _, f := range s.engine.Freezes("") {
		b.Freezes = append(b.Freezes, f.Describe(now))
	}
	col := map[string]int{}
	for _, c := range cells {
		if _, ok := col[c.Env]; !ok {
			col[c.Env] = len(b.Envs)
			b.Envs = append(b.Envs, c.Env)
		}
	}
	all := make([]*boardCell, len(cells))
	for i, c := range cells {
		all[i] = &boardCell{EnvStatus: c}
		if len(b.Rows) == 0 || b.Rows[len(b.Rows)-1].Project != c.Project {
			b.Rows = append(b.Rows, boardRow{Project: c.Project, Cells: make([]*boardCell, len(b.Envs))})
		}
		b.Rows[len(b.Rows)-1].Cells[col[c.Env]] = all[i]
	}
	s.addRuntimes(ctx, all)
	return b, nil
}

// addRuntimes fills in what the target of each cell says it runs; a slow
// or broken platform makes a cell say "runtime unavailable" (see
// pipeline.Engine.Runtimes), not the page fail or hang.
func (s *Server) addRuntimes(ctx context.Context, cells []*boardCell) {
	envs := make([]pipeline.EnvStatus, len(cells))
	for i, c := range cells {
		envs[i] = c.EnvStatus
	}
	for i, a := range s.engine.Runtimes(ctx, envs) {
		c := cells[i]
		switch {
		case a.Err != nil:
			s.log.Error("board: runtime", "project", c.Project, "env", c.Env, "err", a.Err)
			c.RuntimeUnavailable = true
		case a.OK:
			c.Runtime = bot.DescribeRuntime(a.Runtime)
		}
	}
}

// deployView is the page of one deploy.
type deployView struct {
	Card    cardView
	Details pipeline.Details
}

// maxPageLog is how many lines of output a deploy's page shows.
const maxPageLog = 5000

func (s *Server) deployPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.refuse(w, r, http.StatusNotFound, fmt.Sprintf("%q is not a deploy number", r.PathValue("id")))
		return
	}
	x, err := s.engine.Details(ctx, id, maxPageLog)
	if err != nil {
		msg, st := s.explain(ctx, err, "deploy_id", id)
		s.refuse(w, r, st, msg)
		return
	}
	c := bot.NewCard(bot.CardInput{Deploy: x.Deploy, Units: x.Units, Approvals: x.Approvals, Logs: x.Logs, Now: x.Now})
	view := deployView{Card: cardView{Card: c, CSRF: v.CSRF, Back: fmt.Sprintf("/deploys/%d", id)}, Details: x}
	title := fmt.Sprintf("#%d %s", id, c.Title)
	s.renderPage(w, r, http.StatusOK, "deploy", pageData{Title: title, Nav: "history", Viewer: v, Live: true}, view)
}

// deployLive renders what changes on a deploy's page while it runs — its
// timeline, its units, and the log lines after the one numbered ?after= —
// for the page's script to put in place when the event stream says the
// deploy changed.
func (s *Server) deployLive(w http.ResponseWriter, r *http.Request, _ *viewer) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.refuse(w, r, http.StatusNotFound, fmt.Sprintf("%q is not a deploy number", r.PathValue("id")))
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	x, err := s.engine.Details(ctx, id, maxPageLog)
	if err != nil {
		msg, st := s.explain(ctx, err, "deploy_id", id)
		s.refuse(w, r, st, msg)
		return
	}
	logs := x.Logs[:0:0]
	for _, e := range x.Logs {
		if e.Seq > after {
			logs = append(logs, e)
		}
	}
	x.Logs = logs
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	s.renderPart(w, "deploy-live", x)
}

// historyView is the list of past deploys and the filter that chose them.
type historyView struct {
	Project, Env, State, Person, Period string
	Projects, Envs, People              []string
	States                              []pipeline.State
	Periods                             []string
	Deploys                             []pipeline.Deploy
	Error                               string
}

const historyLimit = 100

// projectsAndEnvs are the names of ps, in order, and the names of their
// environments, each once, in the order they first appear: the choices of
// the history and audit filters.
func projectsAndEnvs(ps []pipeline.Project) (projects, envs []string) {
	for _, p := range ps {
		projects = append(projects, p.Name)
		for _, e := range p.Envs {
			if !slices.Contains(envs, e.Name) {
				envs = append(envs, e.Name)
			}
		}
	}
	return projects, envs
}

func (s *Server) historyPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	q := r.URL.Query()
	view := historyView{Project: q.Get("project"), Env: q.Get("env"), State: q.Get("state"), Person: q.Get("person"), Period: q.Get("period"),
		States: pipeline.States, Periods: periodChoices}
	if s.dash != nil {
		view.People = s.dash.Directory().Users
	}
	view.Projects, view.Envs = projectsAndEnvs(s.engine.Projects())
	st := http.StatusOK
	f := pipeline.DeployFilter{Project: view.Project, Env: view.Env, Requester: view.Person, Limit: historyLimit}
	if view.State != "" {
		if !slices.Contains(pipeline.States, pipeline.State(view.State)) {
			view.Error, st = fmt.Sprintf("%q is not a state of a deploy", view.State), http.StatusBadRequest
		}
		f.States = []pipeline.State{pipeline.State(view.State)}
	}
	if view.Period != "" && view.Error == "" {
		p, err := dashboards.ParsePeriod(view.Period, s.now(), s.location())
		if err != nil {
			view.Error, st = err.Error(), http.StatusBadRequest
		}
		f.Since, f.Until = p.From, p.To
	}
	if view.Error == "" {
		ds, err := s.engine.Deploys(ctx, f)
		if err != nil {
			view.Error, st = s.explain(ctx, err, "project", view.Project, "env", view.Env)
		}
		view.Deploys = ds
	}
	s.renderPage(w, r, st, "history", pageData{Title: "History", Nav: "history", Viewer: v}, view)
}

// location is the time zone of periods typed into pages: the dashboards',
// or UTC.
func (s *Server) location() *time.Location {
	if s.dash != nil {
		return s.dash.Location()
	}
	return time.UTC
}
