package forge

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// Review counts an approving review as the reviewer's approval of every
// deploy of the pull request's head that awaits approval: of its head
// branch at the commit reviewed, so that a review never approves commits
// pushed after it. The reviewer must be allowed as for a comment command,
// and approve as the environment's policy says; ferry answers on the pull
// request.
func (c *Core) Review(ctx context.Context, delivery string, r Review) {
	if r.State != ReviewApproved {
		return
	}
	log := c.log.With("platform", c.platform, "delivery", delivery, "repo", r.Repo.FullName, "pr", r.Number, "actor", r.Reviewer.Login)
	var pending []pipeline.Deploy
	for _, p := range c.ProjectsOf(r.Repo) {
		ds, err := c.engine.Deploys(ctx, pipeline.DeployFilter{Project: p.Name, States: []pipeline.State{pipeline.StateAwaitingApproval}})
		if err != nil {
			log.ErrorContext(ctx, c.platform+": deploys awaiting approval", "project", p.Name, "err", err)
			return
		}
		for _, d := range ds {
			if d.Ref == r.Head && d.Commit == r.HeadSHA {
				pending = append(pending, d)
			}
		}
	}
	if len(pending) == 0 {
		return
	}
	if c.client == nil || c.bot == nil {
		log.InfoContext(ctx, c.platform+": an approving review, but ferry cannot call "+c.name+" to check the reviewer; ignored")
		return
	}
	at := prRef{platform: c.platform, repo: r.Repo.FullName, number: r.Number, login: r.Reviewer.Login}
	actor, err := c.authorize(ctx, log, r.Repo, r.Reviewer)
	for _, d := range pending {
		text := ""
		if err != nil {
			text = err.Error()
		} else {
			text = markdown(c.do(ctx, actor, bot.Command{Verb: bot.VerbApprove, DeployID: d.ID}, at))
		}
		sep := " "
		if strings.HasPrefix(text, "```") {
			sep = "\n"
		}
		c.answer(ctx, log, at, fmt.Sprintf("your approving review, for deploy #%d:%s%s", d.ID, sep, text))
	}
}
