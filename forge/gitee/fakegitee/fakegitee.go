// Package fakegitee is an httptest server that serves the few endpoints
// of Gitee's API v5 ferry calls, under /api/v5 as gitee.com does, answers
// as Gitee does (an access_token parameter on every call, in the query of
// a GET and in the JSON body of a POST or PATCH; a path a commit lacks is
// an empty list; comments paged with total_page), and records what ferry
// did as state.
package fakegitee

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// PR is a pull request the fake knows.
type PR struct {
	State    string // open, closed, merged
	HeadRef  string
	HeadSHA  string
	HeadRepo string // owner/name; "": the base repository
	Labels   []string
}

// Comment is a comment ferry posted, as it is now.
type Comment struct {
	ID     int64
	Repo   string // owner/name
	Number int
	Body   string
}

// CheckRun is a check run ferry created, as it is now, with the status of
// each write.
type CheckRun struct {
	ID                         int64
	Repo, SHA, Name            string
	Status, Conclusion         string
	DetailsURL, Title, Summary string
	Statuses                   []string // of each create and update, in order
}

// Failure is an answer the fake gives instead of serving a call.
type Failure struct {
	Status  int
	Header  map[string]string // Retry-After
	Message string
}

// Server is the fake. Set its maps before ferry calls it.
type Server struct {
	*httptest.Server
	mu sync.Mutex
	// Permissions are what GET …/collaborators/{login}/permission answers
	// (admin, write, read); absent: 404, not a member.
	Permissions map[string]string
	PRs         map[int]PR // by number, in any repository
	// RefuseChecks makes POST …/check-runs answer 403, as Gitee does for a
	// token whose user is not the repository's admin.
	RefuseChecks bool
	// PerPage caps the comments a page lists; 0: what ferry asks for.
	PerPage int
	// Completions are answered, one each, in order, to the updates that
	// would complete a check run, before the fake serves them again.
	Completions []Failure

	token    string
	comments []Comment
	checks   []CheckRun
	files    map[string]string // owner/name@sha:path → content
	calls    []string
	failures map[string][]Failure
}

// New starts a fake that wants token on every call; Close is a test
// cleanup.
func New(t testing.TB, token string) *Server {
	s := &Server{Permissions: map[string]string{}, PRs: map[int]PR{}, token: token, files: map[string]string{}, failures: map[string][]Failure{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v5/repos/{owner}/{repo}/collaborators/{user}/permission", s.permission)
	mux.HandleFunc("GET /api/v5/repos/{owner}/{repo}/contents/{path...}", s.contents)
	mux.HandleFunc("GET /api/v5/repos/{owner}/{repo}/pulls/{n}", s.pull)
	mux.HandleFunc("GET /api/v5/repos/{owner}/{repo}/pulls/{n}/comments", s.listComments)
	mux.HandleFunc("POST /api/v5/repos/{owner}/{repo}/pulls/{n}/comments", s.comment)
	mux.HandleFunc("PATCH /api/v5/repos/{owner}/{repo}/pulls/comments/{id}", s.editComment)
	mux.HandleFunc("POST /api/v5/repos/{owner}/{repo}/check-runs", s.createCheck)
	mux.HandleFunc("PATCH /api/v5/repos/{owner}/{repo}/check-runs/{id}", s.updateCheck)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := r.Method + " " + r.URL.Path
		s.mu.Lock()
		s.calls = append(s.calls, call)
		var fail *Failure
		if fs := s.failures[call]; len(fs) > 0 {
			fail, s.failures[call] = &fs[0], fs[1:]
		}
		s.mu.Unlock()
		if fail != nil {
			for k, v := range fail.Header {
				w.Header().Set(k, v)
			}
			answer(w, fail.Status, map[string]string{"message": fail.Message})
			return
		}
		body, ok := s.authorized(r)
		if !ok {
			answer(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized: Access token does not exist"})
			return
		}
		mux.ServeHTTP(w, r.WithContext(withBody(r.Context(), body)))
	}))
	t.Cleanup(s.Close)
	return s
}

// APIURL is the address to configure ferry with.
func (s *Server) APIURL() string { return s.URL + "/api/v5" }

// Fail makes the next calls "METHOD /path" answer with fs, one each, in
// order, before the fake serves that call again.
func (s *Server) Fail(call string, fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[call] = append(s.failures[call], fs...)
}

// SetFile makes path of repository repo (owner/name) hold content at
// commit sha.
func (s *Server) SetFile(repo, sha, path, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[repo+"@"+sha+":"+path] = content
}

// AddComment adds a comment someone wrote on pull request number of repo
// (owner/name), and returns its ID.
func (s *Server) AddComment(repo string, number int, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := int64(len(s.comments) + 1)
	s.comments = append(s.comments, Comment{ID: id, Repo: repo, Number: number, Body: body})
	return id
}

// Comments returns the comments on pull requests, ferry's and those
// added, in order.
func (s *Server) Comments() []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Comment(nil), s.comments...)
}

// CheckRuns returns the check runs ferry created, in order.
func (s *Server) CheckRuns() []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CheckRun, len(s.checks))
	for i, c := range s.checks {
		c.Statuses = append([]string(nil), c.Statuses...)
		out[i] = c
	}
	return out
}

// Calls returns "METHOD /path" of every call, in order; no query, so no
// token.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
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
