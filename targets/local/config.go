package local

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
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
	if err := known(params, configKeys, ""); err != nil {
		return cfg, err
	}
	var err error
	p := parser{params: params}
	cfg.Hosts = p.strings("hosts")
	cfg.Root = p.string("root")
	cfg.Build = p.strings("build")
	cfg.Path = p.string("path")
	cfg.Exclude = p.strings("exclude")
	cfg.PreRelease = p.strings("pre_release")
	cfg.PostRelease = p.strings("post_release")
	cfg.Keep = p.int("keep")
	cfg.Vars = p.vars("vars")
	if h, ok := params["health"]; ok {
		cfg.Health, err = parseHealth(h)
		if err != nil {
			return cfg, err
		}
	}
	if p.err != nil {
		return cfg, p.err
	}
	return cfg, cfg.check()
}

func parseHealth(v any) (Health, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Health{}, invalid("health: want {command: ...} or {url: ...}, got %s", kind(v))
	}
	if err := known(m, healthKeys, "health."); err != nil {
		return Health{}, err
	}
	p := parser{params: m, prefix: "health."}
	h := Health{Command: p.string("command"), URL: p.string("url")}
	if p.err == nil && !h.set() {
		return h, invalid("health: give a command or a url")
	}
	switch t := m["timeout"].(type) {
	case nil:
	case string:
		d, err := time.ParseDuration(t)
		if err != nil {
			return h, invalid("health.timeout: %q is not a duration like 10s", t)
		}
		h.Timeout = d
	case int:
		h.Timeout = time.Duration(t) * time.Second
	case float64:
		h.Timeout = time.Duration(t * float64(time.Second))
	default:
		return h, invalid("health.timeout: want a duration like 10s, got %s", kind(t))
	}
	return h, p.err
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
	return fmt.Errorf("local: %w: %s", pipeline.ErrInvalid, fmt.Sprintf(format, args...))
}

func known(m map[string]any, allowed []string, prefix string) error {
	var unknown []string
	for k := range m {
		if i := sort.SearchStrings(allowed, k); i == len(allowed) || allowed[i] != k {
			unknown = append(unknown, prefix+k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return invalid("unknown key %s; allowed: %s", strings.Join(unknown, ", "), prefix+strings.Join(allowed, ", "+prefix))
}

// parser reads typed values out of decoded YAML, keeping the first error.
type parser struct {
	params map[string]any
	prefix string
	err    error
}

func (p *parser) fail(key, want string, v any) {
	if p.err == nil {
		p.err = invalid("%s%s: want %s, got %s", p.prefix, key, want, kind(v))
	}
}

func (p *parser) string(key string) string {
	v, ok := p.params[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.fail(key, "a string", v)
	}
	return s
}

// strings reads a list of strings; a single string is a list of one.
func (p *parser) strings(key string) []string {
	switch v := p.params[key].(type) {
	case nil:
		return nil
	case string:
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				p.fail(fmt.Sprintf("%s[%d]", key, i), "a string", e)
				return nil
			}
			out[i] = s
		}
		return out
	default:
		p.fail(key, "a list of strings", v)
		return nil
	}
}

func (p *parser) int(key string) int {
	switch v := p.params[key].(type) {
	case nil:
		return 0
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		if v == float64(int(v)) {
			return int(v)
		}
	}
	p.fail(key, "a whole number", p.params[key])
	return 0
}

func (p *parser) vars(key string) map[string]string {
	v, ok := p.params[key]
	if !ok || v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.fail(key, "a map of names to values", v)
		return nil
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		switch e.(type) {
		case string, int, float64, bool:
			out[k] = fmt.Sprint(e)
		default:
			p.fail(key+"."+k, "a string, number or boolean", e)
		}
	}
	return out
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "a string"
	case int, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}
