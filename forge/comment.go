package forge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// Comment runs the command of a pull request comment addressed to ferry,
// as its author, and answers on the pull request. Its author's access is
// checked first (and kept a while): a comment from someone who may not
// ask gets one reaction and nothing else, so that anyone who may comment
// can neither make ferry repeat their text on the pull request nor spend
// more than a call or two of its API quota.
func (c *Core) Comment(ctx context.Context, delivery string, cm Comment) {
	if !bot.Addressed(cm.Body) {
		return
	}
	log := c.log.With("platform", c.platform, "delivery", delivery, "repo", cm.Repo.FullName, "pr", cm.Number, "actor", cm.Author.Login)
	if c.client == nil || c.bot == nil {
		log.InfoContext(ctx, c.platform+": a command in a comment, but ferry cannot call "+c.name+" to answer it; ignored")
		return
	}
	projects := c.ProjectsOf(cm.Repo)
	if len(projects) == 0 {
		log.InfoContext(ctx, c.platform+": a command on a repository no project deploys; ignored")
		return
	}
	acc, err := c.accessOf(ctx, cm.Repo, cm.Author)
	if err != nil || !acc.MayAsk {
		if err != nil {
			log.ErrorContext(ctx, c.platform+": permission of a commenter; not answering", "err", err)
		} else {
			log.InfoContext(ctx, c.platform+": a command from someone who may not ask; not answering", "permission", acc.Has)
		}
		c.react(ctx, log, cm, ReactionRefused)
		return
	}
	c.react(ctx, log, cm, ReactionSeen)
	text, err := c.runComment(ctx, log, cm, projects)
	if err != nil {
		text = err.Error()
	}
	c.answer(ctx, log, prRef{platform: c.platform, repo: cm.Repo.FullName, number: cm.Number, login: cm.Author.Login}, text)
	if err != nil {
		c.react(ctx, log, cm, ReactionRefused)
	} else {
		c.react(ctx, log, cm, ReactionDone)
	}
}

// react adds a reaction to a comment; a failure is logged and changes
// nothing else, and a forge without reactions has none.
func (c *Core) react(ctx context.Context, log *slog.Logger, cm Comment, r Reaction) {
	if err := c.client.React(ctx, cm.Repo, cm.Number, cm.ID, r); err != nil && !errors.Is(err, ErrNotSupported) {
		log.WarnContext(ctx, c.platform+": react to a comment", "reaction", string(r), "err", err)
	}
}

// runComment decides and does what a comment asks, and says what
// happened, in Markdown; the error, a refusal, says why nothing was done.
func (c *Core) runComment(ctx context.Context, log *slog.Logger, cm Comment, projects []pipeline.Project) (string, error) {
	if !cm.Open {
		return "", refusal("this pull request is closed; ferry takes commands on open pull requests only. Nothing was done.")
	}
	cmd, err := bot.ParsePR(cm.Body)
	if err != nil {
		return "", refusal(err.Error())
	}
	actor := pipeline.Actor{}
	if cmd.Verb != bot.VerbHelp {
		if actor, err = c.authorize(ctx, log, cm.Repo, cm.Author); err != nil {
			return "", err
		}
	}
	if cmd.Verb == bot.VerbDeploy || cmd.Verb == bot.VerbRollback {
		if len(projects) > 1 {
			return "", refusal(fmt.Sprintf("%s is deployed by several projects (%s); ferry cannot tell which one you mean here. Nothing was done.", cm.Repo.FullName, projectNames(projects)))
		}
		cmd.Project = projects[0].Name
	}
	at := prRef{platform: c.platform, repo: cm.Repo.FullName, number: cm.Number, login: cm.Author.Login}
	var r bot.Reply
	if cmd.Verb == bot.VerbDeploy {
		req, err := c.deployRequest(ctx, log, cm, projects[0], cmd)
		if err != nil {
			return "", err
		}
		r = c.request(ctx, actor, req, at)
	} else {
		r = c.do(ctx, actor, cmd, at)
	}
	if r.Error {
		return "", refusal(markdown(r))
	}
	return markdown(r), nil
}

// deployRequest is the deploy a /ferry deploy comment asks for: of the
// pull request's head commit, as the forge names it once when the comment
// is handled, unless it names a ref, to the environment as the .ferry.yaml
// at the pull request's head makes it.
func (c *Core) deployRequest(ctx context.Context, log *slog.Logger, cm Comment, p pipeline.Project, cmd bot.Command) (pipeline.Request, error) {
	pr, err := c.client.PullRequest(ctx, cm.Repo, cm.Number)
	if err != nil {
		log.ErrorContext(ctx, c.platform+": read a pull request", "err", err)
		return pipeline.Request{}, refusal("ferry could not read this pull request because of an error; it is in ferry's log. Nothing was done.")
	}
	commit := ""
	if cmd.Ref == "" {
		if !strings.EqualFold(pr.HeadRepo, cm.Repo.FullName) {
			return pipeline.Request{}, refusal(fmt.Sprintf("this pull request's branch is in %s, a fork; ferry deploys branches of %s only. Nothing was done.", pr.HeadRepo, cm.Repo.FullName))
		}
		cmd.Ref, commit = pr.Head, pr.HeadSHA
	}
	override, err := c.envAt(ctx, log, p, cm.Repo, pr.HeadSHA, cmd.Env)
	if err != nil {
		return pipeline.Request{}, err
	}
	return pipeline.Request{Project: p.Name, Env: cmd.Env, Ref: cmd.Ref, Commit: commit, Force: cmd.Force, Override: override}, nil
}
