package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// The audit log, as GET /api/v1/audit and the Audit page serve it. Both
// read the same query parameters (auditParams) through
// pipeline.Engine.AuditLog, which decides what each person may read.

// auditParams are the query parameters of the audit log, in the order
// errors name them.
var auditParams = []string{"actor", "project", "env", "action", "since", "until", "before", "limit"}

// paramError is a query parameter ferry cannot use, and how to fix it.
type paramError struct {
	Param string
	Msg   string // a sentence that starts with the parameter
}

func (e *paramError) Error() string { return e.Msg }

// knownParams refuses a query with a parameter not in known, or one given
// twice; what names the route in the error ("the audit log").
func knownParams(q url.Values, what string, known []string) error {
	for name, vs := range q {
		if !slices.Contains(known, name) {
			return &paramError{name, fmt.Sprintf("%s is not a parameter of %s; use %s", name, what, strings.Join(known, ", "))}
		}
		if len(vs) > 1 {
			return &paramError{name, fmt.Sprintf("%s is given %d times; give it once", name, len(vs))}
		}
	}
	return nil
}

// auditQuery reads the filter of an audit query. since and until are RFC
// 3339 times, dates (midnight in loc) or durations ago (7d, 24h) from now;
// an empty parameter is no filter.
func auditQuery(q url.Values, now time.Time, loc *time.Location) (pipeline.AuditFilter, error) {
	if err := knownParams(q, "the audit log", auditParams); err != nil {
		return pipeline.AuditFilter{}, err
	}
	get := func(name string) string { return strings.TrimSpace(q.Get(name)) }
	f := pipeline.AuditFilter{Actor: get("actor"), Project: get("project"), Env: get("env"), Action: get("action")}
	var err error
	if f.Since, err = auditTime("since", get("since"), now, loc); err != nil {
		return f, err
	}
	if f.Until, err = auditTime("until", get("until"), now, loc); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, &paramError{"until", fmt.Sprintf("until (%s) is not after since (%s); give a later until or an earlier since",
			f.Until.UTC().Format(time.RFC3339), f.Since.UTC().Format(time.RFC3339))}
	}
	if v := get("before"); v != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(v, "#"), 10, 64)
		if err != nil || n < 1 {
			return f, &paramError{"before", fmt.Sprintf("before %q is not an entry number; give the next_before of the page before, like before=120", v)}
		}
		f.Before = n
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > pipeline.MaxAuditLimit {
			return f, &paramError{"limit", fmt.Sprintf("limit %q is not a number from 1 to %d", v, pipeline.MaxAuditLimit)}
		}
		f.Limit = n
	}
	return f, nil
}

// auditTime reads since or until.
func auditTime(name, v string, now time.Time, loc *time.Location) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return t, nil
	}
	if d, ok := bot.ParseDuration(v); ok {
		return now.Add(-d), nil
	}
	return time.Time{}, &paramError{name, fmt.Sprintf("%s %q is not a time; give an RFC 3339 time (2026-11-02T15:04:05Z), a date (2026-11-02) or how long ago (7d, 24h, 90m)", name, v)}
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request, a pipeline.Actor) {
	f, err := auditQuery(r.URL.Query(), s.now(), s.location())
	var bad *paramError
	if errors.As(err, &bad) {
		writeJSON(w, http.StatusBadRequest, APIError{Error: bad.Msg, Param: bad.Param})
		return
	}
	page, err := s.engine.AuditLog(r.Context(), a, f)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newAPIAuditLog(page))
}

// auditView is the Audit page: the filter as typed, and a page of entries.
type auditView struct {
	Actor, Project, Env, Action, Since, Until string
	Limit                                     string // the page size asked for; "" for the default
	Projects, Envs, Actions                   []string
	Scope                                     string // what the viewer may read, in words
	Rows                                      []auditRow
	Newer                                     string // the first page of this filter, when this is not it; "" otherwise
	Older                                     string // the next page; "" when this is the last
	Error                                     string
}

// auditRow is one entry as the page shows it.
type auditRow struct {
	pipeline.AuditEntry
	Tone string // the badge of its action: bad for refusals and failures
}

// auditActions are the actions the page offers to filter by.
var auditActions = []string{
	"deploy", "deploy denied", "rollback", "rollback denied", "promote", "promote denied",
	"approve", "approve denied", "reject", "reject denied",
	"continue", "continue denied", "pause", "pause denied", "cancel", "cancel denied", "resume", "resume denied",
	"lock", "lock denied", "unlock", "unlock denied",
	"scale", "scale denied", "scale failed", "restart", "restart denied", "restart failed",
	"config", "config denied", "config failed", "link", "outbox retry",
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	q := r.URL.Query()
	view := auditView{Actor: q.Get("actor"), Project: q.Get("project"), Env: q.Get("env"), Action: q.Get("action"),
		Since: q.Get("since"), Until: q.Get("until"), Actions: auditActions}
	view.Projects, view.Envs = projectsAndEnvs(s.engine.Projects())
	st := http.StatusOK
	f, err := auditQuery(q, s.now(), s.location())
	if err != nil {
		view.Error, st = err.Error(), http.StatusBadRequest
	} else {
		if f.Limit != 0 { // kept by the form; a bad one is dropped, so the next Show works
			view.Limit = strconv.Itoa(f.Limit)
		}
		page, err := s.engine.AuditLog(ctx, v.Actor, f)
		if err != nil {
			view.Error, st = s.explain(ctx, err)
		}
		view.Scope = describeScope(page.Scope)
		for _, e := range page.Entries {
			view.Rows = append(view.Rows, auditRow{AuditEntry: e, Tone: auditTone(e.Action)})
		}
		if page.Next != 0 {
			view.Older = auditLink(q, page.Next)
		}
		if f.Before != 0 {
			view.Newer = auditLink(q, 0)
		}
	}
	s.renderPage(w, r, st, "audit", pageData{Title: "Audit", Nav: "audit", Viewer: v}, view)
}

// auditLink is the page of the audit log q selects before entry before (0:
// from the newest), keeping q's filter.
func auditLink(q url.Values, before int64) string {
	next := url.Values{}
	for _, name := range auditParams {
		if v := q.Get(name); v != "" && name != "before" {
			next.Set(name, v)
		}
	}
	if before != 0 {
		next.Set("before", strconv.FormatInt(before, 10))
	}
	if len(next) == 0 {
		return "/audit"
	}
	return "/audit?" + next.Encode()
}

func auditTone(action string) string {
	if strings.HasSuffix(action, " denied") || strings.HasSuffix(action, " failed") {
		return "bad"
	}
	return "idle"
}

// describeScope says what a person may read of the audit log.
func describeScope(sc *pipeline.AuditScope) string {
	switch {
	case sc == nil:
		return "You see every entry: you are an admin."
	case len(sc.Projects) == 0 && sc.Actor == "":
		return "You see no entries: ferry does not know you."
	case len(sc.Projects) == 0:
		return "You see your own entries: you may deploy no project."
	}
	return "You see the entries of " + strings.Join(sc.Projects, ", ") + ", the projects you may deploy, and your own."
}
