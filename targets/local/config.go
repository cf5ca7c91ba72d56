package local

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ferrybot/ferry/targets/workspace"
)

// Config is the local target of one environment, as written under
// `target: {type: local, ...}` in ferry's configuration.
type Config struct {
	// Hosts are the units: each is the directory <Root>/<host>. Required.
	Hosts []string
	// Root holds the hosts' directories. Required; a relative Root is
	// relative to the base directory given to New.
	Root string
	// Build runs in the checkout, once per release; empty: the files of
	// the commit are released as they are.
	Build []string
	// Path is the subdirectory of the build that is released; "": all of it.
	Path string
	// Exclude lists files of the build that are not copied into releases.
	Exclude workspace.Exclude
	// PreRelease runs in the new release directory before it becomes
	// current; PostRelease runs in it after. Both get the FERRY_* variables.
	PreRelease  []string
	PostRelease []string
	// Health checks a host after its switch; zero: no check.
	Health Health
	// Keep is how many releases each host keeps; 0 means 5. The current
	// release and the one before it are never deleted.
	Keep int
	// Vars are extra environment variables of every command.
	Vars map[string]string
}

// Health is a unit's health check: a command or an HTTP GET.
type Health struct {
	// Command runs in <host>/current with the FERRY_* variables and must
	// exit 0.
	Command string
	// URL must answer a GET with a 2xx status; {{host}} is replaced by
	// the host's name.
	URL string
	// Timeout bounds the check; 0 means 10 seconds.
	Timeout time.Duration
}

func (h Health) set() bool { return h.Command != "" || h.URL != "" }

// The keys ParseConfig accepts.
var (
	configKeys = []string{"build", "exclude", "health", "hosts", "keep", "path", "post_release", "pre_release", "root", "vars"}
	healthKeys = []string{"command", "timeout", "url"}
)

// ParseConfig decodes the parameters of a local target, as YAML or JSON
// decode them. Unknown keys are errors, so a typo is not silently ignored.
func ParseConfig(params map[string]any) (Config, error) {
	var cfg Config
	p := workspace.NewParams("local", params)
	if err := p.Known(configKeys); err != nil {
		return cfg, err
	}
	var err error
	cfg.Hosts = p.Strings("hosts")
	cfg.Root = p.String("root")
	cfg.Build = p.Strings("build")
	cfg.Path = p.String("path")
	cfg.Exclude = p.Strings("exclude")
	cfg.PreRelease = p.Strings("pre_release")
	cfg.PostRelease = p.Strings("post_release")
	cfg.Keep = p.Int("keep")
	cfg.Vars = p.Vars("vars")
	if h, ok := params["health"]; ok {
		cfg.Health, err = parseHealth(p, h)
		if err != nil {
			return cfg, err
		}
	}
	if p.Err() != nil {
		return cfg, p.Err()
	}
	return cfg, cfg.check()
}

// parseHealth reads the health map v of the parameters p reads. Its error
// is the first one, but an error of the timeout wins over those of the
// command and the url.
func parseHealth(p *workspace.Params, v any) (Health, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Health{}, p.Want("health", "{command: ...} or {url: ...}", v)
	}
	hp := p.In(m, "health.")
	if err := hp.Known(healthKeys); err != nil {
		return Health{}, err
	}
	h := Health{Command: hp.String("command"), URL: hp.String("url")}
	if hp.Err() == nil && !h.set() {
		return h, invalid("health: give a command or a url")
	}
	tp := p.In(m, "health.")
	h.Timeout = tp.Duration("timeout")
	if tp.Err() != nil {
		return h, tp.Err()
	}
	return h, hp.Err()
}

// check validates a Config however it was made.
func (c Config) check() error {
	if len(c.Hosts) == 0 {
		return invalid("hosts: name at least one host")
	}
	seen := map[string]bool{}
	for _, h := range c.Hosts {
		if !hostName.MatchString(h) || h == "." || h == ".." {
			return invalid("hosts: %q cannot name a directory: use letters, digits, '.', '-' and '_'", h)
		}
		if seen[h] {
			return invalid("hosts: %s is listed twice", h)
		}
		seen[h] = true
	}
	if c.Root == "" {
		return invalid("root: say where the hosts' directories live")
	}
	if c.Path != "" && (!filepath.IsLocal(c.Path) || filepath.IsAbs(c.Path)) {
		return invalid("path: %q must be a subdirectory of the checkout", c.Path)
	}
	if err := c.Exclude.Check(); err != nil {
		return invalid("%v", err)
	}
	if c.Keep < 0 {
		return invalid("keep: %d is negative", c.Keep)
	}
	for k := range c.Vars {
		if !envName.MatchString(k) {
			return invalid("vars: %q is not an environment variable name", k)
		}
		if strings.HasPrefix(k, "FERRY_") {
			return invalid("vars: %s: FERRY_* variables are set by ferry", k)
		}
	}
	h := c.Health
	switch {
	case h.Command != "" && h.URL != "":
		return invalid("health: give a command or a url, not both")
	case h.URL != "":
		u, err := url.Parse(strings.ReplaceAll(h.URL, "{{host}}", "host"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("health.url: %q is not an http(s) URL", h.URL)
		}
	case !h.set() && h.Timeout != 0:
		return invalid("health: give a command or a url")
	}
	if h.Timeout < 0 {
		return invalid("health.timeout: %s is negative", h.Timeout)
	}
	return nil
}

var (
	hostName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func invalid(format string, args ...any) error {
	return workspace.Invalid("local", format, args...)
}
