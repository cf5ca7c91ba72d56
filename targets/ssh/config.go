package ssh

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
)

// Config is the ssh target of one environment, as written under
// `target: {type: ssh, ...}` in ferry's configuration.
type Config struct {
	// Hosts are the units, in rollout order. Required.
	Hosts []Host
	// User logs in to hosts that name no user; "" means the user ferry
	// runs as.
	User string
	// Port is the SSH port of hosts that name none; 0 means 22.
	Port int
	// Key is a private key file on the ferry host, without a passphrase;
	// a relative path is relative to the base directory given to New.
	// "" means no key file: Agent must be set.
	Key string
	// Agent also offers the keys of the ssh-agent at $SSH_AUTH_SOCK.
	Agent bool
	// KnownHosts is the known_hosts file the hosts' keys are checked
	// against; required. A host whose key is not in it is refused until
	// `ferry ssh trust` records the key. Relative like Key.
	KnownHosts string
	// Root is the deploy root on the hosts, an absolute path; {{host}} is
	// replaced by the host's name. Required unless every host has a Root.
	Root string
	// Build runs in the checkout on the ferry host, once per release;
	// empty: the files of the commit are released as they are.
	Build []string
	// Path is the subdirectory of the build that is released; "": all of it.
	Path string
	// Exclude lists files of the build that are not shipped.
	Exclude workspace.Exclude
	// Compress gzips the tarball: less to send, more work on both ends.
	// Worth it when the network, not the hosts, is what is slow; false
	// ships a plain tar.
	Compress bool
	// PreDeploy runs in the checkout before Build, PostDeploy after it, on
	// the ferry host, once per release.
	PreDeploy  []string
	PostDeploy []string
	// PreRelease runs on each host in the new release directory before it
	// becomes current; PostRelease runs there after the switch, and after
	// a rollback switches back. Both get the FERRY_* variables.
	PreRelease  []string
	PostRelease []string
	// Health checks a host after its switch; zero: no check.
	Health Health
	// Keep is how many releases each host keeps; 0 means 5. The current
	// release and the one before it are never deleted.
	Keep int
	// Vars are extra environment variables of every command and hook.
	Vars map[string]string
	// ConnectTimeout bounds a connection and its handshake; 0 means 10s.
	ConnectTimeout time.Duration
	// StepTimeout bounds every remote step (upload, each hook command,
	// switch, cleanup); 0 means 10 minutes.
	StepTimeout time.Duration
	// KeepAlive is how often an idle connection is probed; a connection
	// that does not answer within as long again is closed. 0 means 15s.
	KeepAlive time.Duration
}

// Host is one unit: a machine reached over SSH.
type Host struct {
	// Name is the unit's name in ferry; "" means Address.
	Name string
	// Address is the host name or IP address to connect to; "" means Name.
	Address string
	// Port, User and Root override those of the Config; zero: the Config's.
	Port int
	User string
	Root string
}

// Health is a unit's health check: a command on the host or an HTTP GET.
type Health struct {
	// Command runs on the host in <root>/current with the FERRY_*
	// variables and must exit 0.
	Command string
	// URL must answer a GET from the ferry host with a 2xx status;
	// {{host}} is replaced by the host's address, {{name}} by its name.
	URL string
	// Timeout bounds the check; 0 means 10 seconds.
	Timeout time.Duration
}

func (h Health) set() bool { return h.Command != "" || h.URL != "" }

// The keys ParseConfig accepts.
var (
	configKeys = []string{"agent", "build", "compress", "connect_timeout", "exclude", "health", "hosts", "keep", "keepalive",
		"key", "known_hosts", "path", "port", "post_deploy", "post_release", "pre_deploy", "pre_release",
		"root", "step_timeout", "user", "vars"}
	hostKeys   = []string{"address", "name", "port", "root", "user"}
	healthKeys = []string{"command", "timeout", "url"}
)

// ParseConfig decodes the parameters of an ssh target, as YAML or JSON
// decode them. Unknown keys are errors, so a typo is not silently ignored.
func ParseConfig(params map[string]any) (Config, error) {
	var cfg Config
	if err := known(params, configKeys, ""); err != nil {
		return cfg, err
	}
	p := parser{params: params}
	cfg.Hosts = p.hosts("hosts")
	cfg.User = p.string("user")
	cfg.Port = p.int("port")
	cfg.Key = p.string("key")
	cfg.Agent = p.bool("agent")
	cfg.KnownHosts = p.string("known_hosts")
	cfg.Root = p.string("root")
	cfg.Build = p.strings("build")
	cfg.Path = p.string("path")
	cfg.Exclude = p.strings("exclude")
	cfg.Compress = p.bool("compress")
	cfg.PreDeploy = p.strings("pre_deploy")
	cfg.PostDeploy = p.strings("post_deploy")
	cfg.PreRelease = p.strings("pre_release")
	cfg.PostRelease = p.strings("post_release")
	cfg.Keep = p.int("keep")
	cfg.Vars = p.vars("vars")
	cfg.ConnectTimeout = p.duration("connect_timeout")
	cfg.StepTimeout = p.duration("step_timeout")
	cfg.KeepAlive = p.duration("keepalive")
	if h, ok := params["health"]; ok && p.err == nil {
		cfg.Health = p.health(h)
	}
	if p.err != nil {
		return cfg, p.err
	}
	return cfg, cfg.check()
}

// check validates a Config however it was made.
func (c Config) check() error {
	if len(c.Hosts) == 0 {
		return invalid("hosts: name at least one host")
	}
	seen := map[string]bool{}
	for _, h := range c.Hosts {
		name := h.name()
		if !hostName.MatchString(name) {
			return invalid("hosts: %q cannot name a unit: use letters, digits, '.', ':', '-' and '_', or give the host a name", name)
		}
		if seen[name] {
			return invalid("hosts: %s is listed twice; give the hosts distinct names", name)
		}
		seen[name] = true
		if addr := h.address(); addr == "" || strings.ContainsAny(addr, " \t\n/@[]") {
			return invalid("hosts: %s: %q is not a host name or IP address", name, addr)
		}
		if err := checkPort(h.Port, "hosts: "+name+": port"); err != nil {
			return err
		}
		if h.Root == "" && c.Root == "" {
			return invalid("root: say where releases live on the hosts (%s has no root of its own)", name)
		}
		if h.Root != "" {
			if err := checkRoot(h.Root, "hosts: "+name+": root"); err != nil {
				return err
			}
		}
	}
	if c.Root != "" {
		if err := checkRoot(c.Root, "root"); err != nil {
			return err
		}
	}
	if err := checkPort(c.Port, "port"); err != nil {
		return err
	}
	if c.Key == "" && !c.Agent {
		return invalid("key: give a private key file, or agent: true to use ssh-agent")
	}
	if c.KnownHosts == "" {
		return invalid("known_hosts: name the known_hosts file the hosts' keys are checked against")
	}
	if c.Path != "" && !filepath.IsLocal(c.Path) {
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
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"connect_timeout", c.ConnectTimeout}, {"step_timeout", c.StepTimeout}, {"keepalive", c.KeepAlive}, {"health.timeout", c.Health.Timeout}} {
		if d.d < 0 {
			return invalid("%s: %s is negative", d.name, d.d)
		}
	}
	return c.Health.check()
}

func (h Health) check() error {
	switch {
	case h.Command != "" && h.URL != "":
		return invalid("health: give a command or a url, not both")
	case h.URL != "":
		r := strings.NewReplacer("{{host}}", "host", "{{name}}", "name")
		u, err := url.Parse(r.Replace(h.URL))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("health.url: %q is not an http(s) URL", h.URL)
		}
	case !h.set() && h.Timeout != 0:
		return invalid("health: give a command or a url")
	}
	return nil
}

func (h Host) name() string {
	if h.Name != "" {
		return h.Name
	}
	return h.Address
}

func (h Host) address() string {
	if h.Address != "" {
		return h.Address
	}
	return h.Name
}

func checkPort(port int, what string) error {
	if port < 0 || port > 65535 {
		return invalid("%s: %d is not a TCP port", what, port)
	}
	return nil
}

func checkRoot(root, what string) error {
	if !strings.HasPrefix(root, "/") || path.Clean(strings.ReplaceAll(root, "{{host}}", "h")) == "/" || strings.ContainsRune(root, 0) {
		return invalid("%s: %q must be an absolute directory on the hosts, not /", what, root)
	}
	return nil
}

var (
	hostName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("ssh: %w: %s", pipeline.ErrInvalid, fmt.Sprintf(format, args...))
}

func known(m map[string]any, allowed []string, prefix string) error {
	var unknown []string
	for k := range m {
		if !slices.Contains(allowed, k) {
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

func (p *parser) bool(key string) bool {
	switch v := p.params[key].(type) {
	case nil:
		return false
	case bool:
		return v
	}
	p.fail(key, "true or false", p.params[key])
	return false
}

// duration reads a Go duration ("10s", "1m30s") or a number of seconds.
func (p *parser) duration(key string) time.Duration {
	switch v := p.params[key].(type) {
	case nil:
		return 0
	case string:
		d, err := time.ParseDuration(v)
		if err != nil && p.err == nil {
			p.err = invalid("%s%s: %q is not a duration like 10s", p.prefix, key, v)
		}
		return d
	case int:
		return time.Duration(v) * time.Second
	case float64:
		return time.Duration(v * float64(time.Second))
	}
	p.fail(key, "a duration like 10s", p.params[key])
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

func (p *parser) health(v any) Health {
	m, ok := v.(map[string]any)
	if !ok {
		p.fail("health", "{command: ...} or {url: ...}", v)
		return Health{}
	}
	if err := known(m, healthKeys, "health."); err != nil {
		p.err = err
		return Health{}
	}
	hp := parser{params: m, prefix: "health."}
	h := Health{Command: hp.string("command"), URL: hp.string("url"), Timeout: hp.duration("timeout")}
	if hp.err == nil && !h.set() {
		hp.err = invalid("health: give a command or a url")
	}
	p.err = hp.err
	return h
}

// hosts reads the host list: each entry is a string
// ([user@]address[:port]) or a map with the keys of a Host.
func (p *parser) hosts(key string) []Host {
	var list []any
	switch v := p.params[key].(type) {
	case nil:
		return nil
	case string:
		list = []any{v}
	case []any:
		list = v
	default:
		p.fail(key, "a list of hosts", v)
		return nil
	}
	hosts := make([]Host, 0, len(list))
	for i, e := range list {
		at := fmt.Sprintf("%s[%d]", key, i)
		switch e := e.(type) {
		case string:
			h, err := parseHost(e)
			if err != nil && p.err == nil {
				p.err = invalid("%s: %v", at, err)
			}
			hosts = append(hosts, h)
		case map[string]any:
			if err := known(e, hostKeys, at+"."); err != nil {
				p.err = err
				return nil
			}
			hp := parser{params: e, prefix: at + "."}
			hosts = append(hosts, Host{Name: hp.string("name"), Address: hp.string("address"),
				Port: hp.int("port"), User: hp.string("user"), Root: hp.string("root")})
			if hp.err != nil && p.err == nil {
				p.err = hp.err
			}
		default:
			p.fail(at, "user@host:port or {name, address, port, user, root}", e)
		}
	}
	return hosts
}

// parseHost reads [user@]address[:port]; the unit is named address[:port]
// as written.
func parseHost(s string) (Host, error) {
	var h Host
	if user, rest, ok := strings.Cut(s, "@"); ok {
		if user == "" {
			return h, fmt.Errorf("%q: empty user before @", s)
		}
		h.User, s = user, rest
	}
	h.Name, h.Address = s, s
	if host, port, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			return h, fmt.Errorf("%q: %q is not a TCP port", s, port)
		}
		h.Address, h.Port = host, n
	}
	return h, nil
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
