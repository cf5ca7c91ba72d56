package config

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ferrybot/ferry/pipeline"
)

// A repository's own .ferry.yaml.
//
// It holds one key, environments:, and under it environments of the
// repository's project by name:
//
//	environments:
//	  staging:                  # narrows an environment of ferry.yaml
//	    branches: ['^main$']
//	    strategy: {batches: [1, 100%], continue: manual}
//	  preview: {}               # adds an optional environment as it is
//
// The rules, which never let a repository widen ferry's policy:
//
//   - An environment must be one of the project's in ferry.yaml: narrowed
//     when it is there anyway, added when it is optional. A repository
//     cannot define an environment, whose target would be undefined.
//   - A key may be set only when github.repo_config.allow lists it
//     (environments.<env>.<key>, * for any one name). Adding an optional
//     environment needs no key.
//   - target, deployers, approvals.from, approvals.expire, lock_ttl, url
//     and optional are ferry.yaml's alone, whatever allow says.
//   - branches and tags narrow: a ref deploys only if it passes the
//     repository's rules and ferry.yaml's both.
//   - approvals.required may only rise, to at most the people who may
//     approve.
//   - default_ref, auto and strategy are taken as written, checked as in
//     ferry.yaml: they pace and trigger deploys, and policy (deployers,
//     approvals, locks) still judges each one.
//   - ${VAR} is not expanded: a repository does not read ferry's
//     environment.
//
// pipeline.Narrows checks the same of every request again.

// RepoFile is where a repository keeps its own configuration.
const RepoFile = ".ferry.yaml"

// maxRepoFile is the largest .ferry.yaml ferry reads.
const maxRepoFile = 64 << 10

// maxRepoRules bounds the branch and tag rules of a .ferry.yaml: each is
// tried against every rule of the other environments (overlap.go), so a
// file of thousands would take hours.
const maxRepoRules = 32

// repoPaths are the keys of an environment a repository's .ferry.yaml may
// set, when github.repo_config.allow lists them.
var repoPaths = []string{
	"branches", "tags", "default_ref", "auto",
	"strategy.batches", "strategy.bake", "strategy.continue", "strategy.max_failed_units", "strategy.auto_rollback", "strategy.parallel",
	"approvals.required",
}

// serverOnly are the keys of an environment that only ferry.yaml sets, and
// why.
var serverOnly = map[string]string{
	"target":           "a repository cannot choose where ferry deploys",
	"deployers":        "a repository cannot change who may deploy",
	"approvals.from":   "a repository cannot change who may approve",
	"approvals.expire": "a repository cannot change how long approvals are awaited",
	"lock_ttl":         "a repository cannot change how long locks hold",
	"url":              "the forge shows it as the environment's address, which a repository must not point elsewhere",
	"optional":         "ferry's configuration decides which environments a repository may add",
}

// RepoProject is project p as a repository's .ferry.yaml makes it for
// the repository's forge events: its environments narrowed, and its
// optional ones added, as the file says; without the forge's repo_config
// (r nil), or without a file (data nil), p without its optional
// environments. file names the file in problems. The error, when the file
// asks for anything it may not, is Problems, each naming the key, its line
// and why.
func (r *RepoRules) RepoProject(p pipeline.Project, file string, data []byte) (pipeline.Project, error) {
	if r == nil || data == nil {
		return p.WithoutOptional(), nil
	}
	d := &decoder{file: file, literal: true}
	listed := d.repoFile(r, p, data)
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
		return pipeline.Project{}, d.problems
	}
	out := p
	out.Envs = nil
	for _, e := range p.Envs {
		if n, ok := listed[e.Name]; ok {
			out.Envs = append(out.Envs, n)
		} else if !e.Optional {
			out.Envs = append(out.Envs, e)
		}
	}
	return out, nil
}

// repoFile decodes a .ferry.yaml and returns the environments it lists,
// narrowed.
func (d *decoder) repoFile(r *RepoRules, p pipeline.Project, data []byte) map[string]pipeline.Environment {
	if len(data) > maxRepoFile {
		d.addf(0, "the file is %d bytes; ferry reads a %s of at most %d", len(data), RepoFile, maxRepoFile)
		return nil
	}
	root, _ := d.root(data, RepoFile)
	listed := map[string]pipeline.Environment{}
	var pn projectNotes
	for _, f := range d.entries(root, topLevel) {
		switch {
		case f.key == "environments":
		case strings.HasPrefix(f.key, "x-"):
			continue
		case contains(topKeys, f.key):
			d.addf(f.line, "%s is set only in ferry's own configuration; %s holds environments: only", f.key, RepoFile)
			continue
		default:
			d.unknown(f, "key", topLevel, []string{"environments"})
			continue
		}
		for _, e := range d.entries(f.val, "environments") {
			if !d.name(e, "environment") {
				continue
			}
			base, ok := p.Env(e.key)
			if !ok {
				d.addf(e.line, "environment %s is not one of project %s's in ferry's configuration (%s): a repository narrows those and adds the optional ones, but cannot define one, whose target would be undefined",
					e.key, p.Name, strings.Join(p.EnvNames(), ", "))
				continue
			}
			env, n := d.repoEnv(r, e, base)
			listed[e.key] = env
			pn.envs = append(pn.envs, n)
		}
	}
	var rules []rule
	for _, n := range pn.envs {
		rules = append(append(rules, n.branches...), n.tags...)
	}
	if len(rules) > maxRepoRules {
		d.addf(rules[maxRepoRules].line, "the file has %d branch and tag rules; a %s holds at most %d", len(rules), RepoFile, maxRepoRules)
		return listed
	}
	d.overlaps(pn)
	return listed
}

// repoEnv narrows base as the environment e of a .ferry.yaml says.
func (d *decoder) repoEnv(r *RepoRules, e field, base pipeline.Environment) (pipeline.Environment, envNotes) {
	env, n := base, envNotes{name: e.key}
	what := "environment " + e.key
	var ref text
	auto := 0 // the line of auto:
	for _, f := range d.repoLeaves(e.val, what, "") {
		path := "environments." + e.key + "." + f.key
		if why, ok := serverOnly[f.key]; ok {
			d.addf(f.line, "%s is set only in ferry's own configuration: %s", path, why)
			continue
		}
		if !allowed(r.rc.Allow, e.key, f.key) {
			list := "none"
			if allow := r.rc.Allow; len(allow) > 0 {
				list = strings.Join(allow, ", ")
			}
			d.addf(f.line, "%s is not a key ferry lets a repository set; %s.repo_config.allow in ferry's configuration allows %s", path, r.platform, list)
			continue
		}
		switch key, sub, _ := strings.Cut(f.key, "."); key {
		case "branches":
			n.branches = d.rules(f.val, "branches of "+what)
			env.Branches = regexps(n.branches)
		case "tags":
			n.tags = d.rules(f.val, "tags of "+what)
			env.Tags = regexps(n.tags)
		case "default_ref":
			ref, _ = d.scalar(f.val, "default_ref of "+what)
			env.DefaultRef = ref.s
		case "auto":
			env.Auto = d.boolean(f.val, "auto of "+what)
			auto = f.line
		case "strategy":
			d.strategyKey(&env.Strategy, field{key: sub, line: f.line, val: f.val}, what)
		case "approvals":
			n.required = required{n: d.count(f.val, "approvals.required of "+what), line: f.line}
			env.Approvals.Required = n.required.n
		}
	}
	d.repoChecks(r.cfg, env, base, n, ref, auto)
	return env, n
}

// repoChecks checks what one key of a narrowed environment cannot show;
// ref is its default_ref and auto the line of its auto:, 0 for none.
func (d *decoder) repoChecks(c *Config, env, base pipeline.Environment, n envNotes, ref text, auto int) {
	what := "environment " + env.Name
	if auto != 0 && env.Auto && len(env.Branches) == 0 && len(env.Tags) == 0 {
		d.addf(auto, "auto of %s deploys pushes of matching refs, but it has no branches or tags; add branches: ['^main$'], or remove auto", what)
	}
	if n.required.line != 0 {
		if n.required.n < base.Approvals.Required {
			d.addf(n.required.line, "approvals.required of %s is %d, below the %d ferry's configuration requires; a repository may raise it, never lower it",
				what, n.required.n, base.Approvals.Required)
		} else {
			d.policy(c, env, envNotes{name: env.Name, required: n.required}, nil, nil)
		}
	}
	if ref.s != "" && !(allows(env, ref.s) && allows(base, ref.s)) {
		d.addf(ref.line, "default_ref %s of %s is not taken by its branch or tag rules here and in ferry's configuration, so a deploy that names no ref would be refused; name a ref both take", ref.shown(), what)
	}
}

// repoLeaves returns the keys an environment of a .ferry.yaml sets, as
// paths (strategy.bake), reporting unknown ones. approvals: N stands for
// approvals.required.
func (d *decoder) repoLeaves(n *yaml.Node, env, prefix string) []field {
	in := env
	if prefix != "" {
		in = strings.TrimSuffix(prefix, ".") + " of " + env
	}
	level := map[string][]string{
		"":           {"branches", "tags", "default_ref", "auto", "strategy", "approvals"},
		"strategy.":  strategyKeys,
		"approvals.": {"required"},
	}[prefix]
	var out []field
	for _, f := range d.entries(n, in) {
		path := prefix + f.key
		switch {
		case strings.HasPrefix(f.key, "x-"):
		case path == "approvals" && resolve(f.val).Kind == yaml.ScalarNode:
			out = append(out, field{key: "approvals.required", line: f.line, val: f.val})
		case path == "strategy" || path == "approvals":
			out = append(out, d.repoLeaves(f.val, env, path+".")...)
		case serverOnly[path] != "" || contains(level, f.key):
			out = append(out, field{key: path, line: f.line, val: f.val})
		default:
			d.unknown(f, "key", in, level)
		}
	}
	return out
}

// allowed reports whether one of patterns lets a repository set key (a
// path in an environment, like strategy.bake) of environment env.
func allowed(patterns []string, env, key string) bool {
	for _, p := range patterns {
		if matchPath(p, "environments."+env+"."+key) {
			return true
		}
	}
	return false
}

// matchPath reports whether a dotted pattern, where * stands for any one
// name, matches path.
func matchPath(pattern, path string) bool {
	ps, ks := strings.Split(pattern, "."), strings.Split(path, ".")
	if len(ps) != len(ks) {
		return false
	}
	for i := range ps {
		if ps[i] != "*" && ps[i] != ks[i] {
			return false
		}
	}
	return true
}

// repoConfig checks github.repo_config against the projects: each allowed
// key is one a repository can set, and optional environments have a way
// to be added.
func (d *decoder) repoConfig(cfg *Config) {
	envs := map[string]bool{}
	for i, pn := range d.notes.projects {
		for j, n := range pn.envs {
			env := cfg.Projects[i].Envs[j]
			envs[env.Name] = true
			if env.Optional && cfg.GitHub.RepoConfig == nil && cfg.GitLab.RepoConfig == nil && cfg.Gitee.RepoConfig == nil {
				d.addf(n.optional, "environment %s of project %s is optional, but no forge has repo_config, so no repository can add it; add repo_config: {} under github: (or gitlab:, gitee:), or remove optional",
					env.Name, cfg.Projects[i].Name)
			}
		}
	}
	for _, n := range d.notes.allow {
		d.allowKey(n, keys(envs))
	}
}

// allowNote is a key of a forge's repo_config.allow, to check against the
// projects.
type allowNote struct {
	platform string
	key      text
}

// allowKey checks one key of a forge's repo_config.allow.
func (d *decoder) allowKey(n allowNote, envs []string) {
	t, what := n.key, n.platform+".repo_config.allow"
	parts := strings.SplitN(t.s, ".", 3)
	if len(parts) < 3 || parts[0] != "environments" {
		d.addf(t.line, "%s: %s is not a key of %s; write environments.<env>.<key>, e.g. environments.*.branches", what, t.shown(), RepoFile)
		return
	}
	part := func(s string) text { return text{s: s, line: t.line, fromEnv: t.fromEnv} }
	if parts[1] != "*" && !contains(envs, parts[1]) {
		d.missing(part(parts[1]), fmt.Sprintf("%s: %s names environment %s, which no project has", what, t.shown(), parts[1]), envs, "write * for any environment")
		return
	}
	for _, p := range repoPaths {
		if matchPath(parts[2], p) {
			return
		}
	}
	for _, p := range keys(serverOnly) {
		if matchPath(parts[2], p) {
			d.addf(t.line, "%s: %s can never be allowed: %s", what, t.shown(), serverOnly[p])
			return
		}
	}
	d.missing(part(parts[2]), fmt.Sprintf("%s: %s is not a key a repository can set", what, t.shown()), repoPaths, "those are "+strings.Join(repoPaths, ", "))
}
