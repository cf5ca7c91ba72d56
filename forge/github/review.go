package github

import (
	"context"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// reviewOf normalizes a review event; ok is false unless a review was
// submitted on an open pull request.
func reviewOf(e *gh.PullRequestReviewEvent) (forge.Review, bool) {
	if e.GetAction() != "submitted" || e.GetPullRequest().GetState() != "open" {
		return forge.Review{}, false
	}
	return forge.Review{
		Repo: repoOf(e.GetRepo()), Number: e.GetPullRequest().GetNumber(), HeadSHA: e.GetPullRequest().GetHead().GetSHA(),
		State: strings.ToLower(e.GetReview().GetState()), Reviewer: e.GetReview().GetUser().GetLogin(),
	}, true
}

// review counts an approving review as the reviewer's approval of every
// deploy of the pull request's head that awaits approval: of its head
// branch at the commit reviewed, so that a review never approves commits
// pushed after it. The reviewer must be allowed as for a comment command,
// and approve as the environment's policy says; ferry answers on the pull
// request.
func (a *Adapter) review(ctx context.Context, delivery string, installation int64, head string, r forge.Review) {
	if r.State != "approved" {
		return
	}
	log := a.log.With("platform", platform, "delivery", delivery, "repo", r.Repo.FullName, "pr", r.Number, "actor", r.Reviewer)
	var pending []pipeline.Deploy
	for _, p := range a.projectsOf(r.Repo) {
		ds, err := a.engine.Deploys(ctx, pipeline.DeployFilter{Project: p.Name, States: []pipeline.State{pipeline.StateAwaitingApproval}})
		if err != nil {
			log.ErrorContext(ctx, "github: deploys awaiting approval", "project", p.Name, "err", err)
			return
		}
		for _, d := range ds {
			if d.Ref == head && d.Commit == r.HeadSHA {
				pending = append(pending, d)
			}
		}
	}
	if len(pending) == 0 {
		return
	}
	api, err := a.client(installation)
	if err != nil || a.bot == nil {
		log.InfoContext(ctx, "github: an approving review, but ferry cannot call GitHub to check the reviewer; ignored", "err", err)
		return
	}
	actor, err := a.authorize(ctx, api, log, r.Repo.FullName, r.Reviewer)
	for _, d := range pending {
		text := ""
		if err != nil {
			text = err.Error()
		} else {
			text = markdown(a.do(ctx, actor, bot.Command{Verb: bot.VerbApprove, DeployID: d.ID},
				prRef{repo: r.Repo.FullName, number: r.Number, login: r.Reviewer}))
		}
		sep := " "
		if strings.HasPrefix(text, "```") {
			sep = "\n"
		}
		a.answer(ctx, api, log, r.Repo.FullName, r.Number, r.Reviewer, fmt.Sprintf("your approving review, for deploy #%d:%s%s", d.ID, sep, text))
	}
}
