package bot

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ferrybot/ferry/pipeline"
)

// ParseError says why a text is not a command, and how to write it.
type ParseError struct {
	Msg        string // what is wrong, in words
	Usage      string // the usage line of the command meant; "" when unknown
	Suggestion string // a command the text may have meant; "" for none
}

func (e *ParseError) Error() string {
	s := e.Msg
	if e.Suggestion != "" {
		s += fmt.Sprintf("; did you mean %q?", e.Suggestion)
	}
	switch {
	case e.Usage == "":
	case e.Suggestion != "":
		s += " usage: " + e.Usage
	default:
		s += ": usage: " + e.Usage
	}
	return s
}

// Parse reads one command of the grammar from a chat message. A leading
// "/ferry", "@ferry" or "ferry" is dropped. Errors are *ParseError.
func Parse(text string) (Command, error) { return parse(text, false) }

// ParsePR reads one command from a pull or merge request comment. Deploy and
// rollback there name no project — "/ferry deploy staging" deploys the head
// of the pull request — and the caller fills in Project (and Ref) from the
// pull request. Every other command reads as in Parse. Only the first line
// is the command: the rest of the comment is for people.
func ParsePR(text string) (Command, error) { return parse(text, true) }

// Addressed reports whether a text is addressed to ferry: whether it starts
// with "/ferry", "@ferry" or "ferry". Callers use it to skip pull request
// comments that are not commands before calling ParsePR.
func Addressed(text string) bool {
	f := strings.Fields(text)
	return len(f) > 0 && isPrefix(f[0])
}

func isPrefix(s string) bool {
	return strings.EqualFold(s, "/ferry") || strings.EqualFold(s, "@ferry") || strings.EqualFold(s, "ferry")
}

// MaxCommand is how many bytes of text ferry reads as one command: of a
// chat message, or of the first line of a pull request comment.
const MaxCommand = 2000

func parse(text string, pr bool) (Command, error) {
	command := text
	if pr {
		command, _, _ = strings.Cut(strings.TrimLeft(text, " \t\r\n"), "\n")
	}
	if len(command) > MaxCommand {
		return Command{}, &ParseError{Msg: fmt.Sprintf("the command is %d bytes; ferry reads commands of at most %d bytes", len(command), MaxCommand)}
	}
	if !utf8.ValidString(text) {
		return Command{}, &ParseError{Msg: "the command is not valid UTF-8"}
	}
	// A quote may carry a comment's command past its first line: it is
	// capped all the same, and not read beyond the cap.
	limit := len(text) - len(strings.TrimLeft(text, " \t\r\n")) + MaxCommand
	if len(text) > limit {
		text = text[:limit+1]
	}
	toks, end, err := tokenize(text, pr)
	if end > limit {
		return Command{}, &ParseError{Msg: fmt.Sprintf("the command is more than %d bytes; ferry reads commands of at most %d bytes", MaxCommand, MaxCommand)}
	}
	if err != nil {
		return Command{}, err
	}
	if len(toks) > 0 && !toks[0].quoted && isPrefix(toks[0].text) {
		toks = toks[1:]
	}
	if len(toks) == 0 {
		return Command{}, &ParseError{Msg: `no command; say "help" for the list`}
	}
	v := Verb(strings.ToLower(toks[0].text))
	spec, ok := lookup(v)
	if !ok {
		return Command{}, unknownVerb(toks[0].text, pr)
	}
	p := &parser{cmd: Command{Verb: v}, pr: pr, usage: spec.usageFor(pr), args: toks[1:]}
	if err := p.parseArgs(); err != nil {
		return Command{}, err
	}
	return p.cmd, nil
}

func unknownVerb(word string, pr bool) *ParseError {
	s, ok := suggest(strings.ToLower(word))
	if !ok {
		return &ParseError{Msg: fmt.Sprintf(`unknown command %q; say "help" for the list`, word)}
	}
	spec, _ := lookup(s)
	return &ParseError{Msg: fmt.Sprintf("unknown command %q", word), Suggestion: string(s), Usage: spec.usageFor(pr)}
}

type token struct {
	text   string
	quoted bool // quoted tokens are never keywords
}

// tokenize splits text at white space. A token that starts with a quote runs
// to the next quote; inside it a backslash escapes a quote or a backslash.
// With firstLine, tokens end at the first line break outside quotes. It
// also returns the offset of s where it stopped reading.
func tokenize(s string, firstLine bool) ([]token, int, error) {
	var toks []token
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n' && firstLine && len(toks) > 0:
			return toks, i, nil
		case unicode.IsSpace(r):
			i += n
		case isQuote(r):
			text, end, err := readQuoted(s, i+n)
			if err != nil {
				return nil, len(s), err
			}
			if r, _ := utf8.DecodeRuneInString(s[end:]); end < len(s) && !unicode.IsSpace(r) {
				return nil, end, &ParseError{Msg: fmt.Sprintf("a closing quote must be followed by a space, not %q", string(r))}
			}
			toks = append(toks, token{text: text, quoted: true})
			i = end
		default:
			j := i
			for j < len(s) {
				r, n := utf8.DecodeRuneInString(s[j:])
				if unicode.IsSpace(r) {
					break
				}
				j += n
			}
			toks = append(toks, token{text: s[i:j]})
			i = j
		}
	}
	return toks, len(s), nil
}

// readQuoted reads a quoted token from just after its opening quote. It
// returns the text and the offset just after the closing quote.
func readQuoted(s string, i int) (string, int, error) {
	var b strings.Builder
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case isQuote(r):
			return b.String(), i, nil
		case r == '\\' && i < len(s):
			next, m := utf8.DecodeRuneInString(s[i:])
			if next == '\\' || isQuote(next) {
				r, i = next, i+m
			}
		}
		b.WriteRune(r)
	}
	return "", 0, &ParseError{Msg: "a quote is not closed"}
}

// parser reads the arguments of one command into cmd.
type parser struct {
	cmd   Command
	pr    bool
	usage string
	args  []token
	pos   int
}

func (p *parser) fail(format string, a ...any) error {
	return &ParseError{Msg: fmt.Sprintf(format, a...), Usage: p.usage}
}

func (p *parser) more() bool { return p.pos < len(p.args) }

// keyword consumes the next token if it is the unquoted keyword kw.
func (p *parser) keyword(kw string) bool {
	if p.isKeyword(p.pos, kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) isKeyword(i int, kw string) bool {
	return i < len(p.args) && !p.args[i].quoted && strings.EqualFold(p.args[i].text, kw)
}

// name reads a required name: what is "a project", "an environment" and so
// on. Names have no spaces or quotes and are never unquoted keywords;
// AllProjects is a name only where star allows it.
func (p *parser) name(what string, star bool) (string, error) {
	if !p.more() {
		return "", p.fail("%s needs %s", p.cmd.Verb, what)
	}
	t := p.args[p.pos]
	if !t.quoted && isKeyword(t.text) {
		return "", p.fail("%s needs %s, not %q", p.cmd.Verb, what, t.text)
	}
	if t.text == AllProjects && !star {
		return "", p.fail(`%q means every project, which only lock and unlock take`, t.text)
	}
	if !validName(t.text) {
		return "", p.fail("%q is not a valid name (names have no spaces or quotes)", t.text)
	}
	p.pos++
	return t.text, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || isQuote(r) {
			return false
		}
	}
	return true
}

// optName reads a name if one is left.
func (p *parser) optName(what string) (string, error) {
	if !p.more() {
		return "", nil
	}
	return p.name(what, false)
}

// deployID reads a deploy number: 12 or #12.
func (p *parser) deployID() error {
	if !p.more() {
		return p.fail("%s needs a deploy number", p.cmd.Verb)
	}
	t := p.args[p.pos].text
	digits := strings.TrimPrefix(t, "#")
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			digits = ""
			break
		}
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 {
		return p.fail("%q is not a deploy number", t)
	}
	p.cmd.DeployID = id
	p.pos++
	return nil
}

// reason takes every token left, joined by single spaces, of at most
// pipeline.MaxReason bytes.
func (p *parser) reason() error {
	words := make([]string, 0, len(p.args)-p.pos)
	for ; p.pos < len(p.args); p.pos++ {
		words = append(words, p.args[p.pos].text)
	}
	p.cmd.Reason = strings.TrimSpace(strings.Join(words, " "))
	if len(p.cmd.Reason) > pipeline.MaxReason {
		return p.fail("the reason is %d bytes; ferry takes a reason of at most %d bytes", len(p.cmd.Reason), pipeline.MaxReason)
	}
	return nil
}

// ref reads a ref (what: "ref" or "release", needed: how a missing one is
// asked for) of at most pipeline.MaxRef bytes.
func (p *parser) ref(what, needed string) (string, error) {
	if p.more() && len(p.args[p.pos].text) > pipeline.MaxRef {
		return "", p.fail("the %s is %d bytes; ferry takes a %s of at most %d bytes", what, len(p.args[p.pos].text), what, pipeline.MaxRef)
	}
	return p.name(needed, false)
}

// end fails if any token is left.
func (p *parser) end() error {
	if p.more() {
		return p.fail("unexpected %q", p.args[p.pos].text)
	}
	return nil
}

// parseArgs reads the arguments of the command p.cmd.Verb names.
func (p *parser) parseArgs() error {
	switch p.cmd.Verb {
	case VerbDeploy:
		return parseDeploy(p)
	case VerbRollback:
		return parseRollback(p)
	case VerbReject:
		return parseReject(p)
	case VerbApprove, VerbContinue, VerbPause, VerbCancel, VerbResume:
		return parseDeployID(p)
	case VerbLock:
		return parseLock(p)
	case VerbUnlock:
		return parseUnlock(p)
	case VerbPromote:
		return parsePromote(p)
	case VerbStatus:
		return parseStatus(p)
	case VerbHistory:
		return parseHistory(p)
	case VerbHelp:
		return parseHelp(p)
	case VerbDigest:
		return parseDigest(p)
	case VerbScale:
		return parseScale(p)
	case VerbRestart:
		return parseRestart(p)
	case VerbConfig:
		return parseConfig(p)
	}
	return p.end() // whoami, link
}

func parseDeploy(p *parser) error {
	var err error
	if p.pr {
		if p.cmd.Env, err = p.name("an environment", false); err != nil {
			return err
		}
	} else {
		if p.cmd.Project, err = p.name("a project", false); err != nil {
			return err
		}
		if !p.isKeyword(p.pos, kwTo) && p.isKeyword(p.pos+1, kwTo) {
			if p.cmd.Ref, err = p.ref("ref", "a ref"); err != nil {
				return err
			}
		}
		if !p.keyword(kwTo) {
			return p.fail(`deploy needs "to <env>"`)
		}
		if p.cmd.Env, err = p.name("an environment", false); err != nil {
			return err
		}
	}
	p.cmd.Force = p.keyword(kwForce)
	return p.end()
}

func parseRollback(p *parser) error {
	var err error
	if !p.pr {
		if p.cmd.Project, err = p.name("a project and an environment", false); err != nil {
			return err
		}
	}
	if p.cmd.Env, err = p.name("an environment", false); err != nil {
		return err
	}
	if p.keyword(kwTo) {
		if p.cmd.Release, err = p.ref("release", `a release after "to"`); err != nil {
			return err
		}
	}
	p.cmd.Force = p.keyword(kwForce)
	return p.end()
}

func parseDeployID(p *parser) error {
	if err := p.deployID(); err != nil {
		return err
	}
	return p.end()
}

func parseReject(p *parser) error {
	if err := p.deployID(); err != nil {
		return err
	}
	return p.reason()
}

func parseLock(p *parser) error {
	if err := parseScope(p); err != nil {
		return err
	}
	if p.keyword(kwFor) {
		if !p.more() {
			return p.fail(`lock needs a duration after "for"`)
		}
		t := p.args[p.pos].text
		d, ok := ParseDuration(t)
		if !ok {
			return p.fail(`%q is not a duration like 30m, 2h or 1d (quote a reason that starts with "for")`, t)
		}
		p.cmd.Duration = d
		p.pos++
	}
	return p.reason()
}

func parseUnlock(p *parser) error {
	if err := parseScope(p); err != nil {
		return err
	}
	return p.end()
}

// parseScope reads the <project|*> <env> of lock and unlock.
func parseScope(p *parser) error {
	var err error
	if p.cmd.Project, err = p.name("a project (or *) and an environment", true); err != nil {
		return err
	}
	if p.cmd.Env, err = p.name("an environment", false); err != nil {
		return err
	}
	return nil
}

func parsePromote(p *parser) error {
	var err error
	if p.cmd.Project, err = p.name("a project", false); err != nil {
		return err
	}
	if p.cmd.FromEnv, err = p.name("the environment to promote from", false); err != nil {
		return err
	}
	if !p.keyword(kwTo) {
		return p.fail(`promote needs "to <env>"`)
	}
	if p.cmd.Env, err = p.name("the environment to promote to", false); err != nil {
		return err
	}
	return p.end()
}

func parseStatus(p *parser) error {
	var err error
	if p.cmd.Project, err = p.optName("a project"); err != nil {
		return err
	}
	return p.end()
}

func parseHistory(p *parser) error {
	var err error
	if p.cmd.Project, err = p.name("a project", false); err != nil {
		return err
	}
	if p.cmd.Env, err = p.optName("an environment"); err != nil {
		return err
	}
	return p.end()
}

func parseHelp(p *parser) error {
	if !p.more() {
		return nil
	}
	word := p.args[p.pos].text
	topic := Verb(strings.ToLower(word))
	if _, ok := lookup(topic); !ok {
		return unknownVerb(word, p.pr)
	}
	p.cmd.Topic = topic
	p.pos++
	return p.end()
}

func parseDigest(p *parser) error {
	if !p.keyword(kwPreview) {
		return p.fail(`digest needs "preview": the digest is sent on its schedule, and shown now with digest preview`)
	}
	var err error
	if p.cmd.Scope, err = p.optName("a scope"); err != nil {
		return err
	}
	return p.end()
}

// parseTarget reads the <project> <env> of scale, restart and config.
func parseTarget(p *parser) error {
	var err error
	if p.cmd.Project, err = p.name("a project and an environment", false); err != nil {
		return err
	}
	p.cmd.Env, err = p.name("an environment", false)
	return err
}

// maxReplicas bounds scale, so a typo of a few digits is refused.
const maxReplicas = 10000

func parseScale(p *parser) error {
	if err := parseTarget(p); err != nil {
		return err
	}
	if !p.more() {
		return p.fail("scale needs the number of replicas")
	}
	t := p.args[p.pos].text
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 || n > maxReplicas || strings.HasPrefix(t, "+") {
		return p.fail("%q is not a number of replicas from 0 to %d", t, maxReplicas)
	}
	p.cmd.Replicas = n
	p.pos++
	return p.end()
}

func parseRestart(p *parser) error {
	if err := parseTarget(p); err != nil {
		return err
	}
	return p.end()
}

func parseConfig(p *parser) error {
	if err := parseTarget(p); err != nil {
		return err
	}
	if !p.isKeyword(p.pos, kwSet) {
		return p.fail(`config needs "set KEY=VALUE"`)
	}
	p.pos++
	if !p.more() {
		return p.fail("config set needs KEY=VALUE")
	}
	key, value, ok := strings.Cut(p.args[p.pos].text, "=")
	if !ok || key == "" {
		return p.fail(`%q is not KEY=VALUE (quote the pair when the value has spaces: "KEY=a value")`, p.args[p.pos].text)
	}
	p.cmd.Key, p.cmd.Value = key, value
	p.pos++
	return p.end()
}
