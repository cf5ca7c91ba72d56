package fakegitee

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

type bodyKey struct{}

func withBody(ctx context.Context, body map[string]any) context.Context {
	return context.WithValue(ctx, bodyKey{}, body)
}

// params is a call's JSON body, read once by authorized.
func params(r *http.Request) map[string]any {
	m, _ := r.Context().Value(bodyKey{}).(map[string]any)
	return m
}

// authorized reads a call's body and reports whether the call carries the
// token: access_token in the query of a GET, in the JSON body otherwise.
func (s *Server) authorized(r *http.Request) (map[string]any, bool) {
	if r.Method == http.MethodGet {
		return nil, r.URL.Query().Get("access_token") == s.token
	}
	body := map[string]any{}
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(data, &body) != nil {
		return nil, false
	}
	tok, _ := body["access_token"].(string)
	return body, tok == s.token
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	answer(w, http.StatusNotFound, map[string]string{"message": "404 Not Found"})
}

func repoOf(r *http.Request) string { return r.PathValue("owner") + "/" + r.PathValue("repo") }

func (s *Server) permission(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, ok := s.Permissions[r.PathValue("user")]
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	answer(w, http.StatusOK, map[string]any{"permission": p, "login": r.PathValue("user"), "role_name": p})
}

// contents answers a file as Gitee does, in base64 broken into lines, and
// a path the commit does not have with an empty list.
func (s *Server) contents(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	s.mu.Lock()
	content, ok := s.files[repoOf(r)+"@"+r.URL.Query().Get("ref")+":"+path]
	s.mu.Unlock()
	if !ok {
		answer(w, http.StatusOK, []any{})
		return
	}
	enc := base64.StdEncoding.EncodeToString([]byte(content))
	var lines []string
	for len(enc) > 60 {
		lines, enc = append(lines, enc[:60]), enc[60:]
	}
	lines = append(lines, enc)
	answer(w, http.StatusOK, map[string]any{"type": "file", "encoding": "base64", "name": path, "path": path,
		"size": len(content), "content": strings.Join(lines, "\n") + "\n"})
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("n"))
	s.mu.Lock()
	pr, ok := s.PRs[n]
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	repo := pr.HeadRepo
	if repo == "" {
		repo = repoOf(r)
	}
	labels := []map[string]any{}
	for i, l := range pr.Labels {
		labels = append(labels, map[string]any{"id": i + 1, "name": l, "color": "ededed"})
	}
	answer(w, http.StatusOK, map[string]any{"number": n, "state": pr.State, "labels": labels,
		"head": map[string]any{"ref": pr.HeadRef, "sha": pr.HeadSHA, "repo": map[string]any{"full_name": repo, "path": strings.SplitN(repo, "/", 2)[1]}},
		"base": map[string]any{"ref": "master", "repo": map[string]any{"full_name": repoOf(r)}}})
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("n"))
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	per, _ := strconv.Atoi(q.Get("per_page"))
	page, per = max(page, 1), min(max(per, 1), 100)
	s.mu.Lock()
	if s.PerPage > 0 {
		per = min(per, s.PerPage)
	}
	var all []map[string]any
	for _, c := range s.comments {
		if strings.EqualFold(c.Repo, repoOf(r)) && c.Number == n {
			all = append(all, map[string]any{"id": c.ID, "body": c.Body, "comment_type": "pr_comment"})
		}
	}
	s.mu.Unlock()
	pages := max((len(all)+per-1)/per, 1)
	from, to := min((page-1)*per, len(all)), min(page*per, len(all))
	w.Header().Set("total_count", strconv.Itoa(len(all)))
	w.Header().Set("total_page", strconv.Itoa(pages))
	answer(w, http.StatusOK, append([]map[string]any{}, all[from:to]...))
}

func (s *Server) comment(w http.ResponseWriter, r *http.Request) {
	body, _ := params(r)["body"].(string)
	if body == "" {
		answer(w, http.StatusBadRequest, map[string]string{"message": "body is missing"})
		return
	}
	n, _ := strconv.Atoi(r.PathValue("n"))
	s.mu.Lock()
	id := int64(len(s.comments) + 1)
	s.comments = append(s.comments, Comment{ID: id, Repo: repoOf(r), Number: n, Body: body})
	s.mu.Unlock()
	answer(w, http.StatusCreated, map[string]any{"id": id, "body": body, "comment_type": "pr_comment"})
}

func (s *Server) editComment(w http.ResponseWriter, r *http.Request) {
	body, _ := params(r)["body"].(string)
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.comments) || !strings.EqualFold(s.comments[id-1].Repo, repoOf(r)) {
		notFound(w)
		return
	}
	s.comments[id-1].Body = body
	answer(w, http.StatusOK, map[string]any{"id": id, "body": body})
}

// createCheck creates a check run; status completed needs a conclusion.
func (s *Server) createCheck(w http.ResponseWriter, r *http.Request) {
	p := params(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.RefuseChecks {
		answer(w, http.StatusForbidden, map[string]string{"message": "403 Forbidden: 没有权限"})
		return
	}
	c := CheckRun{ID: int64(len(s.checks) + 1), Repo: repoOf(r), SHA: str(p, "head_sha"), Name: str(p, "name"), Status: "queued"}
	if c.SHA == "" || c.Name == "" {
		answer(w, http.StatusBadRequest, map[string]string{"message": "name and head_sha are required"})
		return
	}
	if !apply(w, &c, p) {
		return
	}
	s.checks = append(s.checks, c)
	answer(w, http.StatusCreated, map[string]any{"id": c.ID, "name": c.Name, "head_sha": c.SHA, "status": c.Status, "conclusion": c.Conclusion})
}

// updateCheck updates a check run, which a conclusion once set no longer
// lets change.
func (s *Server) updateCheck(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.checks) || !strings.EqualFold(s.checks[id-1].Repo, repoOf(r)) {
		notFound(w)
		return
	}
	c := &s.checks[id-1]
	if c.Status == "completed" {
		answer(w, http.StatusUnprocessableEntity, map[string]string{"message": "check run is completed"})
		return
	}
	if p := params(r); len(s.Completions) > 0 && (str(p, "status") == "completed" || str(p, "conclusion") != "") {
		fail := s.Completions[0]
		s.Completions = s.Completions[1:]
		for k, v := range fail.Header {
			w.Header().Set(k, v)
		}
		answer(w, fail.Status, map[string]string{"message": fail.Message})
		return
	}
	if apply(w, c, params(r)) {
		answer(w, http.StatusOK, map[string]any{"id": c.ID, "status": c.Status, "conclusion": c.Conclusion})
	}
}

// apply writes the fields of a create or update to c.
func apply(w http.ResponseWriter, c *CheckRun, p map[string]any) bool {
	st, concl := str(p, "status"), str(p, "conclusion")
	if st == "" {
		st = "queued"
	}
	if concl != "" {
		st = "completed"
	}
	if st == "completed" && concl == "" {
		answer(w, http.StatusBadRequest, map[string]string{"message": "conclusion is required when status is completed"})
		return false
	}
	c.Status, c.Conclusion, c.Statuses = st, concl, append(c.Statuses, st)
	if u := str(p, "details_url"); u != "" {
		c.DetailsURL = u
	}
	if out, ok := p["output"].(map[string]any); ok {
		c.Title, c.Summary = str(out, "title"), str(out, "summary")
	}
	return true
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
