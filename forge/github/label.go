package github

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// labelPrefix starts a label that deploys a pull request: deploy/<env>.
const labelPrefix = "deploy/"

// pullRequestOf normalizes a pull request event; one without its pull
// request (not GitHub's, but signed) has no labels.
func pullRequestOf(e *gh.PullRequestEvent) forge.PullRequest {
	pr := e.GetPullRequest()
	if pr == nil {
		pr = &gh.PullRequest{}
	}
	out := forge.PullRequest{
		Repo: repoOf(e.GetRepo()), Number: e.GetNumber(), Action: forge.PullRequestAction(e.GetAction()),
		Head: pr.GetHead().GetRef(), HeadRepo: pr.GetHead().GetRepo().GetFullName(), HeadSHA: pr.GetHead().GetSHA(),
		Base: pr.GetBase().GetRef(), Merged: pr.GetMerged(), Label: e.GetLabel().GetName(),
		Sender: e.GetSender().GetLogin(), Open: pr.GetState() == "open",
	}
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

// labelEnv is the environment a deploy/<env> label names.
func labelEnv(label string) (string, bool) {
	env, ok := strings.CutPrefix(label, labelPrefix)
	return env, ok && env != ""
}

// pullRequest deploys a pull request's head to the environment of a
// deploy/<env> label when the label is added, and again on every new push
// (opened, reopened, synchronize) while it is there; removing the label or
// closing the pull request stops that, since nothing is kept between
// events. The sender must be allowed as for a comment command; ferry
// answers on the pull request. A new head without a deploy label has its
// .ferry.yaml checked, and a refused one said on the pull request.
func (a *Adapter) pullRequest(ctx context.Context, delivery string, installation int64, pr forge.PullRequest) {
	var envs []string
	newHead := false // whose .ferry.yaml may have changed
	switch pr.Action {
	case forge.PRLabeled:
		if env, ok := labelEnv(pr.Label); ok {
			envs = append(envs, env)
		}
	case forge.PROpened, forge.PRReopened, forge.PRUpdated:
		newHead = true
		for _, l := range pr.Labels {
			if env, ok := labelEnv(l); ok {
				envs = append(envs, env)
			}
		}
	}
	check := a.repoConfig != nil && newHead
	if len(envs) == 0 && !check || !pr.Open {
		return
	}
	log := a.log.With("platform", platform, "delivery", delivery, "repo", pr.Repo.FullName, "pr", pr.Number, "actor", pr.Sender)
	projects := a.projectsOf(pr.Repo)
	if len(projects) == 0 {
		if len(envs) > 0 {
			log.InfoContext(ctx, "github: a deploy label on a repository no project deploys; ignored")
		}
		return
	}
	api, err := a.client(installation)
	if err != nil || a.bot == nil {
		log.InfoContext(ctx, "github: a pull request ferry would act on, but it cannot call GitHub; ignored", "err", err)
		return
	}
	if len(envs) == 0 { // the label's answer would say the same
		a.checkRepoConfig(ctx, api, prRef{repo: pr.Repo.FullName, number: pr.Number, login: pr.Sender}, projects, pr.HeadSHA)
		return
	}
	for _, env := range envs {
		text, sep := a.labelDeploy(ctx, api, log, pr, projects, env), " "
		if strings.HasPrefix(text, "```") {
			sep = "\n"
		}
		a.answer(ctx, api, log, pr.Repo.FullName, pr.Number, pr.Sender, "label "+labelPrefix+env+":"+sep+text)
	}
}

// labelDeploy requests the deploy of one label, of the event's head commit
// (whatever the branch points at by the time it is handled), and says what
// happened.
func (a *Adapter) labelDeploy(ctx context.Context, api *gh.Client, log *slog.Logger, pr forge.PullRequest, projects []pipeline.Project, env string) string {
	if len(projects) > 1 {
		return fmt.Sprintf("%s is deployed by several projects (%s); a label cannot say which. Nothing was done.", pr.Repo.FullName, projectNames(projects))
	}
	if !strings.EqualFold(pr.HeadRepo, pr.Repo.FullName) {
		return fmt.Sprintf("this pull request's branch is in %s, a fork; ferry deploys branches of %s only. Nothing was done.", pr.HeadRepo, pr.Repo.FullName)
	}
	actor, err := a.authorize(ctx, api, log, pr.Repo.FullName, pr.Sender)
	if err != nil {
		return err.Error()
	}
	override, err := a.envAt(ctx, api, log, projects[0], pr.Repo.FullName, pr.HeadSHA, env)
	if err != nil {
		return err.Error()
	}
	return markdown(a.request(ctx, actor, pipeline.Request{Project: projects[0].Name, Env: env, Ref: pr.Head, Commit: pr.HeadSHA, Override: override},
		prRef{repo: pr.Repo.FullName, number: pr.Number, login: pr.Sender}))
}
