package github

import (
	"context"
	"fmt"
	"log/slog"
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
	login  string         // who asked
	shown  pipeline.State // the deploy's state the sticky comment shows
}

func (p prRef) key() string { return strings.ToLower(p.repo) + "#" + fmt.Sprint(p.number) }

// do runs a command for a pull request and follows the deploys in its
// reply, so that their progress edits the pull request's sticky comment.
func (a *Adapter) do(ctx context.Context, actor pipeline.Actor, cmd bot.Command, pr prRef) bot.Reply {
	return a.followed(a.bot.Do(ctx, actor, cmd), pr)
}

// request asks for a deploy for a pull request, as do runs a command.
func (a *Adapter) request(ctx context.Context, actor pipeline.Actor, req pipeline.Request, pr prRef) bot.Reply {
	return a.followed(a.bot.Request(ctx, actor, req), pr)
}

// followed follows the deploys of r on pr.
func (a *Adapter) followed(r bot.Reply, pr prRef) bot.Reply {
	if !r.Error {
		a.outMu.Lock()
		for _, c := range r.Cards {
			pr.shown = c.State
			a.follow[c.DeployID] = pr
		}
		a.outMu.Unlock()
	}
	return r
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
// comment if there is one (remembered, or found by its marker) and adds it
// otherwise.
func (a *Adapter) sticky(ctx context.Context, api *gh.Client, pr prRef, body string) error {
	a.stickyMu.Lock() // one writer, so that two answers at once make one comment
	defer a.stickyMu.Unlock()
	owner, repo, _ := strings.Cut(pr.repo, "/")
	a.outMu.Lock()
	id, ok := a.stickies[pr.key()]
	a.outMu.Unlock()
	if !ok {
		var err error
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
	a.outMu.Lock()
	a.stickies[pr.key()] = c.GetID()
	a.outMu.Unlock()
	return nil
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

// progress shows a followed deploy's current card in its pull request's
// sticky comment, when its state is not the one the comment shows (an
// event from before the answer, or a stale one, changes nothing).
func (a *Adapter) progress(ctx context.Context, d pipeline.Deploy) {
	a.outMu.Lock()
	_, ok := a.follow[d.ID]
	a.outMu.Unlock()
	if !ok || a.bot == nil {
		return
	}
	log := a.log.With("platform", platform, "deploy_id", d.ID, "project", d.Project, "env", d.Env)
	card, err := a.bot.Card(ctx, d.ID)
	if err != nil {
		log.ErrorContext(ctx, "github: the card of a deploy", "err", err)
		return
	}
	a.outMu.Lock()
	pr, ok := a.follow[d.ID]
	ok = ok && pr.shown != card.State
	switch {
	case ok && card.State.Final():
		delete(a.follow, d.ID)
	case ok:
		pr.shown = card.State
		a.follow[d.ID] = pr
	}
	a.outMu.Unlock()
	if !ok {
		return
	}
	api, err := a.client(a.installationOf(pr.repo))
	if err != nil {
		log.InfoContext(ctx, "github: no API access for the sticky comment", "err", err)
		return
	}
	a.answer(ctx, api, log, pr.repo, pr.number, pr.login, "```\n"+strings.TrimRight(bot.RenderText(card), "\n")+"\n```")
}
