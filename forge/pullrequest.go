package forge

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ferrybot/ferry/pipeline"
)

// LabelPrefix starts a label that deploys a pull request: deploy/<env>.
const LabelPrefix = "deploy/"

// labelEnv is the environment a deploy/<env> label names.
func labelEnv(label string) (string, bool) {
	env, ok := strings.CutPrefix(label, LabelPrefix)
	return env, ok && env != ""
}

// PullRequest deploys a pull request's head to the environment of a
// deploy/<env> label when the label is added, and again on every new push
// (opened, reopened, updated) while it is there; removing the label or
// closing the pull request stops that, since nothing is kept between
// events. The sender must be allowed as for a comment command; ferry
// answers on the pull request. A new head without a deploy label has its
// .ferry.yaml checked, and a refused one said on the pull request.
func (c *Core) PullRequest(ctx context.Context, delivery string, pr PullRequest) {
	var envs []string
	newHead := false // whose .ferry.yaml may have changed
	switch pr.Action {
	case PRLabeled:
		if env, ok := labelEnv(pr.Label); ok {
			envs = append(envs, env)
		}
	case PROpened, PRReopened, PRUpdated:
		newHead = true
		for _, l := range pr.Labels {
			if env, ok := labelEnv(l); ok {
				envs = append(envs, env)
			}
		}
	}
	check := c.repoConfig != nil && newHead
	if len(envs) == 0 && !check || !pr.Open {
		return
	}
	log := c.log.With("platform", c.platform, "delivery", delivery, "repo", pr.Repo.FullName, "pr", pr.Number, "actor", pr.Sender.Login)
	projects := c.ProjectsOf(pr.Repo)
	if len(projects) == 0 {
		if len(envs) > 0 {
			log.InfoContext(ctx, c.platform+": a deploy label on a repository no project deploys; ignored")
		}
		return
	}
	if c.client == nil || c.bot == nil {
		log.InfoContext(ctx, c.platform+": a pull request ferry would act on, but it cannot call "+c.name+"; ignored")
		return
	}
	at := prRef{platform: c.platform, repo: pr.Repo.FullName, number: pr.Number, login: pr.Sender.Login}
	if len(envs) == 0 { // the label's answer would say the same
		c.checkRepoConfig(ctx, at, projects, pr.HeadSHA)
		return
	}
	for _, env := range envs {
		text, sep := c.labelDeploy(ctx, log, pr, projects, env), " "
		if strings.HasPrefix(text, "```") {
			sep = "\n"
		}
		c.answer(ctx, log, at, "label "+LabelPrefix+env+":"+sep+text)
	}
}

// labelDeploy requests the deploy of one label, of the event's head commit
// (whatever the branch points at by the time it is handled), and says what
// happened.
func (c *Core) labelDeploy(ctx context.Context, log *slog.Logger, pr PullRequest, projects []pipeline.Project, env string) string {
	if len(projects) > 1 {
		return fmt.Sprintf("%s is deployed by several projects (%s); a label cannot say which. Nothing was done.", pr.Repo.FullName, projectNames(projects))
	}
	if !strings.EqualFold(pr.HeadRepo, pr.Repo.FullName) {
		return fmt.Sprintf("this pull request's branch is in %s, a fork; ferry deploys branches of %s only. Nothing was done.", pr.HeadRepo, pr.Repo.FullName)
	}
	actor, err := c.authorize(ctx, log, pr.Repo, pr.Sender)
	if err != nil {
		return err.Error()
	}
	override, err := c.envAt(ctx, log, projects[0], pr.Repo, pr.HeadSHA, env)
	if err != nil {
		return err.Error()
	}
	return markdown(c.request(ctx, actor, pipeline.Request{Project: projects[0].Name, Env: env, Ref: pr.Head, Commit: pr.HeadSHA, Override: override},
		prRef{platform: c.platform, repo: pr.Repo.FullName, number: pr.Number, login: pr.Sender.Login}))
}
