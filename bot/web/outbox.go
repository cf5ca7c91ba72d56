package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// The outbox, for admins: GET /outbox and GET /api/v1/outbox list what
// ferry owes the platforms and has not delivered, pending or given up on;
// POST /outbox/{id}/retry and POST /api/v1/outbox/{id}/retry make a notice
// ferry gave up on owed again, and write that to the audit log.

// Outbox is what the outbox's page and API routes read and change in the
// store; *storage.Store has it.
type Outbox interface {
	// Notices returns the rows f selects, oldest first.
	Notices(ctx context.Context, f pipeline.NoticeFilter) ([]pipeline.Notice, error)
	// Notice returns one row; an error wrapping pipeline.ErrNotFound when
	// there is none (it was delivered).
	Notice(ctx context.Context, id int64) (pipeline.Notice, error)
	// RetryNotice makes a dead notice pending again, due now; an error
	// wrapping pipeline.ErrNotFound when id is no dead notice.
	RetryNotice(ctx context.Context, id int64) error
	// Audit adds an entry to the audit log.
	Audit(ctx context.Context, e pipeline.AuditEntry) error
}

// Bounds of a listing of the outbox.
const (
	outboxLimit    = 200  // rows when the query names no limit
	maxOutboxLimit = 1000 // the most rows one answer holds
)

// outboxParams are the query parameters of the outbox, in the order errors
// name them.
var outboxParams = []string{"platform", "dead", "limit"}

// outboxFilter is what a listing of the outbox asks for.
type outboxFilter struct {
	Platform string
	Dead     bool
	Limit    int
}

// outboxQuery reads the filter of a listing; an empty parameter is no filter.
func outboxQuery(q url.Values) (outboxFilter, error) {
	f := outboxFilter{Limit: outboxLimit}
	if err := knownParams(q, "the outbox", outboxParams); err != nil {
		return f, err
	}
	f.Platform = strings.TrimSpace(q.Get("platform"))
	switch v := strings.TrimSpace(q.Get("dead")); v {
	case "", "0", "false":
	case "1", "true":
		f.Dead = true
	default:
		return f, &paramError{"dead", fmt.Sprintf("dead %q is neither 1 nor 0; give dead=1 for the notices ferry gave up on, or leave it out for every row", v)}
	}
	if v := strings.TrimSpace(q.Get("limit")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxOutboxLimit {
			return f, &paramError{"limit", fmt.Sprintf("limit %q is not a number from 1 to %d", v, maxOutboxLimit)}
		}
		f.Limit = n
	}
	return f, nil
}

// notices returns the rows f selects, and whether there are more.
func (s *Server) notices(ctx context.Context, f outboxFilter) ([]pipeline.Notice, bool, error) {
	ns, err := s.outbox.Notices(ctx, pipeline.NoticeFilter{Platform: f.Platform, Dead: f.Dead, Limit: f.Limit + 1})
	if err != nil {
		return nil, false, err
	}
	if len(ns) > f.Limit {
		return ns[:f.Limit], true, nil
	}
	return ns, false, nil
}

// outboxRefusal is why a person may not use the outbox's routes, and its
// status; "" when they may.
func (s *Server) outboxRefusal(a pipeline.Actor) (string, int) {
	switch {
	case s.outbox == nil:
		return "the outbox is not available: this ferry server was started without one", http.StatusNotFound
	case !a.Admin || a.Name == "":
		return "the outbox is for admins: it shows and retries what ferry owes every platform. An admin can look at it for you, or give you admin: true in ferry.yaml.", http.StatusForbidden
	}
	return "", http.StatusOK
}

// noticeID reads the {id} of a route.
func noticeID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(r.PathValue("id"), "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not the number of an outbox notice; ferry outbox lists them", r.PathValue("id"))
	}
	return id, nil
}

// retry makes dead notice id owed again, as a, and writes that to the
// audit log. It returns the notice as it was, dead. An id that is no dead
// notice is an error wrapping pipeline.ErrNotFound that says why: it was
// delivered, or ferry is still trying it.
func (s *Server) retry(ctx context.Context, a pipeline.Actor, id int64) (pipeline.Notice, error) {
	n, err := s.outbox.Notice(ctx, id)
	if errors.Is(err, pipeline.ErrNotFound) {
		return n, fmt.Errorf("%w: there is no outbox notice %d: it was delivered (or never owed), so there is nothing to retry", pipeline.ErrNotFound, id)
	}
	if err != nil {
		return n, fmt.Errorf("retry notice %d: %w", id, err)
	}
	if n.Dead.IsZero() {
		return n, fmt.Errorf("%w: outbox notice %d (%s %s) is not dead: ferry is still trying it (%s); only a notice ferry gave up on can be retried",
			pipeline.ErrNotFound, id, n.Platform, n.Dest, tries(n.Attempts))
	}
	if err := s.outbox.RetryNotice(ctx, id); errors.Is(err, pipeline.ErrNotFound) {
		return n, fmt.Errorf("%w: outbox notice %d (%s %s) is no longer dead: it was delivered or retried a moment ago", pipeline.ErrNotFound, id, n.Platform, n.Dest)
	} else if err != nil {
		return n, fmt.Errorf("retry notice %d: %w", id, err)
	}
	e := pipeline.AuditEntry{At: s.now(), Actor: a.Name, Action: "outbox retry", DeployID: n.DeployID,
		Detail: fmt.Sprintf("%s %s (%s), given up at %s after %s", n.Platform, n.Dest, n.Kind, stamp(n.Dead), tries(n.Attempts))}
	if n.DeployID != 0 {
		if x, err := s.engine.Details(ctx, n.DeployID, 1); err == nil {
			e.Project, e.Env = x.Deploy.Project, x.Deploy.Env
		}
	}
	if err := s.outbox.Audit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "web: audit outbox retry", "platform", n.Platform, "notice", id, "err", err)
	}
	s.log.InfoContext(ctx, "web: dead notice retried", "platform", n.Platform, "dest", n.Dest, "notice", id, "actor", a.Name)
	return n, nil
}

func tries(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}

// retried says what a retry did.
func retried(n pipeline.Notice) string {
	return fmt.Sprintf("Outbox notice %d (%s %s) is owed again: ferry tries to deliver it now, and gives up again only after outbox.give_up of failures.", n.ID, n.Platform, n.Dest)
}

func (s *Server) apiOutbox(w http.ResponseWriter, r *http.Request, a pipeline.Actor) {
	if msg, st := s.outboxRefusal(a); msg != "" {
		writeJSON(w, st, APIError{Error: msg})
		return
	}
	f, err := outboxQuery(r.URL.Query())
	var bad *paramError
	if errors.As(err, &bad) {
		writeJSON(w, http.StatusBadRequest, APIError{Error: bad.Msg, Param: bad.Param})
		return
	}
	ns, more, err := s.notices(r.Context(), f)
	if err != nil {
		s.apiError(w, r, err, "platform", f.Platform)
		return
	}
	writeJSON(w, http.StatusOK, newAPIOutbox(ns, more))
}

func (s *Server) apiOutboxRetry(w http.ResponseWriter, r *http.Request, a pipeline.Actor) {
	if msg, st := s.outboxRefusal(a); msg != "" {
		writeJSON(w, st, APIError{Error: msg})
		return
	}
	id, err := noticeID(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, APIError{Error: err.Error()})
		return
	}
	n, err := s.retry(r.Context(), a, id)
	if err != nil {
		s.apiError(w, r, err, "notice", id)
		return
	}
	writeJSON(w, http.StatusOK, APIOutboxRetry{Text: retried(n), Notice: newAPINotice(n)})
}

// outboxView is the Outbox page: the filter as typed, and the rows.
type outboxView struct {
	Platform string
	Dead     bool
	Rows     []outboxRow
	More     bool   // there are more rows than the page shows
	Limit    int    // how many it shows at most
	Back     string // this page, for the Retry buttons to come back to
	CSRF     string
	Error    string
}

// outboxRow is one notice as the page shows it.
type outboxRow struct {
	pipeline.Notice
	Next string // when it is tried next: a time, "now", or "" for a dead one
}

func (s *Server) outboxPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	if msg, st := s.outboxRefusal(v.Actor); msg != "" {
		s.refuse(w, r, st, msg)
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	view := outboxView{Platform: q.Get("platform"), Back: localPath(r.URL.RequestURI()), CSRF: v.CSRF}
	st := http.StatusOK
	f, err := outboxQuery(q)
	view.Dead, view.Limit = f.Dead, f.Limit
	if err != nil {
		view.Error, st = err.Error(), http.StatusBadRequest
	} else {
		ns, more, err := s.notices(ctx, f)
		if err != nil {
			view.Error, st = s.explain(ctx, err, "platform", f.Platform)
		}
		view.More = more
		now := s.now()
		for _, n := range ns {
			row := outboxRow{Notice: n}
			switch {
			case !n.Dead.IsZero():
			case n.NotBefore.After(now):
				row.Next = stamp(n.NotBefore)
			default:
				row.Next = "now"
			}
			view.Rows = append(view.Rows, row)
		}
	}
	s.renderPage(w, r, st, "outbox", pageData{Title: "Outbox", Nav: "outbox", Viewer: v}, view)
}

// outboxRetry retries a dead notice from the page's button, and goes back
// to the page with what happened.
func (s *Server) outboxRetry(w http.ResponseWriter, r *http.Request, v *viewer) {
	if msg, st := s.outboxRefusal(v.Actor); msg != "" {
		s.refuse(w, r, st, msg)
		return
	}
	id, err := noticeID(r)
	if err != nil {
		s.refuse(w, r, http.StatusNotFound, err.Error())
		return
	}
	command := fmt.Sprintf("retry outbox notice %d", id)
	reply := bot.Reply{}
	if n, err := s.retry(r.Context(), v.Actor, id); err != nil {
		msg, _ := s.explain(r.Context(), err, "notice", id)
		reply = bot.Reply{Text: msg, Error: true, Kind: bot.ErrorKindOf(err)}
	} else {
		reply.Text = retried(n)
	}
	s.flashes.put(v.Nonce, flash{command: command, reply: reply}, s.now())
	back := localPath(r.PostForm.Get("back"))
	if back != "/outbox" && !strings.HasPrefix(back, "/outbox?") {
		back = "/outbox"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
