package forge

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// StickyMarker starts ferry's one comment on a pull request, which it
// edits instead of adding comments.
const StickyMarker = "<!-- ferry -->"

// prRef is a pull request someone asked ferry something on.
type prRef struct {
	platform string
	repo     string // owner/name
	number   int
	login    string // who asked
}

// dest is the outbox destination of a pull request's sticky comment.
func (p prRef) dest() string {
	return "sticky " + strings.ToLower(p.repo) + "#" + strconv.Itoa(p.number)
}

// origin is how a deploy asked for on a pull request remembers it
// (pipeline.WithOrigin): "github:owner/name#3 login".
func (p prRef) origin() string {
	return fmt.Sprintf("%s:%s#%d %s", p.platform, p.repo, p.number, p.login)
}

// parseOrigin reads an origin of platform's pull requests.
func parseOrigin(platform, o string) (prRef, bool) {
	rest, ok := strings.CutPrefix(o, platform+":")
	if !ok {
		return prRef{}, false
	}
	where, login, _ := strings.Cut(rest, " ")
	i := strings.LastIndex(where, "#")
	if i <= 0 {
		return prRef{}, false
	}
	n, err := strconv.Atoi(where[i+1:])
	if err != nil {
		return prRef{}, false
	}
	return prRef{platform: platform, repo: where[:i], number: n, login: login}, true
}

// do runs a command for a pull request. A deploy it creates keeps the pull
// request as its origin, so that its progress edits the pull request's
// sticky comment (Subscriber).
func (c *Core) do(ctx context.Context, actor pipeline.Actor, cmd bot.Command, pr prRef) bot.Reply {
	return c.shown(ctx, c.bot.Do(pipeline.WithOrigin(ctx, pr.origin()), actor, cmd))
}

// request asks for a deploy for a pull request, as do runs a command.
func (c *Core) request(ctx context.Context, actor pipeline.Actor, req pipeline.Request, pr prRef) bot.Reply {
	return c.shown(ctx, c.bot.Request(pipeline.WithOrigin(ctx, pr.origin()), actor, req))
}

// shown records the state of each deploy in r, which the answer on the
// pull request shows: a change of the deploy that the answer already
// says (the notices of its own request) does not overwrite it.
func (c *Core) shown(ctx context.Context, r bot.Reply) bot.Reply {
	for _, card := range r.Cards {
		c.setShown(ctx, card.DeployID, card.State)
	}
	return r
}

func (c *Core) setShown(ctx context.Context, id int64, st pipeline.State) {
	if err := c.store.PutNoticeRef(ctx, c.platform, fmt.Sprint("shown ", id), string(st)); err != nil {
		c.log.ErrorContext(ctx, c.platform+": remember what a pull request shows", "platform", c.platform, "deploy_id", id, "err", err)
	}
}

// progress shows a deploy's current card in the sticky comment of the
// pull request it was asked for on, unless the comment already shows its
// state.
func (c *Core) progress(ctx context.Context, pr prRef, card bot.Card) error {
	shown, err := c.store.NoticeRef(ctx, c.platform, fmt.Sprint("shown ", card.DeployID))
	if err != nil || shown == string(card.State) {
		return err
	}
	if err := c.sticky(ctx, pr, StickyMarker+"\n@"+pr.login+"\n```\n"+strings.TrimRight(bot.RenderText(card), "\n")+"\n```"); err != nil {
		return err
	}
	c.setShown(ctx, card.DeployID, card.State)
	return nil
}

// answer writes text, for whoever asked, into the pull request's sticky
// comment.
func (c *Core) answer(ctx context.Context, log *slog.Logger, pr prRef, text string) {
	body := "@" + pr.login + " " + text
	if strings.HasPrefix(text, "```") {
		body = "@" + pr.login + "\n" + text
	}
	if err := c.sticky(ctx, pr, StickyMarker+"\n"+body); err != nil {
		log.ErrorContext(ctx, c.platform+": answer on a pull request", "err", err)
	}
}

// sticky sets the body of ferry's comment on a pull request: it edits the
// comment if there is one (its ID kept in the store, or found by its
// marker) and adds it otherwise.
func (c *Core) sticky(ctx context.Context, pr prRef, body string) error {
	c.stickyMu.Lock() // one writer, so that two answers at once make one comment
	defer c.stickyMu.Unlock()
	repo := Repo{FullName: pr.repo}
	ref, err := c.store.NoticeRef(ctx, c.platform, pr.dest())
	if err != nil {
		return err
	}
	id, _ := strconv.ParseInt(ref, 10, 64)
	if id == 0 {
		if id, err = c.client.FindComment(ctx, repo, pr.number, StickyMarker); err != nil {
			return err
		}
		if id != 0 {
			if err := c.store.PutNoticeRef(ctx, c.platform, pr.dest(), strconv.FormatInt(id, 10)); err != nil {
				return err
			}
		}
	}
	if id != 0 {
		return c.client.EditComment(ctx, repo, pr.number, id, body)
	}
	if id, err = c.client.CreateComment(ctx, repo, pr.number, body); err != nil {
		return err
	}
	return c.store.PutNoticeRef(ctx, c.platform, pr.dest(), strconv.FormatInt(id, 10))
}
