package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ferrybot/ferry/pipeline"
)

// The keys of projects and what they contain.
var (
	projectKeys  = []string{"repo", "channel", "dingtalk_group", "environments", "promotions"}
	envKeys      = []string{"branches", "tags", "default_ref", "auto", "target", "strategy", "approvals", "deployers", "lock_ttl", "url", "optional"}
	strategyKeys = []string{"batches", "bake", "continue", "max_failed_units", "auto_rollback", "parallel"}
	approvalKeys = []string{"required", "from", "expire"}
	targetTypes  = []string{"kubernetes", "local", "ssh"}
)

// localPaths names, per target type, the parameters that are paths on the
// ferry host; relative ones are resolved against the configuration file's
// directory. The root of an ssh target is on the remote hosts and stays as
// written, and so do the manifests of a kubernetes target, which are in
// the repository.
var localPaths = map[string][]string{
	"local":      {"root"},
	"ssh":        {"key", "known_hosts"},
	"kubernetes": {"kubeconfig"},
}

func (d *decoder) projects(n *yaml.Node) []pipeline.Project {
	var projects []pipeline.Project
	for _, e := range d.entries(n, "projects") {
		if d.name(e, "project") {
			projects = append(projects, d.project(e))
		}
	}
	return projects
}

func (d *decoder) project(e field) pipeline.Project {
	what := "project " + e.key
	f := d.fields(e.val, what, projectKeys...)
	p := pipeline.Project{Name: e.key}
	if t, ok := d.scalar(f["repo"].val, "repo of "+what); ok {
		switch {
		case t.s == "":
			d.addf(e.line, "%s has no repo: add repo: with a git URL or a path relative to this file", what)
		case !pipeline.RepoIsLocal(t.s) || strings.Contains(t.s, "://"): // a URL or an scp-like address, as git tells
			p.Repo = t.s
		default:
			p.Repo = d.path(t.s, "")
		}
	}
	p.Channel = d.str(f["channel"].val, "channel of "+what)
	envs := f["environments"]
	pn := projectNotes{line: e.line, dingtalkGroup: d.dingtalkGroup(f["dingtalk_group"].val, e.key)}
	for _, env := range d.entries(envs.val, "environments of "+what) {
		if d.name(env, "environment") {
			decoded, notes := d.environment(env)
			p.Envs = append(p.Envs, decoded)
			pn.envs = append(pn.envs, notes)
		}
	}
	if empty(envs.val) {
		line := envs.line
		if line == 0 {
			line = e.line
		}
		d.addf(line, "%s has no environments: add one under environments:, e.g. staging: {target: {type: local}}", what)
	}
	p.Promotions = d.promotions(f["promotions"], p)
	d.notes.projects = append(d.notes.projects, pn)
	return p
}

func (d *decoder) environment(e field) (pipeline.Environment, envNotes) {
	what := "environment " + e.key
	f := d.fields(e.val, what, envKeys...)
	env := pipeline.Environment{Name: e.key}
	n := envNotes{name: e.key}
	n.branches = d.rules(f["branches"].val, "branches of "+what)
	n.tags = d.rules(f["tags"].val, "tags of "+what)
	env.Branches, env.Tags = regexps(n.branches), regexps(n.tags)
	ref, _ := d.scalar(f["default_ref"].val, "default_ref of "+what)
	env.DefaultRef = ref.s
	if env.DefaultRef == "" {
		env.DefaultRef = literalBranch(n.branches)
	} else if !allows(env, ref.s) {
		d.addf(ref.line, "default_ref %s of %s matches none of its branch or tag rules, so a deploy that names no ref would be refused; name a ref the rules take", ref.shown(), what)
	}
	env.Auto = d.boolean(f["auto"].val, "auto of "+what)
	if env.Auto && noItems(f["branches"].val) && noItems(f["tags"].val) {
		d.addf(f["auto"].line, "auto of %s deploys pushes of matching refs, but it has no branches or tags; add branches: ['^main$'], or remove auto", what)
	}
	env.Target, n.target = d.target(f["target"], e)
	env.Strategy = d.strategy(f["strategy"].val, what)
	env.Approvals, n.from, n.required = d.approvals(f["approvals"].val, what)
	n.deployers = d.texts(f["deployers"].val, "deployers of "+what)
	for _, t := range n.deployers {
		env.Deployers = append(env.Deployers, t.s)
	}
	env.LockTTL = d.duration(f["lock_ttl"].val, "lock_ttl of "+what)
	env.URL = d.envURL(f["url"].val, env.Name)
	env.Optional = d.boolean(f["optional"].val, "optional of "+what)
	n.optional = f["optional"].line
	return env, n
}

// urlFields is what an environment's url may use, for messages.
const urlFields = "{{.Project}}, {{.Env}}, {{.Version}}, {{.Ref}}, {{.Commit}} and {{.ID}}"

// envURL decodes an environment's url: a template (pipeline.URLData) that
// gives an http or https URL with a host.
func (d *decoder) envURL(n *yaml.Node, env string) string {
	t, ok := d.scalar(n, "url of environment "+env)
	if !ok || t.s == "" {
		return ""
	}
	e := pipeline.Environment{Name: env, URL: t.s}
	u, err := e.URLFor(pipeline.Deploy{ID: 1, Project: "demo", Env: env, Version: "main@1111111", Ref: "main", Commit: strings.Repeat("1", 40)})
	if err != nil {
		why := "it is not a valid template"
		if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
			why = "it uses {{." + m[1] + "}}, which is not one of them"
		} else if !t.fromEnv {
			why += " (" + strings.TrimPrefix(err.Error(), "url of environment "+env+": ") + ")"
		}
		d.addf(t.line, "url %s of environment %s: %s; it may use %s", t.shown(), env, why, urlFields)
		return t.s
	}
	if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		d.addf(t.line, "url %s of environment %s must give an http:// or https:// URL with a host, e.g. https://{{.Env}}.example.com", t.shown(), env)
	}
	return t.s
}

var unknownField = regexp.MustCompile(`can't evaluate field (\w+)`)

// rule is a compiled branch or tag rule and how messages show it.
type rule struct {
	re      *regexp.Regexp
	line    int
	shown   string // the rule as written; ${VAR} stays unexpanded
	fromEnv bool   // a variable was substituted: never show what it matches
}

func (d *decoder) rules(n *yaml.Node, what string) []rule {
	var rules []rule
	for _, t := range d.texts(n, what) {
		if t.s == "" {
			d.addf(t.line, "%s has an empty rule, which matches every name; write '.*' if that is what you mean", what)
			continue
		}
		re, err := regexp.Compile(t.s)
		if err != nil {
			var se *syntax.Error
			if t.fromEnv && errors.As(err, &se) {
				err = errors.New(se.Code.String())
			} else if t.fromEnv {
				err = errors.New("it does not compile")
			}
			d.addf(t.line, "bad regexp %s in %s: %v", t.shown(), what, err)
			continue
		}
		shown := t.s
		if t.fromEnv {
			shown = t.raw
		}
		rules = append(rules, rule{re: re, line: t.line, shown: shown, fromEnv: t.fromEnv})
	}
	return rules
}

// regexps are the compiled rules.
func regexps(rules []rule) []*regexp.Regexp {
	var res []*regexp.Regexp
	for _, r := range rules {
		res = append(res, r.re)
	}
	return res
}

// literalBranch is the branch a sole rule of the form ^literal$ names, the
// default ref of its environment.
func literalBranch(rules []rule) string {
	if len(rules) != 1 {
		return ""
	}
	re, err := syntax.Parse(rules[0].re.String(), syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) != 3 {
		return ""
	}
	lit := re.Sub[1]
	if re.Sub[0].Op != syntax.OpBeginText || re.Sub[2].Op != syntax.OpEndText ||
		lit.Op != syntax.OpLiteral || lit.Flags&syntax.FoldCase != 0 {
		return ""
	}
	return string(lit.Rune)
}

// allows reports whether a ref named without its kind passes the rules of
// e as a branch or as a tag.
func allows(e pipeline.Environment, ref string) bool {
	_, name := pipeline.RefName(ref)
	ok, _ := e.Allows(pipeline.Commit{Branch: name, Tag: name})
	return ok
}

// target decodes an environment's target, and returns the lines of its
// keys ("" for the target itself) for errors found later.
func (d *decoder) target(f field, env field) (pipeline.TargetSpec, map[string]int) {
	where := "environment " + env.key
	spec := pipeline.TargetSpec{Params: map[string]any{}}
	lines := map[string]int{"": f.line}
	if isNull(f.val) {
		d.addf(env.line, "%s has no target: add target: with a type (%s), e.g. target: {type: local}", where, strings.Join(targetTypes, ", "))
		return spec, lines
	}
	what := "target of " + where
	typeLine := 0
	for _, e := range d.entries(f.val, what) {
		lines[e.key] = e.line
		if e.key != "type" {
			spec.Params[e.key] = d.value(e.val, "target."+e.key+" of "+where)
			continue
		}
		t, _ := d.scalar(e.val, "target.type of "+where)
		spec.Type, typeLine = t.s, e.line
		switch {
		case t.s == "" || contains(targetTypes, t.s):
		case t.fromEnv:
			d.addf(t.line, "target.type of %s is %s, which is not one of %s", where, t.shown(), strings.Join(targetTypes, ", "))
		default:
			d.unknown(field{key: t.s, line: t.line}, "target type", where, targetTypes)
		}
	}
	if spec.Type == "" && resolve(f.val).Kind == yaml.MappingNode {
		line := typeLine
		if line == 0 {
			line = f.line
		}
		d.addf(line, "%s has no type: add type: with one of %s", what, strings.Join(targetTypes, ", "))
	}
	for _, key := range localPaths[spec.Type] {
		if p, ok := spec.Params[key].(string); ok && p != "" {
			spec.Params[key] = d.path(p, "")
		}
	}
	return spec, lines
}

func (d *decoder) strategy(n *yaml.Node, where string) pipeline.Strategy {
	s := pipeline.Strategy{
		Batches:  []pipeline.BatchSize{{Percent: 100}},
		Continue: pipeline.ContinueAuto,
	}
	f := d.fields(n, "strategy of "+where, strategyKeys...)
	for _, key := range strategyKeys {
		if v, ok := f[key]; ok {
			d.strategyKey(&s, v, where)
		}
	}
	return s
}

// strategyKey decodes one key of a strategy into s.
func (d *decoder) strategyKey(s *pipeline.Strategy, f field, where string) {
	what := "strategy." + f.key + " of " + where
	switch f.key {
	case "batches":
		if !isNull(f.val) {
			s.Batches = d.batches(f, what)
		}
	case "bake":
		s.Bake = d.duration(f.val, what)
	case "continue":
		t, ok := d.scalar(f.val, what)
		if !ok || t.s == "" {
			return
		}
		modes := []string{pipeline.ContinueAuto, pipeline.ContinueManual}
		if !contains(modes, t.s) {
			hint := ""
			if s, ok := suggest(t.s, modes); ok && !t.fromEnv {
				hint = fmt.Sprintf("; did you mean %q?", s)
			}
			d.addf(t.line, "%s must be auto or manual, not %s%s", what, t.shown(), hint)
		}
		s.Continue = t.s
	case "max_failed_units":
		s.MaxFailedUnits = d.count(f.val, what)
	case "auto_rollback":
		s.AutoRollback = d.boolean(f.val, what)
	case "parallel":
		s.Parallel = d.count(f.val, what)
	}
}

const badBatch = "%s: %s is not a batch size; write a number of units (1 or more) or a percentage (above 0%% and at most 100%%)"

// batches decodes cumulative batch sizes: counts of units (1, 2, ...) and
// percentages of all units (10%, 50%, 100%), each kind increasing.
func (d *decoder) batches(f field, what string) []pipeline.BatchSize {
	var (
		sizes       []pipeline.BatchSize
		lastCount   int
		lastPercent float64
		last        string
	)
	items := d.texts(f.val, what)
	if len(items) == 0 && resolve(f.val).Kind == yaml.SequenceNode {
		d.addf(f.line, "%s is empty; list the sizes, e.g. [1, 50%%, 100%%], or remove it to deploy every unit at once", what)
	}
	for _, t := range items {
		var b pipeline.BatchSize
		if pct, ok := strings.CutSuffix(t.s, "%"); ok {
			p, err := strconv.ParseFloat(pct, 64)
			if err != nil || !(p > 0 && p <= 100) {
				d.addf(t.line, badBatch, what, t.shown())
				continue
			}
			b.Percent = p
		} else {
			c, err := strconv.Atoi(t.s)
			if err != nil || c <= 0 {
				d.addf(t.line, badBatch, what, t.shown())
				continue
			}
			b.Count = c
		}
		switch {
		case lastPercent == 100:
			d.addf(t.line, "%s: %s comes after 100%%, which already reaches every unit; remove it", what, t.shown())
			continue
		case b.Count > 0 && b.Count <= lastCount, b.Percent > 0 && b.Percent <= lastPercent:
			d.addf(t.line, "%s must increase: %s comes after %s; sizes are cumulative, e.g. [1, 50%%, 100%%]", what, t.shown(), last)
			continue
		}
		lastCount, lastPercent, last = max(lastCount, b.Count), max(lastPercent, b.Percent), t.shown()
		sizes = append(sizes, b)
	}
	return sizes
}

// approvals decodes an approval policy: a mapping, or a number as shorthand
// for {required: N}.
func (d *decoder) approvals(n *yaml.Node, where string) (pipeline.ApprovalPolicy, []text, required) {
	var p pipeline.ApprovalPolicy
	if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode && !isNull(r) {
		p.Required = d.count(r, "approvals of "+where)
		return p, nil, required{n: p.Required, line: r.Line}
	}
	f := d.fields(n, "approvals of "+where, approvalKeys...)
	p.Required = d.count(f["required"].val, "approvals.required of "+where)
	from := d.texts(f["from"].val, "approvals.from of "+where)
	for _, t := range from {
		p.From = append(p.From, t.s)
	}
	p.Expire = d.duration(f["expire"].val, "approvals.expire of "+where)
	line := f["required"].line
	return p, from, required{n: p.Required, line: line}
}

// required is an approval count and the line it is on.
type required struct {
	n    int
	line int
}
