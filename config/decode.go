package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree, expanding variables in scalars and
// collecting every problem with its line. Its helpers take a nil node for a
// key that is absent and return the zero value then.
type decoder struct {
	file     string
	dir      string
	lookup   func(string) (string, bool)
	problems Problems
	notes    notes // what the cross-checks of validate.go need
	// literal leaves ${VAR} as written: a repository's .ferry.yaml must
	// not read ferry's environment.
	literal bool
	// reading are the anchored nodes being read through an alias or a
	// merge, and through counts the nodes those reads took in (see enter).
	reading map[*yaml.Node]bool
	through int
}

// maxThrough bounds the nodes one file may bring in through aliases and
// merges (<<), each use of an anchor counted: anchors whose contents use
// anchors multiply, and a file of a few hundred bytes could otherwise stand
// for billions of keys.
const maxThrough = 1 << 16

// enter starts reading n, an anchored mapping or list reached through an
// alias or a merge; leave ends it. It reports false, with the problem
// recorded, when n holds an alias of itself, which would be read forever,
// or when the file's aliases and merges have brought in more than
// maxThrough nodes.
func (d *decoder) enter(n *yaml.Node) bool {
	if d.reading[n] {
		d.addf(n.Line, "this anchor holds an alias of itself, so it never ends; remove the alias")
		return false
	}
	if d.through > maxThrough {
		return false // said once already
	}
	if d.through += len(n.Content) + 1; d.through > maxThrough {
		d.addf(n.Line, "the aliases and merges (<<) of the file stand for more than %d values by here: anchors that use anchors multiply; use fewer", maxThrough)
		return false
	}
	if d.reading == nil {
		d.reading = map[*yaml.Node]bool{}
	}
	d.reading[n] = true
	return true
}

func (d *decoder) leave(n *yaml.Node) { delete(d.reading, n) }

func (d *decoder) addf(line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// field is one key: value pair of a mapping.
type field struct {
	key  string
	line int // the key's line
	val  *yaml.Node
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// empty reports whether n is absent, null or an empty mapping.
func empty(n *yaml.Node) bool {
	n = resolve(n)
	return isNull(n) || n.Kind == yaml.MappingNode && len(n.Content) == 0
}

// noItems reports whether n is absent, null or an empty list.
func noItems(n *yaml.Node) bool {
	n = resolve(n)
	return isNull(n) || n.Kind == yaml.SequenceNode && len(n.Content) == 0
}

// describe says what a node is, for "must be X, not Y" messages. A scalar is
// shown as written in the file, so an expanded secret never appears.
func describe(n *yaml.Node) string {
	switch resolve(n).Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(resolve(n).Value)
}

// entries returns the pairs of a mapping in file order, with the pairs of
// merge keys (<<: *anchor) that are not overridden. It reports duplicate
// keys. A null node has no entries.
func (d *decoder) entries(n *yaml.Node, what string) []field {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "%s must be a mapping (key: value), not %s", what, describe(n))
		return nil
	}
	var own, merged []field
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.merge(v, what)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.addf(k.Line, "keys of %s must be plain names, not %s", what, describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.addf(k.Line, "duplicate key %q in %s; it is first at line %d", k.Value, what, first)
			continue
		}
		seen[k.Value] = k.Line
		own = append(own, field{key: k.Value, line: k.Line, val: v})
	}
	for _, f := range merged {
		if _, ok := seen[f.key]; !ok {
			seen[f.key] = f.line
			own = append(own, f)
		}
	}
	return own
}

func (d *decoder) merge(v *yaml.Node, what string) []field {
	v = resolve(v)
	if !d.enter(v) {
		return nil
	}
	defer d.leave(v)
	if v.Kind == yaml.SequenceNode {
		var fs []field
		for _, s := range v.Content {
			fs = append(fs, d.merge(s, what)...)
		}
		return fs
	}
	return d.entries(v, "a merge (<<) into "+what)
}

// fields decodes a mapping with a fixed set of keys, reporting unknown ones
// with the closest allowed key or the list of them. Keys that start with
// "x-" are ignored, as in Compose files, so they can hold anchors.
func (d *decoder) fields(n *yaml.Node, what string, allowed ...string) map[string]field {
	m := map[string]field{}
	for _, f := range d.entries(n, what) {
		if strings.HasPrefix(f.key, "x-") {
			continue
		}
		if !contains(allowed, f.key) {
			d.unknown(f, "key", what, allowed)
			continue
		}
		m[f.key] = f
	}
	return m
}

// topLevel names the file's outermost mapping in messages.
const topLevel = "the top level"

// unknown reports a name that is not one of allowed.
func (d *decoder) unknown(f field, kind, where string, allowed []string) {
	in := "in " + where
	if where == topLevel {
		in = "at the top level"
	}
	if s, ok := suggest(f.key, allowed); ok {
		d.addf(f.line, "unknown %s %q %s; did you mean %q?", kind, f.key, in, s)
		return
	}
	sorted := append([]string(nil), allowed...)
	sort.Strings(sorted)
	d.addf(f.line, "unknown %s %q %s; allowed: %s", kind, f.key, in, strings.Join(sorted, ", "))
}

// text is an expanded scalar and what messages may show of it.
type text struct {
	s       string
	line    int
	raw     string // as written in the file, ${VAR} unexpanded
	fromEnv bool   // a variable was substituted: never show s
}

// shown is the scalar as messages may show it.
func (t text) shown() string { return strconv.Quote(t.raw) }

// scalar expands a scalar node. ok is false, with the problem recorded, when
// the node is not a scalar or a variable cannot be resolved. A null or
// absent node is the empty text.
func (d *decoder) scalar(n *yaml.Node, what string) (text, bool) {
	n = resolve(n)
	if isNull(n) {
		if n != nil {
			return text{line: n.Line}, true
		}
		return text{}, true
	}
	if n.Kind != yaml.ScalarNode {
		d.addf(n.Line, "%s must be a single value, not %s", what, describe(n))
		return text{}, false
	}
	if d.literal {
		return text{s: n.Value, line: n.Line, raw: n.Value}, true
	}
	s, fromEnv, errs := expand(n.Value, d.lookup)
	for _, e := range errs {
		d.addf(n.Line, "%s", e)
	}
	return text{s: s, line: n.Line, raw: n.Value, fromEnv: fromEnv}, len(errs) == 0
}

func (d *decoder) str(n *yaml.Node, what string) string {
	t, _ := d.scalar(n, what)
	return t.s
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	t, ok := d.scalar(n, what)
	if !ok || t.s == "" {
		return false
	}
	switch t.s {
	case "true", "True", "TRUE":
		return true
	case "false", "False", "FALSE":
		return false
	}
	d.addf(t.line, "%s must be true or false, not %s", what, t.shown())
	return false
}

// count decodes a whole number that is 0 or more.
func (d *decoder) count(n *yaml.Node, what string) int {
	t, ok := d.scalar(n, what)
	if !ok || t.s == "" {
		return 0
	}
	v, err := strconv.Atoi(t.s)
	switch {
	case err != nil:
		d.addf(t.line, "%s must be a whole number, not %s", what, t.shown())
	case v < 0:
		d.addf(t.line, "%s must be 0 or more, not %s", what, t.shown())
	}
	return max(v, 0)
}

var days = regexp.MustCompile(`^(\d+)d`)

// duration decodes a Go duration (90s, 1h30m) that may start with days
// (7d, 1d12h). It must not be negative.
func (d *decoder) duration(n *yaml.Node, what string) time.Duration {
	t, ok := d.scalar(n, what)
	if !ok || t.s == "" {
		return 0
	}
	v, err := parseDuration(t.s)
	if err != nil || v < 0 {
		d.addf(t.line, "%s must be a duration like 30s, 5m, 2h or 7d, not %s", what, t.shown())
		return 0
	}
	return v
}

func parseDuration(s string) (time.Duration, error) {
	m := days.FindStringSubmatch(s)
	if m == nil {
		return time.ParseDuration(s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n > 36500 {
		return 0, fmt.Errorf("more than 100 years")
	}
	v := time.Duration(n) * 24 * time.Hour
	if rest := s[len(m[0]):]; rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, err
		}
		v += r
	}
	return v, nil
}

// list returns the items of a sequence; a null or absent node has none.
func (d *decoder) list(n *yaml.Node, what string) []*yaml.Node {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, "%s must be a list, e.g. [a, b], not %s", what, describe(n))
		return nil
	}
	return n.Content
}

// texts decodes a list of scalars.
func (d *decoder) texts(n *yaml.Node, what string) []text {
	var ts []text
	for _, item := range d.list(n, what) {
		if t, ok := d.scalar(item, "an item of "+what); ok {
			ts = append(ts, t)
		}
	}
	return ts
}

// value decodes anything, for target parameters the driver decodes itself.
// A plain scalar with a variable in it is typed after expansion, so
// port: ${PORT:-22} is the number 22.
func (d *decoder) value(n *yaml.Node, what string) any {
	if n.Kind == yaml.AliasNode {
		n = resolve(n)
		if n.Kind != yaml.ScalarNode {
			if !d.enter(n) {
				return nil
			}
			defer d.leave(n)
		}
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, f := range d.entries(n, what) {
			m[f.key] = d.value(f.val, what+"."+f.key)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			s = append(s, d.value(item, what))
		}
		return s
	}
	t, ok := d.scalar(n, what)
	if !ok {
		return nil
	}
	typed := n
	if t.s != n.Value {
		typed = &yaml.Node{Kind: yaml.ScalarNode, Value: t.s, Style: n.Style}
		if n.Style != 0 {
			typed.Tag = "!!str"
		}
	}
	if typed.ShortTag() == "!!timestamp" {
		return t.s // a date stays as written; yaml.v3 would make it a time.Time
	}
	var v any
	if err := typed.Decode(&v); err != nil {
		return t.s
	}
	return v
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// name checks the name of a user, team, project or environment: people type
// them in commands, so they are one word.
func (d *decoder) name(f field, kind string) bool {
	if namePattern.MatchString(f.key) {
		return true
	}
	d.addf(f.line, "%s name %q must be letters, digits, '.', '_' or '-', starting with a letter or digit", kind, f.key)
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the candidate closest to s by edit distance, if it is
// close enough to be a typo.
func suggest(s string, candidates []string) (string, bool) {
	best, bestDist := "", -1
	for _, c := range candidates {
		dist := editDistance(strings.ToLower(s), strings.ToLower(c))
		if bestDist < 0 || dist < bestDist || dist == bestDist && c < best {
			best, bestDist = c, dist
		}
	}
	limit := max(1, min(3, len([]rune(best))/3))
	return best, bestDist >= 0 && bestDist <= limit
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours each count 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
