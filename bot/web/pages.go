package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// boardView is the project × environment matrix.
type boardView struct {
	Envs []string   // the columns: every environment name, in order of first appearance
	Rows []boardRow // one per project
}

type boardRow struct {
	Project string
	Cells   []*pipeline.EnvStatus // by column; nil where the project has no such environment
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
	col := map[string]int{}
	for _, c := range cells {
		if _, ok := col[c.Env]; !ok {
			col[c.Env] = len(b.Envs)
			b.Envs = append(b.Envs, c.Env)
		}
	}
	for i := range cells {
		c := &cells[i]
		if len(b.Rows) == 0 || b.Rows[len(b.Rows)-1].Project != c.Project {
			b.Rows = append(b.Rows, boardRow{Project: c.Project, Cells: make([]*pipeline.EnvStatus, len(b.Envs))})
		}
		b.Rows[len(b.Rows)-1].Cells[col[c.Env]] = c
	}
	return b, nil
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

// historyView is the list of past deploys and the filter that chose them.
type historyView struct {
	Project, Env string
	Projects     []string
	Envs         []string
	Deploys      []pipeline.Deploy
	Error        string
}

const historyLimit = 100

func (s *Server) historyPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	q := r.URL.Query()
	view := historyView{Project: q.Get("project"), Env: q.Get("env")}
	for _, p := range s.engine.Projects() {
		view.Projects = append(view.Projects, p.Name)
		for _, e := range p.Envs {
			if !slices.Contains(view.Envs, e.Name) {
				view.Envs = append(view.Envs, e.Name)
			}
		}
	}
	st := http.StatusOK
	ds, err := s.engine.Deploys(ctx, pipeline.DeployFilter{Project: view.Project, Env: view.Env, Limit: historyLimit})
	if err != nil {
		view.Error, st = s.explain(ctx, err, "project", view.Project, "env", view.Env)
	}
	view.Deploys = ds
	s.renderPage(w, r, st, "history", pageData{Title: "History", Nav: "history", Viewer: v}, view)
}
