// Package fakegithub is an httptest server that serves the few REST
// endpoints of GitHub's API ferry calls, under /api/v3/ as a GitHub
// Enterprise Server does, and records what ferry did as state. Calls under
// /app/ take an App's JWT only, as GitHub's do.
package fakegithub

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// PR is a pull request the fake knows.
type PR struct {
	State    string // open, closed
	HeadRef  string
	HeadSHA  string
	HeadRepo string // owner/name; "": the base repository
}

// Comment is a comment ferry posted, as it is now.
type Comment struct {
	ID     int64
	Repo   string // owner/name
	Number int
	Body   string
}

// Status is a commit status ferry set.
type Status struct {
	Repo, SHA                              string
	State, Context, Description, TargetURL string
}

// Deployment is a GitHub Deployment ferry created, with its statuses.
type Deployment struct {
	ID                    int64
	Repo, SHA, Env, Task  string
	Payload               map[string]any
	Production, Transient bool
	States, Descriptions  []string
	LogURLs, EnvURLs      []string
}

// HookDelivery is a delivery of the App's webhook, as GET
// /app/hook/deliveries lists it.
type HookDelivery struct {
	ID          int64     `json:"id"`
	GUID        string    `json:"guid"`
	DeliveredAt time.Time `json:"delivered_at"`
	Redelivery  bool      `json:"redelivery"`
	Status      string    `json:"status"` // OK, or why it failed
	StatusCode  int       `json:"status_code"`
	Event       string    `json:"event"`
	Action      string    `json:"action,omitempty"`
}

// Reaction is a reaction ferry added to a comment.
type Reaction struct {
	CommentID int64
	Content   string
}

// Server is the fake. Set its maps before ferry calls it.
type Server struct {
	*httptest.Server
	mu          sync.Mutex
	Permissions map[string]string // login → admin, write, read, none; absent: read
	// Installations are the App's installations, by owner/name, which
	// GET /repos/{owner}/{repo}/installation answers (404 for others).
	Installations map[string]int64
	PRs           map[int]PR // by number, in any repository
	comments      []Comment
	reactions     []Reaction
	statuses      []Status
	deployments   []Deployment
	calls         []string
	token         string
	// TokenTTL is how long an installation token lasts; 0: an hour.
	TokenTTL time.Duration
	now      func() time.Time // when a redelivery happens; nil: time.Now
	issued   map[string]int64 // installation token → installation
	limits   map[string][]Limited
	files    map[string]string // owner/name@sha:path → content
	// deliveries are the App's webhook deliveries, newest first, as
	// GitHub lists them; redelivered are the IDs ferry redelivered.
	deliveries  []HookDelivery
	redelivered []int64
	// manifests are the App manifests posted, codes the codes handed out
	// for them and not yet exchanged.
	manifests []Manifest
	codes     map[string]Manifest
}

// Limited is a rate-limited answer the fake gives instead of serving.
type Limited struct {
	Status  int               // 403 or 429
	Header  map[string]string // Retry-After, X-RateLimit-Remaining, X-RateLimit-Reset
	Message string
	DocURL  string // …#secondary-rate-limits marks a secondary limit
}

// Limit makes the next calls "METHOD /path" answer with ls, one each, in
// order, before the fake serves that call again.
func (s *Server) Limit(call string, ls ...Limited) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[call] = append(s.limits[call], ls...)
}

// New starts a fake that wants token on every call; Close is a test
// cleanup.
func New(t testing.TB, token string) *Server {
	s := &Server{Permissions: map[string]string{}, Installations: map[string]int64{}, PRs: map[int]PR{}, token: token, issued: map[string]int64{}, limits: map[string][]Limited{},
		files: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v3/app/installations/{id}/access_tokens", s.accessToken)
	mux.HandleFunc("GET /api/v3/app/hook/deliveries", s.listDeliveries)
	mux.HandleFunc("POST /api/v3/app/hook/deliveries/{id}/attempts", s.redeliver)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/installation", s.installation)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/contents/{path...}", s.contents)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/collaborators/{user}/permission", s.permission)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/pulls/{n}", s.pull)
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/issues/{n}/comments", s.comment)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/issues/{n}/comments", s.listComments)
	mux.HandleFunc("PATCH /api/v3/repos/{owner}/{repo}/issues/comments/{id}", s.editComment)
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/issues/comments/{id}/reactions", s.react)
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/statuses/{sha}", s.status)
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/deployments", s.createDeployment)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/deployments", s.listDeployments)
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/deployments/{id}/statuses", s.deploymentStatus)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := r.Method + " " + r.URL.Path
		s.mu.Lock()
		s.calls = append(s.calls, call)
		var limited *Limited
		if ls := s.limits[call]; len(ls) > 0 {
			limited, s.limits[call] = &ls[0], ls[1:]
		}
		s.mu.Unlock()
		if limited != nil {
			for k, v := range limited.Header {
				w.Header().Set(k, v)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(limited.Status)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": limited.Message, "documentation_url": limited.DocURL})
			return
		}
		if s.manifestFlow(w, r) { // no credentials: a person's browser, and the code
			return
		}
		if !s.authorized(r) {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// authorized reports whether a request carries the token, or an App's JWT
// for an installation token, or an installation token the fake issued.
func (s *Server) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if strings.HasPrefix(r.URL.Path, "/api/v3/app/") || strings.HasSuffix(r.URL.Path, "/installation") { // as the App itself: its JWT only
		jwt, ok := strings.CutPrefix(auth, "Bearer ")
		return ok && strings.Count(jwt, ".") == 2
	}
	if auth == "Bearer "+s.token || auth == "token "+s.token {
		return true
	}
	tok, ok := strings.CutPrefix(auth, "token ")
	s.mu.Lock()
	defer s.mu.Unlock()
	_, issued := s.issued[tok]
	return ok && issued
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	ttl := s.TokenTTL
	if ttl == 0 {
		ttl = time.Hour
	}
	s.mu.Lock()
	tok := fmt.Sprintf("ghs_installation_%d_%d", id, len(s.issued)+1)
	s.issued[tok] = id
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_at": time.Now().Add(ttl).UTC().Format(time.RFC3339)})
}

// installation answers which installation of the App a repository is in.
func (s *Server) installation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	id, ok := s.Installations[r.PathValue("owner")+"/"+r.PathValue("repo")]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "app_id": 1})
}

// BaseURL is the address to configure ferry with.
func (s *Server) BaseURL() string { return s.URL + "/" }

// Comments returns the comments ferry posted, in order.
func (s *Server) Comments() []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Comment(nil), s.comments...)
}

// Statuses returns the commit statuses ferry set, in order.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses...)
}

// Deployments returns the deployments ferry created, with their statuses.
func (s *Server) Deployments() []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Deployment(nil), s.deployments...)
}

// Reactions returns the reactions ferry added, in order.
func (s *Server) Reactions() []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Reaction(nil), s.reactions...)
}

// Count returns how many calls were "METHOD /path".
func (s *Server) Count(call string) int {
	n := 0
	for _, c := range s.Calls() {
		if c == call {
			n++
		}
	}
	return n
}

// Calls returns "METHOD /path" of every call, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *Server) permission(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, ok := s.Permissions[r.PathValue("user")]
	s.mu.Unlock()
	if !ok {
		p = "read"
	}
	writeJSON(w, map[string]any{"permission": p, "user": map[string]any{"login": r.PathValue("user")}})
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("n"))
	s.mu.Lock()
	pr, ok := s.PRs[n]
	s.mu.Unlock()
	if !ok {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	repo := pr.HeadRepo
	if repo == "" {
		repo = r.PathValue("owner") + "/" + r.PathValue("repo")
	}
	writeJSON(w, map[string]any{"number": n, "state": pr.State,
		"head": map[string]any{"ref": pr.HeadRef, "sha": pr.HeadSHA, "repo": map[string]any{"full_name": repo}}})
}

func (s *Server) comment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Body string `json:"body"`
	}
	if !decode(w, r, &body) {
		return
	}
	n, _ := strconv.Atoi(r.PathValue("n"))
	s.mu.Lock()
	id := int64(len(s.comments) + 1)
	s.comments = append(s.comments, Comment{ID: id, Repo: r.PathValue("owner") + "/" + r.PathValue("repo"), Number: n, Body: body.Body})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "body": body.Body})
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("n"))
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	out := []map[string]any{}
	s.mu.Lock()
	for _, c := range s.comments {
		if strings.EqualFold(c.Repo, repo) && c.Number == n {
			out = append(out, map[string]any{"id": c.ID, "body": c.Body})
		}
	}
	s.mu.Unlock()
	writeJSON(w, out)
}

func (s *Server) editComment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Body string `json:"body"`
	}
	if !decode(w, r, &body) {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.comments) {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	s.comments[id-1].Body = body.Body
	writeJSON(w, map[string]any{"id": id, "body": body.Body})
}

func (s *Server) react(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Content string `json:"content"`
	}
	if !decode(w, r, &body) {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	s.reactions = append(s.reactions, Reaction{CommentID: id, Content: body.Content})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": len(s.reactions), "content": body.Content})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	var body struct {
		State       string `json:"state"`
		Context     string `json:"context"`
		Description string `json:"description"`
		TargetURL   string `json:"target_url"`
	}
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	s.statuses = append(s.statuses, Status{Repo: r.PathValue("owner") + "/" + r.PathValue("repo"), SHA: r.PathValue("sha"),
		State: body.State, Context: body.Context, Description: body.Description, TargetURL: body.TargetURL})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Ref         string         `json:"ref"`
		Task        string         `json:"task"`
		Environment string         `json:"environment"`
		Payload     map[string]any `json:"payload"`
		Production  bool           `json:"production_environment"`
		Transient   bool           `json:"transient_environment"`
	}
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	id := int64(len(s.deployments) + 1)
	s.deployments = append(s.deployments, Deployment{ID: id, Repo: r.PathValue("owner") + "/" + r.PathValue("repo"), SHA: body.Ref,
		Env: body.Environment, Task: body.Task, Payload: body.Payload, Production: body.Production, Transient: body.Transient})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "sha": body.Ref, "environment": body.Environment, "task": body.Task, "payload": body.Payload})
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []map[string]any{}
	s.mu.Lock()
	for _, d := range s.deployments {
		if (q.Get("sha") == "" || q.Get("sha") == d.SHA) && (q.Get("environment") == "" || q.Get("environment") == d.Env) && (q.Get("task") == "" || q.Get("task") == d.Task) {
			out = append(out, map[string]any{"id": d.ID, "sha": d.SHA, "environment": d.Env, "task": d.Task, "payload": d.Payload})
		}
	}
	s.mu.Unlock()
	writeJSON(w, out)
}

func (s *Server) deploymentStatus(w http.ResponseWriter, r *http.Request) {
	var body struct {
		State       string `json:"state"`
		Description string `json:"description"`
		LogURL      string `json:"log_url"`
		EnvURL      string `json:"environment_url"`
	}
	if !decode(w, r, &body) {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.deployments) {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	d := &s.deployments[id-1]
	d.States = append(d.States, body.State)
	d.Descriptions = append(d.Descriptions, body.Description)
	d.LogURLs = append(d.LogURLs, body.LogURL)
	d.EnvURLs = append(d.EnvURLs, body.EnvURL)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": len(d.States), "state": body.State})
}

// SetFile makes path of repository repo (owner/name) hold content at
// commit sha.
func (s *Server) SetFile(repo, sha, path, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[repo+"@"+sha+":"+path] = content
}

func (s *Server) contents(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	s.mu.Lock()
	content, ok := s.files[r.PathValue("owner")+"/"+r.PathValue("repo")+"@"+r.URL.Query().Get("ref")+":"+path]
	s.mu.Unlock()
	if !ok {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	writeJSON(w, map[string]any{"type": "file", "encoding": "base64", "name": path, "path": path, "size": len(content),
		"content": base64.StdEncoding.EncodeToString([]byte(content))})
}

// AddDeliveries adds deliveries of the App's webhook, newest first, before
// those the fake has.
func (s *Server) AddDeliveries(ds ...HookDelivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(append([]HookDelivery(nil), ds...), s.deliveries...)
}

// SetNow makes now the clock of redeliveries.
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Redelivered returns the IDs of the deliveries ferry redelivered, in
// order.
func (s *Server) Redelivered() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.redelivered...)
}

// listDeliveries lists the deliveries newest first, per_page at a time
// (default 30), the next page named by a cursor in the Link header.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	from, _ := strconv.Atoi(q.Get("cursor")) // the fake's cursor is an index
	s.mu.Lock()
	ds := s.deliveries[min(from, len(s.deliveries)):]
	if len(ds) > per {
		next := *r.URL
		v := next.Query()
		v.Set("cursor", strconv.Itoa(from+per))
		next.RawQuery, next.Scheme, next.Host = v.Encode(), "http", r.Host
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next.String()))
		ds = ds[:per]
	}
	out := append([]HookDelivery{}, ds...)
	s.mu.Unlock()
	writeJSON(w, out)
}

// redeliver records a redelivery and lists it, as GitHub does, with the
// GUID of the delivery and no outcome yet.
func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.deliveries {
		if d.ID == id {
			s.redelivered = append(s.redelivered, id)
			now := time.Now
			if s.now != nil {
				now = s.now
			}
			again := HookDelivery{ID: 1_000_000 + int64(len(s.redelivered)), GUID: d.GUID, DeliveredAt: now().UTC(), Redelivery: true, Event: d.Event, Action: d.Action}
			s.deliveries = append([]HookDelivery{again}, s.deliveries...)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_ = json.NewEncoder(w).Encode(map[string]any{})
			return
		}
	}
	http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
}

// decode reads a request's JSON body into v, answering 400 as GitHub does
// when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		http.Error(w, `{"message":"Problems parsing JSON"}`, http.StatusBadRequest)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		fmt.Fprint(w, err)
	}
}
