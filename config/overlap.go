package config

import (
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Finding overlaps by example.
//
// Two routing rules overlap when some name matches both; RouteRef would then
// silently take the first environment. Deciding that exactly means building
// the product of two automata. ferry settles for a heuristic instead: it
// walks the syntax tree of each rule and generates strings the rule matches
// (every literal as written, a few characters of every class, zero, one and
// two repetitions of stars, each alternative, padding where the rule is not
// anchored), at most sampleLimit of them, and tries each on the other rule.
// The wildcards try the characters of both rules' literals, and unbounded
// runs (.*, [a-z]+) also try the literals themselves, whole and split at
// punctuation, so that ^v.* and ^.*-rc$ meet at "v-rc", and ^feature/.*$
// and ^.*/login$ at "feature/login".
//
// An overlap it reports is real: the example matches both rules and is a
// valid git ref name. An overlap that only strings outside the examples
// show goes unnoticed; the check finds overlaps, it does not prove rules
// disjoint.

// Bounds of the generator: the strings generated for one node of a rule,
// the repetitions a rule may require before it is not tried at all, and
// the bytes generated for one rule, past which it is tried with what it
// has (nested repetitions like (((a.){10}){10}){10} would take seconds).
const (
	sampleLimit = 512
	maxRepeat   = 64
	maxWork     = 32 << 10
)

// overlaps reports names two environments of a project would both take.
func (d *decoder) overlaps(p projectNotes) {
	for _, kind := range []string{"branch", "tag"} {
		for i, a := range p.envs {
			for _, b := range p.envs[i+1:] {
				ra, rb := a.branches, b.branches
				if kind == "tag" {
					ra, rb = a.tags, b.tags
				}
				for _, x := range ra {
					for _, y := range rb {
						d.overlap(kind, a.name, x, b.name, y)
					}
				}
			}
		}
	}
}

func (d *decoder) overlap(kind, envA string, a rule, envB string, b rule) {
	w, ok := witness(a.re, b.re)
	if !ok {
		return
	}
	subject := kind + " " + strconv.Quote(w)
	if a.fromEnv || b.fromEnv {
		subject = "a " + kind
	}
	d.addf(b.line, "%s matches both %s (%s) and %s (%s); make the rules disjoint", subject, envA, a.shown, envB, b.shown)
}

// witness returns the shortest generated name both rules match.
func witness(a, b *regexp.Regexp) (string, bool) {
	alphabet, words := hints(a, b)
	var found []string
	for _, re := range []*regexp.Regexp{a, b} {
		for _, s := range examples(re, alphabet, words) {
			if a.MatchString(s) && b.MatchString(s) && refName(s) {
				found = append(found, s)
			}
		}
	}
	if len(found) == 0 {
		return "", false
	}
	sort.Slice(found, func(i, j int) bool {
		if len(found[i]) != len(found[j]) {
			return len(found[i]) < len(found[j])
		}
		return found[i] < found[j]
	})
	return found[0], true
}

// examples generates strings re matches, trying alphabet for single
// characters and words for runs of them.
func examples(re *regexp.Regexp, alphabet []rune, words []string) []string {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	pad := &syntax.Regexp{Op: syntax.OpQuest, Sub: []*syntax.Regexp{{Op: syntax.OpAnyCharNotNL}}}
	if !anchored(tree, syntax.OpBeginText, 0) {
		tree = &syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{pad, tree}}
	}
	if !anchored(tree, syntax.OpEndText, -1) {
		tree = &syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{tree, pad}}
	}
	work := maxWork
	g := generator{alphabet: alphabet, words: words, work: &work}
	return g.walk(tree)
}

// anchored reports whether re starts (at 0) or ends (at -1) with op.
func anchored(re *syntax.Regexp, op syntax.Op, at int) bool {
	for {
		switch re.Op {
		case op:
			return true
		case syntax.OpCapture:
			re = re.Sub[0]
		case syntax.OpConcat:
			if len(re.Sub) == 0 {
				return false
			}
			if at == 0 {
				re = re.Sub[0]
			} else {
				re = re.Sub[len(re.Sub)-1]
			}
		default:
			return false
		}
	}
}

type generator struct {
	alphabet []rune   // characters to try for wildcards and classes
	words    []string // strings to try for unbounded runs of a class
	work     *int     // bytes left to generate; none left, products are empty
}

func (g generator) walk(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}
	case syntax.OpLiteral:
		s := string(re.Rune)
		if re.Flags&syntax.FoldCase != 0 {
			return dedupe([]string{s, strings.ToLower(s), strings.ToUpper(s)})
		}
		return []string{s}
	case syntax.OpCharClass:
		return g.class(re.Rune)
	case syntax.OpAnyCharNotNL:
		return g.class([]rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune})
	case syntax.OpAnyChar:
		return g.class([]rune{0, unicode.MaxRune})
	case syntax.OpCapture:
		return g.walk(re.Sub[0])
	case syntax.OpStar:
		return g.repeat(re.Sub[0], 0, 2, true)
	case syntax.OpPlus:
		return g.repeat(re.Sub[0], 1, 2, true)
	case syntax.OpQuest:
		return g.repeat(re.Sub[0], 0, 1, false)
	case syntax.OpRepeat:
		hi := re.Max
		if hi < 0 || hi > re.Min+2 {
			hi = re.Min + 2
		}
		return g.repeat(re.Sub[0], re.Min, hi, re.Max < 0)
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			out = g.product(out, g.walk(sub))
		}
		return out
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			out = append(out, g.walk(sub)...)
		}
		return limit(dedupe(out))
	}
	return nil // OpNoMatch
}

// repeat generates lo to hi repetitions of re, and for an unbounded run of
// a single character class (.*, [a-z]+) the words made of its characters.
func (g generator) repeat(re *syntax.Regexp, lo, hi int, unbounded bool) []string {
	if lo > maxRepeat {
		return nil // too long to be a ref name worth trying
	}
	one := g.walk(re)
	var out []string
	for k := lo; k <= hi; k++ {
		p := []string{""}
		for range k {
			p = g.product(p, one)
		}
		out = append(out, p...)
	}
	for _, w := range g.words {
		if unbounded && len([]rune(w)) >= lo && all(w, re) {
			out = append(out, w)
		}
	}
	return limit(dedupe(out))
}

// all reports whether re is a single-character matcher that every
// character of w passes.
func all(w string, re *syntax.Regexp) bool {
	for _, c := range w {
		switch re.Op {
		case syntax.OpAnyChar:
		case syntax.OpAnyCharNotNL:
			if c == '\n' {
				return false
			}
		case syntax.OpCharClass:
			if !inClass(c, re.Rune) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func inClass(c rune, ranges []rune) bool {
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] <= c && c <= ranges[i+1] {
			return true
		}
	}
	return false
}

// class picks characters of a class given as ranges: those of the alphabet
// it holds, then one of each range, preferring a printable one.
func (g generator) class(ranges []rune) []string {
	var picked []string
	for _, c := range g.alphabet {
		if inClass(c, ranges) {
			picked = append(picked, string(c))
		}
	}
	for i := 0; i+1 < len(ranges) && i < 16; i += 2 {
		picked = append(picked, string(printable(ranges[i], ranges[i+1])))
	}
	return dedupe(picked)
}

// printable picks a character of lo..hi, a printable ASCII one if it can.
func printable(lo, hi rune) rune {
	if '!' <= lo && lo <= '~' {
		return lo
	}
	for _, c := range "a0A-_" {
		if lo <= c && c <= hi {
			return c
		}
	}
	if lo < '!' && hi >= '!' {
		return '!'
	}
	return lo
}

// hints are what is worth trying for wildcards: the characters of both
// rules' literals, then a few common in ref names, and the literals
// themselves with their alphanumeric parts, as words.
func hints(res ...*regexp.Regexp) ([]rune, []string) {
	var lits []string
	var collect func(*syntax.Regexp)
	collect = func(re *syntax.Regexp) {
		if re.Op == syntax.OpLiteral {
			lits = append(lits, string(re.Rune))
		}
		for _, sub := range re.Sub {
			collect(sub)
		}
	}
	for _, re := range res {
		if tree, err := syntax.Parse(re.String(), syntax.Perl); err == nil {
			collect(tree)
		}
	}
	var chars []rune
	for _, c := range strings.Join(lits, "") + "a0-_./" {
		if !strings.ContainsRune(string(chars), c) && len(chars) < 16 {
			chars = append(chars, c)
		}
	}
	var words []string
	for _, l := range lits {
		words = append(words, l)
		words = append(words, strings.FieldsFunc(l, func(c rune) bool {
			return !unicode.IsLetter(c) && !unicode.IsDigit(c)
		})...)
	}
	words = dedupe(words)
	return chars, words[:min(len(words), 16)]
}

// product concatenates every string of a with every string of b, taking
// pairs along diagonals so that a limited result still varies both sides,
// while the generator has work left.
func (g generator) product(a, b []string) []string {
	var out []string
	more := func() bool { return len(out) < sampleLimit && *g.work > 0 }
	for s := 0; s < len(a)+len(b)-1 && more(); s++ {
		for i := max(0, s-len(b)+1); i <= min(s, len(a)-1) && more(); i++ {
			x := a[i] + b[s-i]
			*g.work -= len(x) + 1
			out = append(out, x)
		}
	}
	return dedupe(out)
}

func limit(s []string) []string { return s[:min(len(s), sampleLimit)] }

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// refName reports whether s can name a branch or tag, by the rules of git
// check-ref-format, so that an overlap is never shown with a name git
// would refuse.
func refName(s string) bool {
	if s == "" || s == "@" || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "/") ||
		strings.HasSuffix(s, "/") || strings.HasSuffix(s, ".") || strings.HasSuffix(s, ".lock") ||
		strings.Contains(s, "..") || strings.Contains(s, "//") || strings.Contains(s, "@{") ||
		strings.Contains(s, "/.") || strings.HasPrefix(s, ".") {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			return false
		}
	}
	return true
}
