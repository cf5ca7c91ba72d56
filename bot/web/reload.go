package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ferrybot/ferry/pipeline"
)

// Reload reads ferry's configuration file again as the named admin asks,
// and says what it did: what it loaded, or why it refused the file (Loaded
// false) and kept the configuration loaded before. cmd/ferry's reloader
// does it.
type Reload func(ctx context.Context, actor string) APIReload

// APIReload is the answer of POST /api/v1/reload: 200 with what was
// loaded, or 422 with why the file was refused and the configuration
// loaded before kept.
type APIReload struct {
	Loaded bool   `json:"loaded"`
	SHA256 string `json:"sha256"` // the first 12 hex digits of the file's digest
	// Counts of what the file has (when it was loaded).
	Users        int `json:"users"`
	Teams        int `json:"teams"`
	Projects     int `json:"projects"`
	Environments int `json:"environments"`
	Freezes      int `json:"freezes"`
	// Changes says what was added (+), removed (−) and changed (~), like
	// "users +carol; projects ~demo"; "no changes" when nothing was.
	Changes string `json:"changes,omitempty"`
	// RestartOnly are the settings the file changes that take effect at
	// the next restart only (listen, slack, …); the running ones are kept.
	RestartOnly []string `json:"restart_only,omitempty"`
	// Problems are why the file was refused, file:line: message each,
	// and Error what that means.
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// apiReload reloads the configuration for an admin.
func (s *Server) apiReload(w http.ResponseWriter, r *http.Request, a pipeline.Actor) {
	switch {
	case s.reload == nil:
		writeJSON(w, http.StatusNotFound, APIError{Error: "this ferry server cannot reload its configuration: it was not started from a file by ferry serve"})
		return
	case !a.Admin || a.Name == "":
		writeJSON(w, http.StatusForbidden, APIError{Error: "reloading the configuration is for admins: ask one, or have admin: true in ferry.yaml"})
		return
	}
	res := s.reload(r.Context(), a.Name)
	if !res.Loaded {
		res.Error = fmt.Sprintf("ferry refused its configuration file (%d problems) and keeps the configuration it loaded before", len(res.Problems))
		writeJSON(w, http.StatusUnprocessableEntity, res)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
