package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/ferrybot/ferry/pipeline"
)

// apiLogLines is how many lines of output GET /api/v1/deploys/{id} returns.
const apiLogLines = 200

// api serves an API route to the owner of a bearer token. A request
// without a token that ferry knows gets 401 and changes nothing.
func (s *Server) api(fn func(http.ResponseWriter, *http.Request, pipeline.Actor)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ferry"`)
			writeJSON(w, http.StatusUnauthorized, APIError{Error: "missing API token: send the header Authorization: Bearer <token>"})
			return
		}
		u, ok := s.users.UserByToken(token)
		if !ok {
			var why string
			if u, why = s.personalToken(r.Context(), token); why != "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="ferry", error="invalid_token"`)
				writeJSON(w, http.StatusUnauthorized, APIError{Error: why})
				return
			}
		}
		fn(w, r, s.users.Actor(u.Name))
	}
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

func writeJSON(w http.ResponseWriter, st int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // only for values that cannot be JSON: a bug
		st = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"ferry could not encode its answer"}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(st)
	_, _ = buf.WriteTo(w)
}

// apiError answers with the status of err and what may be said about it.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error, keys ...any) {
	msg, st := s.explain(r.Context(), err, keys...)
	writeJSON(w, st, APIError{Error: msg})
}

// apiCommand runs a command as the token's owner.
func (s *Server) apiCommand(w http.ResponseWriter, r *http.Request, a pipeline.Actor) {
	var req CommandRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.apiError(w, r, err)
			return
		}
		writeJSON(w, http.StatusBadRequest, APIError{Error: `the body must be JSON like {"text": "deploy demo to staging"}`})
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeJSON(w, http.StatusBadRequest, APIError{Error: "the body must hold one JSON object"})
		return
	}
	reply := s.bot.Handle(r.Context(), a, req.Text)
	writeJSON(w, replyStatus(reply), newCommandResponse(reply))
}

func (s *Server) apiDeploy(w http.ResponseWriter, r *http.Request, _ pipeline.Actor) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeJSON(w, http.StatusBadRequest, APIError{Error: fmt.Sprintf("%q is not a deploy number", r.PathValue("id"))})
		return
	}
	x, err := s.engine.Details(r.Context(), id, apiLogLines)
	if err != nil {
		s.apiError(w, r, err, "deploy_id", id)
		return
	}
	writeJSON(w, http.StatusOK, newAPIDetails(x))
}

const (
	defaultListLimit = 50
	maxListLimit     = 1000
)

func (s *Server) apiDeploys(w http.ResponseWriter, r *http.Request, _ pipeline.Actor) {
	q := r.URL.Query()
	f := pipeline.DeployFilter{Project: q.Get("project"), Env: q.Get("env"), Limit: defaultListLimit}
	for _, v := range q["state"] {
		for _, name := range strings.Split(v, ",") {
			st := pipeline.State(strings.TrimSpace(name))
			if st == "" {
				continue
			}
			if !slices.Contains(pipeline.States, st) {
				writeJSON(w, http.StatusBadRequest, APIError{Error: fmt.Sprintf("unknown state %q; valid states: %s", st, stateNames())})
				return
			}
			f.States = append(f.States, st)
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxListLimit {
			writeJSON(w, http.StatusBadRequest, APIError{Error: fmt.Sprintf("limit must be a number from 1 to %d", maxListLimit)})
			return
		}
		f.Limit = n
	}
	ds, err := s.engine.Deploys(r.Context(), f)
	if err != nil {
		s.apiError(w, r, err, "project", f.Project, "env", f.Env)
		return
	}
	writeJSON(w, http.StatusOK, APIDeployList{Deploys: newAPIDeploys(ds)})
}

func stateNames() string {
	names := make([]string, len(pipeline.States))
	for i, s := range pipeline.States {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func (s *Server) apiBoard(w http.ResponseWriter, r *http.Request, _ pipeline.Actor) {
	cells, err := s.engine.Board(r.Context(), "")
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newAPIBoard(cells))
}
