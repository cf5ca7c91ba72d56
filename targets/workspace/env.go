package workspace

import (
	"sort"

	"github.com/ferrybot/ferry/pipeline"
)

// Env is what every target tells the commands it runs about a release,
// as FERRY_* variables after the environment's own vars.
type Env struct {
	Vars    map[string]string // the target's vars:, sorted by name
	Project string
	Env     string
}

// Build is the environment of the build and of hooks on the ferry host.
func (e Env) Build(r pipeline.Release) []string {
	return append(e.vars(),
		"FERRY_PROJECT="+e.Project,
		"FERRY_ENV="+e.Env,
		"FERRY_VERSION="+r.Version,
		"FERRY_COMMIT="+r.Commit,
		"FERRY_RELEASE="+r.ID,
	)
}

// Unit says where on a unit a release is, for Hook.
type Unit struct {
	Host       string // the unit's name
	HostDir    string // its deploy root
	Version    string
	Commit     string
	Release    string
	ReleaseDir string
	Previous   string // the release current before this one; "" for none
}

// Hook is the environment of hooks and health commands run on a unit.
func (e Env) Hook(u Unit) []string {
	return append(e.vars(),
		"FERRY_PROJECT="+e.Project,
		"FERRY_ENV="+e.Env,
		"FERRY_VERSION="+u.Version,
		"FERRY_COMMIT="+u.Commit,
		"FERRY_HOST="+u.Host,
		"FERRY_HOST_DIR="+u.HostDir,
		"FERRY_RELEASE="+u.Release,
		"FERRY_RELEASE_DIR="+u.ReleaseDir,
		"FERRY_PREVIOUS_RELEASE="+u.Previous,
	)
}

func (e Env) vars() []string {
	keys := make([]string, 0, len(e.Vars))
	for k := range e.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys)+9)
	for _, k := range keys {
		env = append(env, k+"="+e.Vars[k])
	}
	return env
}
