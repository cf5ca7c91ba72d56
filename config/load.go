package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ferrybot/ferry/pipeline"
)

// The keys of each level of ferry.yaml.
var (
	topKeys        = []string{"listen", "storage", "outbox", "metrics", "workspace", "base_url", "session_secret", "auth", "slack", "dingtalk", "github", "gitlab", "gitee", "dashboards", "freezes", "users", "teams", "projects"}
	userKeys       = []string{"admin", "teams", "password_hash", "oidc", "tokens", "chat", "forge"}
	teamKeys       = []string{"members"}
	chatPlatforms  = []string{"slack", "dingtalk", "web"} // dingtalk: the enterprise userId, a robot message's senderStaffId
	forgePlatforms = []string{"github", "gitlab", "gitee"}
)

// engineActor is the name transitions made by ferry itself are recorded
// under (pipeline.Transition.Actor), so no user may have it.
const engineActor = "ferry"

// Minimum lengths of secrets, so that a placeholder never guards anything.
const (
	minTokenLen         = 16
	minSessionSecretLen = 32
)

// Loader reads configuration files.
type Loader struct {
	// LookupEnv returns the value of a variable for ${VAR} expansion;
	// nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
}

// Load reads, expands and validates the configuration file at path, taking
// variables from the process environment.
func Load(path string) (*Config, error) { return Loader{}.Load(path) }

// Parse expands and validates a configuration; name is the file name used
// in problems and baseDir the directory relative paths start from.
func Parse(name string, data []byte, baseDir string) (*Config, error) {
	return Loader{}.Parse(name, data, baseDir)
}

// Load reads, expands and validates the configuration file at path.
func (l Loader) Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return l.Parse(path, data, filepath.Dir(path))
}

// Parse expands and validates a configuration. The error, when the
// configuration has problems, is Problems.
func (l Loader) Parse(name string, data []byte, baseDir string) (*Config, error) {
	dir, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	d := &decoder{file: name, dir: dir, lookup: l.LookupEnv}
	cfg := d.document(data)
	if cfg != nil {
		d.validate(cfg)
	}
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
		return nil, d.problems
	}
	cfg.targetLines = map[string]map[string]int{}
	for i, p := range cfg.Projects {
		for j, env := range p.Envs {
			cfg.targetLines[p.Name+"\x00"+env.Name] = d.notes.projects[i].envs[j].target
		}
	}
	return cfg, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserErrors are the problems yaml.v3's parser (not its scanner) reports.
// It counts their lines from 0 and leaves out "line 0", where the scanner
// counts from 1. For some the line is where the enclosing mapping or list
// starts rather than the offending token.
var parserErrors = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// syntaxError returns the 1-based line and the message of a yaml.v3 error.
func syntaxError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if parserErrors[msg] {
		line++
	}
	return line, msg
}

// document decodes the file; it returns nil when the file is not YAML.
func (d *decoder) document(data []byte) *Config {
	root, isEmpty := d.root(data, "ferry.yaml")
	if isEmpty {
		d.addf(0, "the file is empty; it needs at least projects:")
	}
	if root == nil {
		return nil
	}
	f := d.fields(root, topLevel, topKeys...)
	cfg := &Config{Dir: d.dir}
	cfg.Listen = d.listen(f["listen"])
	cfg.BaseURL = d.baseURL(f["base_url"], cfg.Listen)
	cfg.Storage, cfg.Retention, cfg.Lease = d.storage(f["storage"])
	cfg.GiveUp = d.outbox(f["outbox"])
	cfg.Metrics = d.metrics(f["metrics"], cfg.Listen)
	cfg.Workspace = d.path(d.str(f["workspace"].val, "workspace"), "workspace")
	if t, ok := d.scalar(f["session_secret"].val, "session_secret"); ok {
		if t.s != "" && len(t.s) < minSessionSecretLen {
			d.addf(t.line, "session_secret is shorter than %d characters; make one with: openssl rand -hex 32", minSessionSecretLen)
		}
		cfg.SessionSecret = t.s
	}
	if (strings.HasPrefix(cfg.Storage, "postgres://") || strings.HasPrefix(cfg.Storage, "postgresql://")) && cfg.SessionSecret == "" {
		d.addf(f["storage"].line, "storage is PostgreSQL, so ferry may run as several processes, and each must sign sessions alike: add session_secret: ${FERRY_SESSION_SECRET} (make one with: openssl rand -hex 32)")
	}
	cfg.Auth = d.auth(f["auth"])
	cfg.Slack = d.slack(f["slack"])
	cfg.DingTalk = d.dingtalk(f["dingtalk"])
	cfg.GitHub = d.github(f["github"])
	cfg.GitLab = d.forge("gitlab", f["gitlab"])
	cfg.Gitee = d.forge("gitee", f["gitee"])
	cfg.Dashboards = d.dashboards(f["dashboards"])
	cfg.Freezes = d.freezes(f["freezes"])
	cfg.Users = d.users(f["users"].val)
	cfg.Teams = d.teams(f["teams"].val)
	cfg.Projects = d.projects(f["projects"].val)
	for i, p := range cfg.Projects {
		if g := d.notes.projects[i].dingtalkGroup.s; g != "" {
			if cfg.DingTalk.Groups == nil {
				cfg.DingTalk.Groups = map[string]string{}
			}
			cfg.DingTalk.Groups[p.Name] = g
		}
	}
	if len(cfg.Projects) == 0 && empty(f["projects"].val) {
		d.addf(f["projects"].line, "no projects: add one under projects:, with a repo and environments")
	}
	return cfg
}

// root parses data, which file (for messages) holds as one YAML document,
// and returns the document's root node. It is nil when data is not YAML,
// with the problem recorded, or when it is empty, which it reports.
func (d *decoder) root(data []byte, file string) (root *yaml.Node, empty bool) {
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		// YAML would read it as UTF-16, and every line ferry names would
		// be another line than the editor's.
		d.addf(1, "%s is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8", file)
		return nil, false
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&doc)
	if err == nil {
		var more yaml.Node
		switch err := dec.Decode(&more); {
		case err == nil:
			d.addf(more.Line, "a second YAML document starts here; %s holds one", file)
		case !errors.Is(err, io.EOF):
			line, msg := syntaxError(err)
			d.addf(line, "invalid YAML: %s%s", msg, flowHint(data, line))
		}
	}
	switch {
	case errors.Is(err, io.EOF) || err == nil && len(doc.Content) == 0:
		return nil, true
	case err != nil:
		line, msg := syntaxError(err)
		d.addf(line, "invalid YAML: %s%s", msg, flowHint(data, line))
		return nil, false
	}
	return doc.Content[0], false
}

// flowHint explains the usual cause of a syntax error on a line with a
// variable inside [...] or {...}: braces end a plain value there.
func flowHint(data []byte, line int) string {
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	l := lines[line-1]
	if i := strings.Index(l, "${"); i > 0 && strings.ContainsAny(l[:i], "[{") {
		return `; inside [...] or {...} quote a value with a variable, e.g. ["${TOKEN}"]`
	}
	return ""
}

func (d *decoder) listen(f field) string {
	t, _ := d.scalar(f.val, "listen")
	if t.s == "" {
		return "127.0.0.1:8080"
	}
	_, port, err := net.SplitHostPort(t.s)
	if p, perr := strconv.Atoi(port); err != nil || perr != nil || p < 0 || p > 65535 {
		d.addf(t.line, "listen must be host:port, e.g. 127.0.0.1:8080 or :8080, not %s", t.shown())
	}
	return t.s
}

func (d *decoder) baseURL(f field, listen string) string {
	t, _ := d.scalar(f.val, "base_url")
	if t.s == "" {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return "http://" + listen
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		return "http://" + net.JoinHostPort(host, port)
	}
	rest, ok := strings.CutPrefix(t.s, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(t.s, "https://")
	}
	if !ok || rest == "" || strings.HasPrefix(rest, "/") {
		d.addf(t.line, "base_url must be an http:// or https:// URL with a host, e.g. https://ferry.example.com, not %s", t.shown())
	}
	return strings.TrimRight(t.s, "/")
}

// storage decodes storage: a path, or {path, retention: {bodies,
// deliveries}, lease}.
func (d *decoder) storage(f field) (string, Retention, time.Duration) {
	r := Retention{Bodies: DefaultBodyRetention, Deliveries: DefaultDeliveryRetention}
	lease := pipeline.DefaultLeaseTTL
	n := f.val
	if n != nil && n.Kind == yaml.MappingNode {
		fs := d.fields(n, "storage", "path", "retention", "lease")
		n = fs["path"].val
		if lf := fs["lease"]; lf.line != 0 {
			switch v := d.duration(lf.val, "storage.lease"); {
			case v > 0 && v < time.Second:
				d.addf(lf.line, "storage.lease is %s: give at least 1s (the default is %s); a replica renews its leases at a third of it", v, pipeline.DefaultLeaseTTL)
			case v > 0:
				lease = v
			}
		}
		if rf := fs["retention"]; rf.line != 0 && !isNull(rf.val) {
			rs := d.fields(rf.val, "storage.retention", "bodies", "deliveries")
			if v := d.duration(rs["bodies"].val, "storage.retention.bodies"); v > 0 {
				r.Bodies = v
			}
			if v := d.duration(rs["deliveries"].val, "storage.retention.deliveries"); v > 0 {
				r.Deliveries = v
			}
			if r.Deliveries < r.Bodies {
				d.addf(rf.line, "storage.retention.deliveries (%s) must be at least storage.retention.bodies (%s): a delivery is kept at least as long as its body", r.Deliveries, r.Bodies)
			}
		}
	}
	s := d.str(n, "storage")
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		return s, r, lease
	}
	if strings.Contains(s, "://") || s == ":memory:" {
		// Not a file: SQLite would open a file of that name.
		d.addf(f.line, "storage is %q, which is neither a SQLite file nor a PostgreSQL database: give a path like var/ferry.db, or postgres://user@host/db", RedactURL(s))
		return s, r, lease
	}
	return d.path(s, "ferry.db"), r, lease
}

// outbox decodes outbox: {give_up}.
func (d *decoder) outbox(f field) time.Duration {
	if f.line == 0 || isNull(f.val) {
		return DefaultGiveUp
	}
	fs := d.fields(f.val, "outbox", "give_up")
	if v := d.duration(fs["give_up"].val, "outbox.give_up"); v > 0 {
		return v
	}
	return DefaultGiveUp
}

// metrics decodes metrics: {listen, token}.
func (d *decoder) metrics(f field, listen string) Metrics {
	var m Metrics
	if f.line == 0 || isNull(f.val) {
		return m
	}
	fs := d.fields(f.val, "metrics", "listen", "token")
	if t, _ := d.scalar(fs["listen"].val, "metrics.listen"); t.s != "" {
		_, port, err := net.SplitHostPort(t.s)
		if p, perr := strconv.Atoi(port); err != nil || perr != nil || p < 1 || p > 65535 {
			d.addf(t.line, "metrics.listen must be host:port, e.g. 127.0.0.1:9090, not %s", t.shown())
		} else if t.s == listen {
			d.addf(t.line, "metrics.listen is listen's address; give /metrics another port, e.g. 127.0.0.1:9090, or leave metrics.listen out to serve it on listen")
		}
		m.Listen = t.s
	}
	if t, _ := d.scalar(fs["token"].val, "metrics.token"); t.s != "" {
		if len(t.s) < minTokenLen {
			d.addf(t.line, "metrics.token is shorter than %d characters; make one with: openssl rand -hex 32", minTokenLen)
		}
		m.Token = t.s
	}
	return m
}

// path resolves a path against the configuration file's directory; def is
// used when p is empty.
func (d *decoder) path(p, def string) string {
	if p == "" {
		p = def
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.dir, p)
}

var bcryptHash = regexp.MustCompile(`^\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}$`)

func (d *decoder) users(n *yaml.Node) []pipeline.User {
	var users []pipeline.User
	for _, e := range d.entries(n, "users") {
		if !d.name(e, "user") {
			continue
		}
		if e.key == engineActor || e.key == pipeline.Promoter {
			d.addf(e.line, "user name %q is reserved: the audit log records ferry's own actions under it; choose another name", e.key)
			continue
		}
		what := "user " + e.key
		f := d.fields(e.val, what, userKeys...)
		u := pipeline.User{Name: e.key}
		u.Admin = d.boolean(f["admin"].val, "admin of "+what)
		for _, t := range d.texts(f["teams"].val, "teams of "+what) {
			d.notes.memberships = append(d.notes.memberships, membership{user: e.key, team: t.s, t: t})
		}
		if t, ok := d.scalar(f["password_hash"].val, "password_hash of "+what); ok && t.s != "" {
			if !bcryptHash.MatchString(t.s) {
				d.addf(t.line, "password_hash of %s is not a bcrypt hash ($2a$10$ and 53 more characters); make one with: htpasswd -nbBC 10 '' PASSWORD | cut -d: -f2", what)
			}
			u.PasswordHash = t.s
		}
		if t, ok := d.scalar(f["oidc"].val, "oidc of "+what); ok && t.s != "" {
			u.OIDC = t.s
			if d.notes.auth.users == nil {
				d.notes.auth.users = map[string]int{}
			}
			d.notes.auth.users[e.key] = t.line
		}
		for _, t := range d.texts(f["tokens"].val, "tokens of "+what) {
			d.notes.tokens = append(d.notes.tokens, owned{user: e.key, t: t})
			u.Tokens = append(u.Tokens, t.s)
		}
		u.Chat = d.identities(f["chat"], e.key, "chat", chatPlatforms)
		u.Forge = d.identities(f["forge"], e.key, "forge", forgePlatforms)
		users = append(users, u)
	}
	return users
}

// identities decodes a user's chat or forge identities, platform → ID.
func (d *decoder) identities(f field, user, kind string, platforms []string) map[string]string {
	var ids map[string]string // nil when the user has none
	where := kind + " of user " + user
	for _, e := range d.entries(f.val, where) {
		if !contains(platforms, e.key) {
			d.unknown(e, kind+" platform", where, platforms)
			continue
		}
		t, ok := d.scalar(e.val, kind+"."+e.key+" of user "+user)
		if !ok {
			continue
		}
		if t.s == "" {
			d.addf(e.line, "%s.%s of user %s is empty; give the user's ID there, or remove the line", kind, e.key, user)
			continue
		}
		if ids == nil {
			ids = map[string]string{}
		}
		ids[e.key] = t.s
		d.notes.identities = append(d.notes.identities, identity{user: user, kind: kind, platform: e.key, t: t})
	}
	return ids
}

func (d *decoder) teams(n *yaml.Node) []pipeline.Team {
	var teams []pipeline.Team
	for _, e := range d.entries(n, "teams") {
		if !d.name(e, "team") {
			continue
		}
		what := "team " + e.key
		f := d.fields(e.val, what, teamKeys...)
		t := pipeline.Team{Name: e.key}
		d.notes.teamLines = append(d.notes.teamLines, e.line)
		for _, m := range d.texts(f["members"].val, "members of "+what) {
			d.notes.memberships = append(d.notes.memberships, membership{user: m.s, team: e.key, t: m, byTeam: true})
		}
		teams = append(teams, t)
	}
	return teams
}

// RedactURL is a URL as messages may show it: without its password.
func RedactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return s
}
