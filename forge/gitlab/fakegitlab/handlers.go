package fakegitlab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// The handlers of GitLab's API v4 paths, each answering as GitLab does.

// projectOf is the path of the project a request names by path or ID;
// ok is false, and the request answered 404, for one the fake does not
// know. Call it with s.mu held.
func (s *Server) projectOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if _, ok := s.projects[id]; ok {
		return id, true
	}
	for path, pid := range s.projects {
		if strconv.FormatInt(pid, 10) == id {
			return path, true
		}
	}
	message(w, http.StatusNotFound, "404 Project Not Found")
	return "", false
}

func (s *Server) currentUser(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"id": BotID, "username": BotUsername, "name": "ferry", "state": "active", "bot": true})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("username")
	s.mu.Lock()
	id, ok := s.users[name]
	s.mu.Unlock()
	out := []map[string]any{}
	if ok {
		out = append(out, map[string]any{"id": id, "username": name, "name": name, "state": "active"})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) project(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path, ok := s.projectOf(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": s.projects[path], "path_with_namespace": path, "name": path, "created_at": created})
}

func (s *Server) member(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projectOf(w, r); !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("user"), 10, 64)
	m, ok := s.members[id]
	if !ok {
		message(w, http.StatusNotFound, "404 Not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "username": m.username, "name": m.username, "state": "active",
		"access_level": m.level, "created_at": created})
}

func (s *Server) rawFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path, ok := s.projectOf(w, r)
	if !ok {
		return
	}
	content, ok := s.files[path+"@"+r.URL.Query().Get("ref")+":"+r.PathValue("path")]
	if !ok {
		message(w, http.StatusNotFound, "404 File Not Found")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, content)
}

// mrOf is the merge request a request names; ok is false, and the request
// answered 404, for one the fake does not know. Call it with s.mu held.
func (s *Server) mrOf(w http.ResponseWriter, r *http.Request) (string, int, MR, bool) {
	path, ok := s.projectOf(w, r)
	if !ok {
		return "", 0, MR{}, false
	}
	iid, _ := strconv.Atoi(r.PathValue("iid"))
	mr, ok := s.mrs[iid]
	if !ok {
		message(w, http.StatusNotFound, "404 Not found")
	}
	return path, iid, mr, ok
}

// noteOn is the project and IID of the merge request a request about its
// notes names: any IID of a project the fake knows (the fake needs the
// details of a merge request only to answer GET). Call it with s.mu held.
func (s *Server) noteOn(w http.ResponseWriter, r *http.Request) (string, int, bool) {
	path, ok := s.projectOf(w, r)
	iid, _ := strconv.Atoi(r.PathValue("iid"))
	return path, iid, ok
}

func (s *Server) mergeRequest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path, iid, mr, ok := s.mrOf(w, r)
	if !ok {
		return
	}
	target := s.projects[path]
	source := mr.SourceProjectID
	if source == 0 {
		source = target
	}
	labels := mr.Labels
	if labels == nil {
		labels = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": 10000 + iid, "iid": iid, "project_id": target, "title": "a merge request",
		"state": mr.State, "source_branch": mr.SourceBranch, "target_branch": mr.TargetBranch, "sha": mr.SHA,
		"source_project_id": source, "target_project_id": target, "labels": labels, "created_at": created,
		"author": map[string]any{"id": 1, "username": "someone"}})
}

func noteJSON(n Note, username string) map[string]any {
	return map[string]any{"id": n.ID, "body": n.Body, "system": n.System, "noteable_type": "MergeRequest", "noteable_iid": n.MR,
		"author": map[string]any{"id": n.AuthorID, "username": username}, "created_at": created, "updated_at": created}
}

// username is the username of a user ID. Call it with s.mu held.
func (s *Server) username(id int64) string {
	for name, uid := range s.users {
		if uid == id {
			return name
		}
	}
	return fmt.Sprintf("user%d", id)
}

// listNotes lists a merge request's notes, per_page at a time (GitLab's
// default 20), oldest first with sort=asc and newest first otherwise, the
// next page named in X-Next-Page.
func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path, iid, ok := s.noteOn(w, r)
	if !ok {
		return
	}
	var ns []Note
	for _, n := range s.notes {
		if n.Project == path && n.MR == iid {
			ns = append(ns, n)
		}
	}
	q := r.URL.Query()
	if q.Get("sort") != "asc" {
		slices.Reverse(ns)
	}
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 20
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	from := min((page-1)*per, len(ns))
	to := min(from+per, len(ns))
	if to < len(ns) {
		w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
	}
	w.Header().Set("X-Page", strconv.Itoa(page))
	w.Header().Set("X-Per-Page", strconv.Itoa(per))
	w.Header().Set("X-Total", strconv.Itoa(len(ns)))
	out := []map[string]any{}
	for _, n := range ns[from:to] {
		out = append(out, noteJSON(n, s.username(n.AuthorID)))
	}
	writeJSON(w, http.StatusOK, out)
}

type noteBody struct {
	Body string `json:"body"`
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	var b noteBody
	if !decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path, iid, ok := s.noteOn(w, r)
	if !ok {
		return
	}
	if b.Body == "" {
		message(w, http.StatusBadRequest, "400 Bad request - Note {:note=>[\"can't be blank\"]}")
		return
	}
	n := Note{ID: int64(5000 + len(s.notes) + 1), Project: path, MR: iid, AuthorID: BotID, Body: b.Body}
	s.notes = append(s.notes, n)
	writeJSON(w, http.StatusCreated, noteJSON(n, BotUsername))
}

func (s *Server) updateNote(w http.ResponseWriter, r *http.Request) {
	var b noteBody
	if !decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path, iid, ok := s.noteOn(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("note"), 10, 64)
	for i, n := range s.notes {
		if n.ID == id && n.Project == path && n.MR == iid {
			if n.AuthorID != BotID {
				message(w, http.StatusForbidden, "403 Forbidden")
				return
			}
			s.notes[i].Body = b.Body
			writeJSON(w, http.StatusOK, noteJSON(s.notes[i], BotUsername))
			return
		}
	}
	message(w, http.StatusNotFound, "404 Not found")
}

func awardJSON(id int64, name string, user int64, note int64) map[string]any {
	return map[string]any{"id": id, "name": name, "user": map[string]any{"id": user, "username": BotUsername},
		"awardable_id": note, "awardable_type": "Note", "created_at": created, "updated_at": created}
}

func (s *Server) listAwards(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, ok := s.noteOn(w, r); !ok {
		return
	}
	note, _ := strconv.ParseInt(r.PathValue("note"), 10, 64)
	out := []map[string]any{}
	for i, a := range s.awards {
		if a.NoteID == note {
			out = append(out, awardJSON(int64(i+1), a.Name, a.user, note))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// award awards an emoji on a note (the notes people write are not all in
// the fake), once per user: as GitLab
// does, a second award of the same emoji is 404 "Award Emoji Name has
// already been taken".
func (s *Server) award(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Name string `json:"name"`
	}
	if !decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, ok := s.noteOn(w, r); !ok {
		return
	}
	note, _ := strconv.ParseInt(r.PathValue("note"), 10, 64)
	for _, a := range s.awards {
		if a.NoteID == note && a.Name == b.Name && a.user == BotID {
			message(w, http.StatusNotFound, "404 Award Emoji Name has already been taken Not Found")
			return
		}
	}
	s.awards = append(s.awards, award{Award{NoteID: note, Name: b.Name}, BotID})
	writeJSON(w, http.StatusCreated, awardJSON(int64(len(s.awards)), b.Name, BotID, note))
}

// transitions are the events GitLab's state machine of a job runs to
// reach a commit status's state, as its refusals name them.
var transitions = map[string]string{"pending": "enqueue", "running": "run", "success": "success", "failed": "drop", "canceled": "cancel"}

// status sets an external commit status as GitLab does: a pending or
// running status of the name moves to the new state, or a new status is
// made when there is none; a move to the state it has, or from running
// back to pending, is refused with the state machine's 400.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	var b struct {
		State       string `json:"state"`
		Name        string `json:"name"`
		Description string `json:"description"`
		TargetURL   string `json:"target_url"`
	}
	if !decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path, ok := s.projectOf(w, r)
	if !ok {
		return
	}
	event, valid := transitions[b.State]
	if !valid {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "state does not have a valid value"})
		return
	}
	if b.Name == "" {
		b.Name = "default"
	}
	key := path + " " + r.PathValue("sha") + " " + b.Name
	if cur, ok := s.open[key]; ok && (b.State == "pending" || b.State == cur) {
		message(w, http.StatusBadRequest, fmt.Sprintf("Cannot transition status via :%s from :%s (Reason(s): Status cannot transition via \"%s\")", event, cur, event))
		return
	}
	if b.State == "pending" || b.State == "running" {
		s.open[key] = b.State
	} else {
		delete(s.open, key)
	}
	st := Status{Project: path, SHA: r.PathValue("sha"), Name: b.Name, State: b.State, Description: b.Description, TargetURL: b.TargetURL}
	s.statuses = append(s.statuses, st)
	writeJSON(w, http.StatusCreated, map[string]any{"id": len(s.statuses), "sha": st.SHA, "ref": "main", "status": st.State, "name": st.Name,
		"description": st.Description, "target_url": st.TargetURL, "created_at": created, "allow_failure": false,
		"author": map[string]any{"id": BotID, "username": BotUsername}})
}

// deploymentStatuses are the statuses GitLab's API creates and moves a
// deployment to.
var deploymentStatuses = []string{"running", "success", "failed", "canceled"}

func (s *Server) deploymentJSON(d Deployment) map[string]any {
	env := map[string]any{}
	for _, e := range s.envs {
		if e.Project == d.Project && e.Name == d.Env {
			env = map[string]any{"id": e.ID, "name": e.Name, "slug": e.Name, "external_url": e.ExternalURL, "state": "available", "created_at": created}
		}
	}
	return map[string]any{"id": d.ID, "iid": d.ID, "ref": d.Ref, "sha": d.SHA, "status": d.Statuses[len(d.Statuses)-1],
		"created_at": created, "updated_at": created, "user": map[string]any{"id": BotID, "username": BotUsername},
		"environment": env, "deployable": nil}
}

// createDeployment creates a deployment as GitLab's API does, with every
// parameter required, and its environment with the first deployment of
// its name.
func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Environment, SHA, Ref, Status string
		Tag                           *bool
	}
	if !decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path, ok := s.projectOf(w, r)
	if !ok {
		return
	}
	switch {
	case b.Environment == "" || b.SHA == "" || b.Ref == "" || b.Tag == nil:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "environment, sha, ref, tag are missing"})
		return
	case !slices.Contains(deploymentStatuses, b.Status):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "status does not have a valid value"})
		return
	}
	found := false
	for _, e := range s.envs {
		found = found || e.Project == path && e.Name == b.Environment
	}
	if !found {
		s.envs = append(s.envs, Environment{ID: int64(700 + len(s.envs) + 1), Project: path, Name: b.Environment})
	}
	d := Deployment{ID: int64(len(s.deployments) + 1), Project: path, Env: b.Environment, Ref: b.Ref, SHA: b.SHA, Tag: *b.Tag, Statuses: []string{b.Status}}
	s.deployments = append(s.deployments, d)
	writeJSON(w, http.StatusCreated, s.deploymentJSON(d))
}

// updateDeployment moves a deployment to a status as GitLab's state
// machine does: to running from created or blocked only, to success,
// failed or canceled from any other status; a move it refuses is 400,
// with no errors said.
func (s *Server) updateDeployment(w http.ResponseWriter, r *http.Request) {
	var b struct{ Status string }
	if !decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path, ok := s.projectOf(w, r)
	if !ok {
		return
	}
	if !slices.Contains(deploymentStatuses, b.Status) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "status does not have a valid value"})
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("deployment"), 10, 64)
	if id < 1 || int(id) > len(s.deployments) || s.deployments[id-1].Project != path {
		message(w, http.StatusNotFound, "404 Not found")
		return
	}
	d := &s.deployments[id-1]
	cur := d.Statuses[len(d.Statuses)-1]
	if b.Status == cur || b.Status == "running" && cur != "created" && cur != "blocked" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": map[string]any{}})
		return
	}
	d.Statuses = append(d.Statuses, b.Status)
	writeJSON(w, http.StatusOK, s.deploymentJSON(*d))
}

func (s *Server) editEnvironment(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ExternalURL *string `json:"external_url"`
	}
	if !decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path, ok := s.projectOf(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("env"), 10, 64)
	for i, e := range s.envs {
		if e.ID == id && e.Project == path {
			if b.ExternalURL != nil {
				s.envs[i].ExternalURL = *b.ExternalURL
				s.envs[i].URLs = append(s.envs[i].URLs, *b.ExternalURL)
			}
			e = s.envs[i]
			writeJSON(w, http.StatusOK, map[string]any{"id": e.ID, "name": e.Name, "slug": e.Name, "external_url": e.ExternalURL, "state": "available", "created_at": created})
			return
		}
	}
	message(w, http.StatusNotFound, "404 Environment Not Found")
}

// decode reads a request's JSON body into v, answering 400 as GitLab does
// when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "400 Bad request - the body is not JSON"})
		return false
	}
	return true
}

// message answers as GitLab answers an error: {"message": text}.
func message(w http.ResponseWriter, code int, text string) {
	writeJSON(w, code, map[string]any{"message": text})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		fmt.Fprint(w, err)
	}
}
