package ssh

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

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
	p := workspace.NewParams("ssh", params)
	if err := p.Known(configKeys); err != nil {
		return cfg, err
	}
	var err error
	cfg.Hosts, err = parseHosts(params, "hosts")
	p.Keep(err)
	cfg.User = p.String("user")
	cfg.Port = p.Int("port")
	cfg.Key = p.String("key")
	cfg.Agent = p.Bool("agent")
	cfg.KnownHosts = p.String("known_hosts")
	cfg.Root = p.String("root")
	cfg.Build = p.Strings("build")
	cfg.Path = p.String("path")
	cfg.Exclude = p.Strings("exclude")
	cfg.Compress = p.Bool("compress")
	cfg.PreDeploy = p.Strings("pre_deploy")
	cfg.PostDeploy = p.Strings("post_deploy")
	cfg.PreRelease = p.Strings("pre_release")
	cfg.PostRelease = p.Strings("post_release")
	cfg.Keep = p.Int("keep")
	cfg.Vars = p.Vars("vars")
	cfg.ConnectTimeout = p.Duration("connect_timeout")
	cfg.StepTimeout = p.Duration("step_timeout")
	cfg.KeepAlive = p.Duration("keepalive")
	if h, ok := params["health"]; ok && p.Err() == nil {
		cfg.Health = parseHealth(p, h)
	}
	if p.Err() != nil {
		return cfg, p.Err()
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
	return workspace.Invalid("ssh", format, args...)
}

// parseHealth reads the health map v of the parameters p reads, which
// have no error yet, recording its error in p.
func parseHealth(p *workspace.Params, v any) Health {
	m, ok := v.(map[string]any)
	if !ok {
		p.Fail("health", "{command: ...} or {url: ...}", v)
		return Health{}
	}
	hp := p.In(m, "health.")
	if err := hp.Known(healthKeys); err != nil {
		p.Keep(err)
		return Health{}
	}
	h := Health{Command: hp.String("command"), URL: hp.String("url"), Timeout: hp.Duration("timeout")}
	if hp.Err() == nil && !h.set() {
		hp.Keep(invalid("health: give a command or a url"))
	}
	p.Keep(hp.Err())
	return h
}

// parseHosts reads the host list under key: each entry is a string
// ([user@]address[:port]) or a map with the keys of a Host. Its error is
// the first one, but an unknown key in a host's map wins over the errors
// of the entries before it.
func parseHosts(params map[string]any, key string) ([]Host, error) {
	p := workspace.NewParams("ssh", params)
	var list []any
	switch v := params[key].(type) {
	case nil:
		return nil, nil
	case string:
		list = []any{v}
	case []any:
		list = v
	default:
		return nil, p.Want(key, "a list of hosts", v)
	}
	hosts := make([]Host, 0, len(list))
	for i, e := range list {
		at := fmt.Sprintf("%s[%d]", key, i)
		switch e := e.(type) {
		case string:
			h, err := parseHost(e)
			if err != nil {
				p.Keep(invalid("%s: %v", at, err))
			}
			hosts = append(hosts, h)
		case map[string]any:
			hp := p.In(e, at+".")
			if err := hp.Known(hostKeys); err != nil {
				return nil, err
			}
			hosts = append(hosts, Host{Name: hp.String("name"), Address: hp.String("address"),
				Port: hp.Int("port"), User: hp.String("user"), Root: hp.String("root")})
			p.Keep(hp.Err())
		default:
			p.Fail(at, "user@host:port or {name, address, port, user, root}", e)
		}
	}
	return hosts, p.Err()
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
