// Package fakegitlab is an httptest server, on 127.0.0.1, that serves the
// few endpoints of GitLab's REST API (v4) ferry calls, under /api/v4/ as
// GitLab does, with a project named by its URL-encoded path or its ID.
// It wants the token in PRIVATE-TOKEN, answers in GitLab's JSON shapes
// and status codes (201 for what it creates, 404 {"message": …}, GitLab's
// refusals of a state it cannot move to), and records what ferry did as
// state.
package fakegitlab

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// BotID and BotUsername are the token's user, as GET /user answers.
const (
	BotID       int64 = 900
	BotUsername       = "ferry-bot"
)

// created is when the fake says everything was created.
const created = "2026-11-02T10:00:00.000Z"

// The access levels of GitLab's roles.
const (
	Guest      = 10
	Reporter   = 20
	Developer  = 30
	Maintainer = 40
	Owner      = 50
)

// MR is a merge request the fake knows, in any project.
type MR struct {
	State           string // opened, closed, merged
	SourceBranch    string
	TargetBranch    string
	SHA             string
	SourceProjectID int64 // 0: the target project
	Labels          []string
}

// Note is a note on a merge request, ferry's or another user's.
type Note struct {
	ID       int64
	Project  string // its path
	MR       int
	AuthorID int64
	Body     string
	System   bool
}

// Award is an emoji ferry awarded a note.
type Award struct {
	NoteID int64
	Name   string
}

// Status is a commit status ferry set, as GitLab accepted it.
type Status struct {
	Project, SHA                        string
	Name, State, Description, TargetURL string
}

// Deployment is a deployment ferry created, with each status it had.
type Deployment struct {
	ID                int64
	Project, Env, Ref string
	SHA               string
	Tag               bool
	Statuses          []string
}

// Environment is an environment of a project, created with its first
// deployment, with each external_url ferry set.
type Environment struct {
	ID          int64
	Project     string
	Name        string
	ExternalURL string
	URLs        []string
}

// Limited is an answer the fake gives instead of serving a call.
type Limited struct {
	Status int               // 429, 500
	Header map[string]string // Retry-After, RateLimit-Reset
}

// award is an emoji awarded a note, by a user.
type award struct {
	Award
	user int64
}

type member struct {
	username string
	level    int
}

// Server is the fake. Set it up with its methods before ferry calls it.
type Server struct {
	*httptest.Server
	token string

	mu          sync.Mutex
	projects    map[string]int64 // path → ID
	users       map[string]int64 // username → ID
	members     map[int64]member // by user ID, of every project
	mrs         map[int]MR       // by IID, in any project
	files       map[string]string
	notes       []Note
	awards      []award
	statuses    []Status
	open        map[string]string // project sha name → the state of its pending or running status
	deployments []Deployment
	envs        []Environment
	limits      map[string][]Limited
	calls       []string
}

// New starts a fake that wants token on every call; Close is a test
// cleanup.
func New(t testing.TB, token string) *Server {
	s := &Server{token: token, projects: map[string]int64{}, users: map[string]int64{BotUsername: BotID}, members: map[int64]member{},
		mrs: map[int]MR{}, files: map[string]string{}, open: map[string]string{}, limits: map[string][]Limited{}}
	mux := http.NewServeMux()
	p := "/api/v4/projects/{id}"
	mux.HandleFunc("GET /api/v4/user", s.currentUser)
	mux.HandleFunc("GET /api/v4/users", s.listUsers)
	mux.HandleFunc("GET "+p, s.project)
	mux.HandleFunc("GET "+p+"/members/all/{user}", s.member)
	mux.HandleFunc("GET "+p+"/repository/files/{path}/raw", s.rawFile)
	mux.HandleFunc("GET "+p+"/merge_requests/{iid}", s.mergeRequest)
	mux.HandleFunc("GET "+p+"/merge_requests/{iid}/notes", s.listNotes)
	mux.HandleFunc("POST "+p+"/merge_requests/{iid}/notes", s.createNote)
	mux.HandleFunc("PUT "+p+"/merge_requests/{iid}/notes/{note}", s.updateNote)
	mux.HandleFunc("GET "+p+"/merge_requests/{iid}/notes/{note}/award_emoji", s.listAwards)
	mux.HandleFunc("POST "+p+"/merge_requests/{iid}/notes/{note}/award_emoji", s.award)
	mux.HandleFunc("POST "+p+"/statuses/{sha}", s.status)
	mux.HandleFunc("POST "+p+"/deployments", s.createDeployment)
	mux.HandleFunc("PUT "+p+"/deployments/{deployment}", s.updateDeployment)
	mux.HandleFunc("PUT "+p+"/environments/{env}", s.editEnvironment)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := r.Method + " " + r.URL.EscapedPath()
		s.mu.Lock()
		s.calls = append(s.calls, call)
		var limited *Limited
		if ls := s.limits[call]; len(ls) > 0 {
			limited, s.limits[call] = &ls[0], ls[1:]
		}
		s.mu.Unlock()
		switch {
		case limited != nil:
			for k, v := range limited.Header {
				w.Header().Set(k, v)
			}
			message(w, limited.Status, http.StatusText(limited.Status))
		case r.Header.Get("PRIVATE-TOKEN") != s.token:
			message(w, http.StatusUnauthorized, "401 Unauthorized")
		default:
			mux.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// URL of the instance, to configure ferry with (the SDK adds /api/v4).
func (s *Server) BaseURL() string { return s.URL }

// AddProject makes a project known by its path and ID.
func (s *Server) AddProject(path string, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[path] = id
}

// AddUser makes a user known by username and ID.
func (s *Server) AddUser(username string, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[username] = id
}

// SetMember makes a known user a member of every project with an access
// level (Developer, …); 0 makes them none.
func (s *Server) SetMember(username string, level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.users[username]
	if !ok {
		id = int64(1000 + len(s.users))
		s.users[username] = id
	}
	if level == 0 {
		delete(s.members, id)
		return
	}
	s.members[id] = member{username: username, level: level}
}

// SetMR makes a merge request known by its IID.
func (s *Server) SetMR(iid int, mr MR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mrs[iid] = mr
}

// SetFile makes path of project hold content at commit sha.
func (s *Server) SetFile(project, sha, path, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[project+"@"+sha+":"+path] = content
}

// AddNote adds a note someone wrote on a merge request and returns its ID.
func (s *Server) AddNote(n Note) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n.ID = int64(5000 + len(s.notes) + 1)
	s.notes = append(s.notes, n)
	return n.ID
}

// Limit makes the next calls "METHOD /escaped/path" answer with ls, one
// each, in order, before the fake serves that call again.
func (s *Server) Limit(call string, ls ...Limited) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[call] = append(s.limits[call], ls...)
}

// Notes returns the notes ferry wrote, as they are now.
func (s *Server) Notes() []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Note
	for _, n := range s.notes {
		if n.AuthorID == BotID {
			out = append(out, n)
		}
	}
	return out
}

// Awards returns the emoji ferry awarded, in order.
func (s *Server) Awards() []Award {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Award
	for _, a := range s.awards {
		if a.user == BotID {
			out = append(out, a.Award)
		}
	}
	return out
}

// Statuses returns the commit statuses GitLab accepted, in order.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.statuses)
}

// Deployments returns the deployments ferry created.
func (s *Server) Deployments() []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.deployments)
	for i := range out {
		out[i].Statuses = slices.Clone(out[i].Statuses)
	}
	return out
}

// Environments returns the environments the deployments created.
func (s *Server) Environments() []Environment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.envs)
	for i := range out {
		out[i].URLs = slices.Clone(out[i].URLs)
	}
	return out
}

// Calls returns "METHOD /escaped/path" of every call, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Count returns how many calls were call.
func (s *Server) Count(call string) int {
	n := 0
	for _, c := range s.Calls() {
		if c == call {
			n++
		}
	}
	return n
}
