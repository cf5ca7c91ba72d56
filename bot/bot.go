package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

// Bot answers commands for every chat: it parses the text, runs the command
// on the engine as the actor, and returns the reply to render. Chats verify
// who the actor is before they call it.
type Bot struct {
	engine  *pipeline.Engine
	digests Digests
	baseURL string
	log     *slog.Logger
}

// Digests previews the digest of a scope; cmd/ferry adapts the dashboards
// to it.
type Digests interface {
	// Preview returns the digest of the last seven days up to now of scope (as
	// dashboards.ParseScope reads it). A scope that names nothing is an
	// error wrapping pipeline.ErrInvalid.
	Preview(ctx context.Context, scope string) (dashboards.Digest, error)
}

// Config is what a Bot needs.
type Config struct {
	Engine  *pipeline.Engine // required
	BaseURL string           // ferry's web address for links in cards; "": no links
	Logger  *slog.Logger     // where errors people do not see go; nil: nowhere
	Digests Digests          // digest preview; nil: the command says it is not available
}

// New returns a bot over cfg.Engine.
func New(cfg Config) (*Bot, error) {
	if cfg.Engine == nil {
		return nil, errors.New("bot: an engine is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Bot{engine: cfg.Engine, digests: cfg.Digests, baseURL: cfg.BaseURL, log: cfg.Logger}, nil
}

// Handle parses text and runs it as a.
func (b *Bot) Handle(ctx context.Context, a pipeline.Actor, text string) Reply {
	cmd, err := Parse(text)
	if err != nil {
		return Reply{Text: err.Error(), Error: true, Ephemeral: true, Kind: KindInvalid}
	}
	return b.Do(ctx, a, cmd)
}

// Do runs one parsed command as a.
func (b *Bot) Do(ctx context.Context, a pipeline.Actor, c Command) Reply {
	r, err := b.do(ctx, a, c)
	return b.reply(r, err, c, a)
}

// Request asks for the deploy r as a and answers as Do answers a deploy
// command. Forges use it for what the grammar cannot say: the environment
// as a repository's .ferry.yaml narrowed it (r.Override).
func (b *Bot) Request(ctx context.Context, a pipeline.Actor, r pipeline.Request) Reply {
	reply, err := b.deployReply(ctx, "", func() (pipeline.Deploy, error) { return b.engine.Request(ctx, a, r) })
	return b.reply(reply, err, Command{Verb: VerbDeploy, Project: r.Project, Env: r.Env}, a)
}

// reply is r, or the error explained. An error that is not explained is
// logged with the command's verb and target, and without its value should
// the error quote it (a target that echoes config KEY=VALUE).
func (b *Bot) reply(r Reply, err error, c Command, a pipeline.Actor) Reply {
	if err != nil {
		msg, ok := Explain(err)
		if !ok {
			b.log.Error("command failed", append(c.LogArgs(), "actor", a.Name, "err", redact(err, c.Value))...)
		}
		return Reply{Text: msg, Error: true, Ephemeral: true, Kind: ErrorKindOf(err)}
	}
	return r
}

// redact is the text of err with value, if any, cut out.
func redact(err error, value string) string {
	if value == "" {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), value, "[value]")
}

func (b *Bot) do(ctx context.Context, a pipeline.Actor, c Command) (Reply, error) {
	e := b.engine
	switch c.Verb {
	case VerbHelp:
		return Reply{Text: Help(string(c.Topic)), Ephemeral: true}, nil
	case VerbWhoami:
		return Reply{Text: whoami(a), Ephemeral: true}, nil
	case VerbLink:
		return Reply{Text: "link links a chat account to your ferry user: say it in the chat (/ferry link in Slack), then open the address it answers with.", Ephemeral: true}, nil
	case VerbStatus:
		return b.status(ctx, c.Project)
	case VerbHistory:
		return b.history(ctx, c.Project, c.Env)
	case VerbDigest:
		if b.digests == nil {
			return Reply{}, fmt.Errorf("%w: this ferry has no dashboards", pipeline.ErrInvalid)
		}
		g, err := b.digests.Preview(ctx, c.Scope)
		if err != nil {
			return Reply{}, err
		}
		return Reply{Digest: &g}, nil
	case VerbDeploy:
		return b.deployReply(ctx, "", func() (pipeline.Deploy, error) {
			return e.Request(ctx, a, pipeline.Request{Project: c.Project, Env: c.Env, Ref: c.Ref, Force: c.Force})
		})
	case VerbPromote:
		return b.deployReply(ctx, "", func() (pipeline.Deploy, error) {
			return e.Promote(ctx, a, c.Project, c.FromEnv, c.Env, c.Force)
		})
	case VerbRollback:
		return b.deployReply(ctx, "", func() (pipeline.Deploy, error) {
			return e.Rollback(ctx, a, c.Project, c.Env, c.Release, c.Force)
		})
	case VerbApprove:
		return b.deployReply(ctx, a.Name+" approved", func() (pipeline.Deploy, error) { return e.Approve(ctx, a, c.DeployID) })
	case VerbReject:
		return b.deployReply(ctx, "", func() (pipeline.Deploy, error) { return e.Reject(ctx, a, c.DeployID, c.Reason) })
	case VerbContinue:
		return b.deployReply(ctx, "", func() (pipeline.Deploy, error) { return e.Continue(ctx, a, c.DeployID) })
	case VerbPause:
		return b.deployReply(ctx, "", func() (pipeline.Deploy, error) { return e.Pause(ctx, a, c.DeployID) })
	case VerbCancel:
		return b.deployReply(ctx, "", func() (pipeline.Deploy, error) { return e.Cancel(ctx, a, c.DeployID) })
	case VerbResume:
		return b.deployReply(ctx, "", func() (pipeline.Deploy, error) { return e.Resume(ctx, a, c.DeployID) })
	case VerbScale, VerbRestart, VerbConfig:
		out, err := e.Operate(ctx, a, pipeline.Op{Verb: string(c.Verb), Project: c.Project, Env: c.Env, Replicas: c.Replicas, Key: c.Key, Value: c.Value})
		if err != nil {
			return Reply{}, err
		}
		return Reply{Text: fmt.Sprintf("%s %s: %s (by %s).", c.Project, c.Env, out, a.Name)}, nil
	case VerbLock:
		l, err := e.Lock(ctx, a, c.Project, c.Env, c.Duration, c.Reason)
		if err != nil {
			return Reply{}, err
		}
		return Reply{Text: describeLock(l)}, nil
	case VerbUnlock:
		if err := e.Unlock(ctx, a, c.Project, c.Env); err != nil {
			return Reply{}, err
		}
		return Reply{Text: fmt.Sprintf("%s unlocked by %s.", (pipeline.Lock{Project: c.Project, Env: c.Env}).Scope(), a.Name)}, nil
	}
	return Reply{}, fmt.Errorf("%w: %s is not a command ferry runs", pipeline.ErrInvalid, c.Verb)
}

// deployReply runs an action on a deploy and answers with its card.
func (b *Bot) deployReply(ctx context.Context, lead string, act func() (pipeline.Deploy, error)) (Reply, error) {
	d, err := act()
	if err != nil {
		return Reply{}, err
	}
	card, err := b.Card(ctx, d.ID)
	if err != nil {
		return Reply{}, err
	}
	text := fmt.Sprintf("#%d %s: %s.", d.ID, describe(d), strings.ReplaceAll(string(d.State), "_", " "))
	if lead != "" {
		text = fmt.Sprintf("%s #%d (%d of %d approvals).", lead, d.ID, card.Approvals.Got, card.Approvals.Required)
	}
	return Reply{Text: text, Cards: []Card{card}}, nil
}

// Card builds the current card of a deploy.
func (b *Bot) Card(ctx context.Context, id int64) (Card, error) {
	x, err := b.engine.Details(ctx, id, DefaultTailLines)
	if err != nil {
		return Card{}, err
	}
	return NewCard(CardInput{Deploy: x.Deploy, Units: x.Units, Approvals: x.Approvals, Logs: x.Logs, BaseURL: b.baseURL, Now: x.Now}), nil
}

func (b *Bot) status(ctx context.Context, project string) (Reply, error) {
	board, err := b.engine.Board(ctx, project)
	if err != nil {
		return Reply{}, err
	}
	t := &Table{Title: "status", Columns: []string{"project", "env", "version", "by", "when", "now", "lock"}}
	for _, s := range board {
		row := []string{s.Project, s.Env, "-", "", "", "", ""}
		if c := s.Current; c != nil {
			row[2], row[3], row[4] = c.Version, c.Requester, c.FinishedAt.UTC().Format("2006-01-02 15:04")
		}
		var now []string
		if s.Active != nil {
			now = append(now, fmt.Sprintf("#%d %s %s", s.Active.ID, s.Active.Version, s.Active.State))
		}
		for _, q := range s.Waiting {
			now = append(now, fmt.Sprintf("#%d %s awaiting approval", q.ID, q.Version))
		}
		for _, q := range s.Queued {
			now = append(now, fmt.Sprintf("#%d %s queued", q.ID, q.Version))
		}
		for _, p := range s.Promoting {
			now = append(now, p.String())
		}
		row[5] = strings.Join(now, ", ")
		var held []string
		if s.Lock != nil {
			held = append(held, "locked by "+s.Lock.Owner)
		}
		if f := s.Frozen; f != nil {
			held = append(held, "frozen by "+f.Freeze.Name+" until "+f.End.UTC().Format("2006-01-02 15:04"))
		}
		row[6] = strings.Join(held, "; ")
		if groups := UnitGroups(s.Units); len(groups) > 1 {
			var mix []string
			for _, g := range groups {
				mix = append(mix, fmt.Sprintf("%s on %s", cmp.Or(g.Version, "nothing"), strings.Join(g.Units, ", ")))
			}
			row[5] = strings.TrimPrefix(row[5]+"; "+strings.Join(mix, "; "), "; ")
		}
		t.Rows = append(t.Rows, row)
	}
	b.addRuntimes(ctx, t, board)
	reply := Reply{Table: t}
	now := b.engine.Now()
	for _, f := range b.engine.Freezes(project) {
		reply.Text += "Freeze " + f.Describe(now) + "\n"
	}
	reply.Text = strings.TrimSuffix(reply.Text, "\n")
	return reply, nil
}

// addRuntimes adds a column with what each environment whose target can
// say runs right now; none when no target can.
func (b *Bot) addRuntimes(ctx context.Context, t *Table, board []pipeline.EnvStatus) {
	cells := make([]string, len(board))
	shown := false
	for i, a := range b.engine.Runtimes(ctx, board) {
		switch {
		case a.Err != nil:
			b.log.Error("status: runtime", "project", board[i].Project, "env", board[i].Env, "err", a.Err)
			cells[i], shown = "unavailable", true
		case a.OK:
			cells[i], shown = DescribeRuntime(a.Runtime), true
		}
	}
	if !shown {
		return
	}
	t.Columns = append(t.Columns, "runtime")
	for i := range t.Rows {
		t.Rows[i] = append(t.Rows[i], cells[i])
	}
}

// DescribeRuntime is "registry/api:v1.0.0, 3/3 ready, 2 restart(s) (last
// 2026-11-02 09:58 UTC), rollout paused": what an environment runs, as the
// status reply and the web board show it.
func DescribeRuntime(rt pipeline.Runtime) string {
	parts := []string{cmp.Or(rt.Image, "?"), fmt.Sprintf("%d/%d ready", rt.Ready, rt.Desired)}
	if rt.Restarts > 0 {
		r := fmt.Sprintf("%d restart(s)", rt.Restarts)
		if !rt.LastRestart.IsZero() {
			r += " (last " + rt.LastRestart.UTC().Format("2006-01-02 15:04 UTC") + ")"
		}
		parts = append(parts, r)
	}
	if rt.Note != "" {
		parts = append(parts, rt.Note)
	}
	return strings.Join(parts, ", ")
}

func (b *Bot) history(ctx context.Context, project, env string) (Reply, error) {
	ds, err := b.engine.Deploys(ctx, pipeline.DeployFilter{Project: project, Env: env, Limit: 20})
	if err != nil {
		return Reply{}, err
	}
	title := "history of " + project
	if env != "" {
		title += " " + env
	}
	t := &Table{Title: title, Columns: []string{"#", "env", "kind", "version", "state", "by", "requested", "took"}}
	for _, d := range ds {
		took := ""
		if !d.StartedAt.IsZero() && !d.FinishedAt.IsZero() {
			took = d.FinishedAt.Sub(d.StartedAt).Round(time.Second).String()
		}
		t.Rows = append(t.Rows, []string{strconv.FormatInt(d.ID, 10), d.Env, string(d.Kind), d.Version, string(d.State), d.Requester, d.CreatedAt.UTC().Format("2006-01-02 15:04"), took})
	}
	return Reply{Table: t}, nil
}

func whoami(a pipeline.Actor) string {
	if a.Name == "" {
		return "ferry does not know you yet: ask an admin to add you to ferry.yaml, or link your account."
	}
	s := "You are " + a.Name
	var extra []string
	if a.Admin {
		extra = append(extra, "admin")
	}
	if len(a.Teams) > 0 {
		extra = append(extra, "teams "+strings.Join(a.Teams, ", "))
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, "; ") + ")"
	}
	return s + "."
}

func describeLock(l pipeline.Lock) string {
	s := fmt.Sprintf("%s is locked by %s", l.Scope(), l.Owner)
	if !l.Expires.IsZero() {
		s += " until " + l.Expires.UTC().Format("2006-01-02 15:04 UTC")
	}
	if l.Reason != "" {
		s += ": " + l.Reason
	}
	return s + "."
}

// ErrorKindOf classifies an error from the engine or the parser: a lock
// is KindLocked, a duplicate KindConflict, and anything that is not about
// what the person asked KindInternal.
func ErrorKindOf(err error) ErrorKind {
	var locked *pipeline.LockedError
	var parse *ParseError
	switch {
	case errors.As(err, &locked):
		return KindLocked
	case errors.As(err, &parse), errors.Is(err, pipeline.ErrInvalid):
		return KindInvalid
	case errors.Is(err, pipeline.ErrForbidden):
		return KindForbidden
	case errors.Is(err, pipeline.ErrNotFound):
		return KindNotFound
	case errors.Is(err, pipeline.ErrConflict), errors.Is(err, pipeline.ErrDuplicate):
		return KindConflict
	}
	return KindInternal
}

// Explain turns an error from the engine into a sentence for the person who
// asked, without the sentinel's own words. Errors that are not about what
// the person asked (a broken disk, a bug) are not shown: ok is false and the
// sentence only says something went wrong, so that internals never reach a
// chat; the caller logs err.
func Explain(err error) (msg string, ok bool) {
	var locked *pipeline.LockedError
	var parse *ParseError
	known := errors.As(err, &locked) || errors.As(err, &parse)
	for _, s := range []error{pipeline.ErrForbidden, pipeline.ErrNotFound, pipeline.ErrConflict, pipeline.ErrInvalid, pipeline.ErrDuplicate} {
		known = known || errors.Is(err, s)
	}
	if !known {
		return "ferry could not do that because of an internal error; it is in ferry's log.", false
	}
	msg = err.Error()
	for _, s := range []error{pipeline.ErrForbidden, pipeline.ErrNotFound, pipeline.ErrConflict, pipeline.ErrInvalid, pipeline.ErrDuplicate} {
		msg = strings.Replace(msg, s.Error()+": ", "", 1)
	}
	return msg, true
}
