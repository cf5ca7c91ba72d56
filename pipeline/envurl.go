package pipeline

import (
	"fmt"
	"strings"
	"text/template"
)

// URLData is what an environment's URL template may use.
type URLData struct {
	Project string
	Env     string
	Version string // the tag, or branch@shortsha
	Ref     string // the branch or tag asked for
	Commit  string // the full commit hash
	ID      int64  // the deploy's number
}

// URLFor is the environment's URL with d's fields filled in; "" when the
// environment has none. The error names what in the template is wrong.
func (e Environment) URLFor(d Deploy) (string, error) {
	if e.URL == "" {
		return "", nil
	}
	t, err := template.New("url").Option("missingkey=error").Parse(e.URL)
	if err != nil {
		return "", fmt.Errorf("url of environment %s: %w", e.Name, err)
	}
	var b strings.Builder
	data := URLData{Project: d.Project, Env: d.Env, Version: d.Version, Ref: d.Ref, Commit: d.Commit, ID: d.ID}
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("url of environment %s: %w", e.Name, err)
	}
	return b.String(), nil
}

// URLPerDeploy reports whether the environment's URL differs from one
// deploy to the next: it names the version, ref, commit or deploy, so each
// deploy is reached at its own address.
func (e Environment) URLPerDeploy() bool {
	a, errA := e.URLFor(Deploy{Version: "a@1111111", Ref: "a", Commit: "1111111", ID: 1})
	b, errB := e.URLFor(Deploy{Version: "b@2222222", Ref: "b", Commit: "2222222", ID: 2})
	return errA == nil && errB == nil && a != b
}
