package bot

import (
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Verb names a command.
type Verb string

// The commands of the grammar.
const (
	VerbDeploy   Verb = "deploy"
	VerbRollback Verb = "rollback"
	VerbApprove  Verb = "approve"
	VerbReject   Verb = "reject"
	VerbContinue Verb = "continue"
	VerbPause    Verb = "pause"
	VerbCancel   Verb = "cancel"
	VerbResume   Verb = "resume"
	VerbLock     Verb = "lock"
	VerbUnlock   Verb = "unlock"
	VerbPromote  Verb = "promote"
	VerbStatus   Verb = "status"
	VerbHistory  Verb = "history"
	VerbScale    Verb = "scale"
	VerbRestart  Verb = "restart"
	VerbConfig   Verb = "config"
	VerbWhoami   Verb = "whoami"
	VerbHelp     Verb = "help"
	// VerbLink links the chat account that says it to a ferry user: the
	// chat answers with a one-time address on ferry's web console, where
	// the person signs in and confirms. The web console and the API know
	// who their users are and have nothing to link.
	VerbLink Verb = "link"
	// VerbDigest shows the weekly digest now: "digest preview [<scope>]".
	VerbDigest Verb = "digest"
)

// AllProjects is the project of a lock that covers every project of an
// environment: lock * prod.
const AllProjects = "*"

// Command is one parsed command. Which fields are set depends on Verb; the
// others are zero.
type Command struct {
	Verb Verb
	// Project is named by deploy, rollback, lock, unlock, promote, status,
	// history, scale, restart and config. Lock and unlock take AllProjects. A pull request comment's
	// deploy and rollback leave it "" for the caller to fill in.
	Project string
	Ref     string // deploy: the branch, tag or commit; "": the environment's default
	// Env is the environment of deploy, rollback, lock, unlock, history,
	// scale, restart and config, and the environment promote goes to.
	Env      string
	FromEnv  string        // promote: the environment whose version is promoted
	Release  string        // rollback: the release to return to; "": the one before
	DeployID int64         // approve, reject, continue, pause, cancel, resume
	Duration time.Duration // lock: how long it holds; 0: not given
	Reason   string        // reject, lock; "": none given
	Force    bool          // deploy, rollback: override locks and rules (admins only)
	Topic    Verb          // help: the command asked about; "": every command
	Replicas int           // scale: how many
	Key      string        // config: the key set
	Value    string        // config: its new value; may be ""
	// Scope is what digest preview covers, as dashboards.ParseScope reads
	// it: all, team:<name>, project:<name>, env:<name>, person:<name> or a
	// bare name; "": every project.
	Scope string
}

// String renders the command in the grammar, so that Parse (or ParsePR, for
// a deploy or rollback without a project) reads it back as the same command.
// Names that are keywords are quoted; a reason is always quoted.
func (c Command) String() string {
	w := []string{string(c.Verb)}
	name := func(s string) { w = append(w, quoteName(s)) }
	opt := func(s string) {
		if s != "" {
			name(s)
		}
	}
	id := func() { w = append(w, strconv.FormatInt(c.DeployID, 10)) }
	flag := func(on bool, kw string) {
		if on {
			w = append(w, kw)
		}
	}
	switch c.Verb {
	case VerbDeploy:
		if c.Project == "" { // a pull request comment: the head of the PR
			name(c.Env)
		} else {
			name(c.Project)
			opt(c.Ref)
			w = append(w, kwTo)
			name(c.Env)
		}
		flag(c.Force, kwForce)
	case VerbRollback:
		opt(c.Project)
		name(c.Env)
		if c.Release != "" {
			w = append(w, kwTo)
			name(c.Release)
		}
		flag(c.Force, kwForce)
	case VerbApprove, VerbReject, VerbContinue, VerbPause, VerbCancel, VerbResume:
		id()
	case VerbLock:
		name(c.Project)
		name(c.Env)
		if c.Duration > 0 {
			w = append(w, kwFor, formatDuration(c.Duration))
		}
	case VerbUnlock:
		name(c.Project)
		name(c.Env)
	case VerbPromote:
		name(c.Project)
		name(c.FromEnv)
		w = append(w, kwTo)
		name(c.Env)
	case VerbStatus:
		opt(c.Project)
	case VerbHistory:
		name(c.Project)
		opt(c.Env)
	case VerbHelp:
		opt(string(c.Topic))
	case VerbDigest:
		w = append(w, kwPreview)
		opt(c.Scope)
	case VerbScale:
		name(c.Project)
		name(c.Env)
		w = append(w, strconv.Itoa(c.Replicas))
	case VerbRestart:
		name(c.Project)
		name(c.Env)
	case VerbConfig:
		name(c.Project)
		name(c.Env)
		w = append(w, kwSet, quoteToken(c.Key+"="+c.Value))
	}
	if c.Reason != "" && (c.Verb == VerbReject || c.Verb == VerbLock) {
		w = append(w, quote(c.Reason))
	}
	return strings.Join(w, " ")
}

// LogArgs are the slog keys a log line about c carries: its verb and what
// it acts on (project, env, deploy_id), never what it says (a config value,
// a ref, a reason), which may hold a secret.
func (c Command) LogArgs() []any {
	args := []any{"command", string(c.Verb)}
	if c.Project != "" {
		args = append(args, "project", c.Project)
	}
	if c.Env != "" {
		args = append(args, "env", c.Env)
	}
	if c.DeployID != 0 {
		args = append(args, "deploy_id", c.DeployID)
	}
	return args
}

// Keywords of the grammar. Unquoted, they are never names.
const (
	kwTo    = "to"
	kwFor   = "for"
	kwForce = "force"
	// kwPreview follows digest; it is a keyword only there.
	kwPreview = "preview"
)

// kwSet follows the environment of config; it is a keyword there only.
const kwSet = "set"

func isKeyword(s string) bool {
	return strings.EqualFold(s, kwTo) || strings.EqualFold(s, kwFor) || strings.EqualFold(s, kwForce)
}

// quoteName quotes a name only when it would otherwise read as a keyword.
func quoteName(s string) string {
	if s == "" || isKeyword(s) {
		return quote(s)
	}
	return s
}

// quoteToken quotes s only when it would not read back as one token: it
// is empty, has white space or quotes, or starts like a quoted token.
func quoteToken(s string) string {
	if s == "" || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || isQuote(r) || unicode.IsControl(r) }) >= 0 {
		return quote(s)
	}
	return s
}

// quote renders s as a quoted token: a backslash escapes quotes and itself.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '\\' || isQuote(r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// isQuote reports whether r opens or closes a quoted token. Curly quotes
// count, because chat clients and phones put them in for straight ones.
func isQuote(r rune) bool { return r == '"' || r == '“' || r == '”' }
