package github

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// stickyMarker starts ferry's one comment on a pull request, which it
// edits instead of adding comments.
const stickyMarker = "<!-- ferry -->"

// prRef is a pull request someone asked ferry something on.
type prRef struct {
	repo   string // owner/name
	number int
	login  string // who asked
}

func (p prRef) key() string { return strings.ToLower(p.repo) + "#" + fmt.Sprint(p.number) }

// do runs a command for a pull request. A deploy it creates keeps the pull
// request as its origin, so that its progress edits the pull request's
// sticky comment (Subscriber).
func (a *Adapter) do(ctx context.Context, actor pipeline.Actor, cmd bot.Command, pr prRef) bot.Reply {
	return a.shown(ctx, a.bot.Do(pipeline.WithOrigin(ctx, pr.origin()), actor, cmd))
}

// request asks for a deploy for a pull request, as do runs a command.
func (a *Adapter) request(ctx context.Context, actor pipeline.Actor, req pipeline.Request, pr prRef) bot.Reply {
	return a.shown(ctx, a.bot.Request(pipeline.WithOrigin(ctx, pr.origin()), actor, req))
}

// shown records the state of each deploy in r, which the answer on the
// pull request shows: a change of the deploy that the answer already
// says (the notices of its own request) does not overwrite it.
func (a *Adapter) shown(ctx context.Context, r bot.Reply) bot.Reply {
	for _, c := range r.Cards {
		a.setShown(ctx, c.DeployID, c.State)
	}
	return r
}

func (a *Adapter) setShown(ctx context.Context, id int64, st pipeline.State) {
	if err := a.store.PutNoticeRef(ctx, platform, fmt.Sprint("shown ", id), string(st)); err != nil {
		a.log.ErrorContext(ctx, "github: remember what a pull request shows", "platform", platform, "deploy_id", id, "err", err)
	}
}

// progress shows a deploy's current card in the sticky comment of the
// pull request it was asked for on, unless the comment already shows its
// state.
func (a *Adapter) progress(ctx context.Context, pr prRef, card bot.Card) error {
	shown, err := a.store.NoticeRef(ctx, platform, fmt.Sprint("shown ", card.DeployID))
	if err != nil || shown == string(card.State) {
		return err
	}
	api, err := a.clientFor(ctx, pr.repo)
	if err != nil {
		return err
	}
	if err := a.sticky(ctx, api, pr, stickyMarker+"\n@"+pr.login+"\n```\n"+strings.TrimRight(bot.RenderText(card), "\n")+"\n```"); err != nil {
		return err
	}
	a.setShown(ctx, card.DeployID, card.State)
	return nil
}

// answer writes text, for login, into the pull request's sticky comment.
func (a *Adapter) answer(ctx context.Context, api *gh.Client, log *slog.Logger, fullName string, number int, login, text string) {
	body := "@" + login + " " + text
	if strings.HasPrefix(text, "```") {
		body = "@" + login + "\n" + text
	}
	if err := a.sticky(ctx, api, prRef{repo: fullName, number: number, login: login}, stickyMarker+"\n"+body); err != nil {
		log.ErrorContext(ctx, "github: answer on a pull request", "err", err)
	}
}

// sticky sets the body of ferry's comment on a pull request: it edits the
// comment if there is one (its ID kept in the store, or found by its
// marker) and adds it otherwise.
func (a *Adapter) sticky(ctx context.Context, api *gh.Client, pr prRef, body string) error {
	a.stickyMu.Lock() // one writer, so that two answers at once make one comment
	defer a.stickyMu.Unlock()
	owner, repo, _ := strings.Cut(pr.repo, "/")
	ref, err := a.store.NoticeRef(ctx, platform, pr.dest())
	if err != nil {
		return err
	}
	id, _ := strconv.ParseInt(ref, 10, 64)
	if id == 0 {
		if id, err = a.findSticky(ctx, api, owner, repo, pr.number); err != nil {
			return err
		}
	}
	if id != 0 {
		return a.call(ctx, "issues.edit_comment", func() error {
			_, _, err := api.Issues.EditComment(ctx, owner, repo, id, &gh.IssueComment{Body: &body})
			return err
		})
	}
	var c *gh.IssueComment
	if err := a.call(ctx, "issues.create_comment", func() (err error) {
		c, _, err = api.Issues.CreateComment(ctx, owner, repo, pr.number, &gh.IssueComment{Body: &body})
		return err
	}); err != nil {
		return err
	}
	return a.store.PutNoticeRef(ctx, platform, pr.dest(), strconv.FormatInt(c.GetID(), 10))
}

// findSticky looks through a pull request's comments for ferry's; 0 when
// there is none.
func (a *Adapter) findSticky(ctx context.Context, api *gh.Client, owner, repo string, number int) (int64, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		var cs []*gh.IssueComment
		var res *gh.Response
		if err := a.call(ctx, "issues.list_comments", func() (err error) {
			cs, res, err = api.Issues.ListComments(ctx, owner, repo, number, opts)
			return err
		}); err != nil {
			return 0, err
		}
		for _, c := range cs {
			if strings.HasPrefix(c.GetBody(), stickyMarker) {
				return c.GetID(), nil
			}
		}
		if res == nil || res.NextPage == 0 {
			return 0, nil
		}
		opts.Page = res.NextPage
	}
}
