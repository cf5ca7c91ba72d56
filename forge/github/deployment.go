package github

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// deploymentTask marks the GitHub Deployments ferry creates.
const deploymentTask = "deploy:ferry"

// deploymentState maps a deploy's state to a GitHub deployment status.
func deploymentState(s pipeline.State) string {
	switch s {
	case pipeline.StateQueued:
		return "queued"
	case pipeline.StateRunning, pipeline.StatePaused, pipeline.StateRollingBack:
		return "in_progress"
	case pipeline.StateSucceeded:
		return "success"
	case pipeline.StateFailed, pipeline.StateRolledBack:
		return "failure"
	case pipeline.StateRejected, pipeline.StateExpired, pipeline.StateCancelled:
		return "error"
	}
	return "pending"
}

// postDeployment keeps a GitHub Deployment of the deploy's commit in its
// environment — ref is its ID, "" until it is created the first time (a
// denied request gets none) — and adds a status saying the deploy's state:
// its log_url is the deploy's page, its environment_url the environment's
// url: with the deploy's version filled in. A success makes GitHub mark
// the environment's earlier deployments inactive. The Deployment is a
// production environment when the environment is named prod or production
// (prod-eu too), and transient when its url differs from one deploy to the
// next (a preview per branch). It returns the Deployment's ID.
func (a *Adapter) postDeployment(ctx context.Context, d pipeline.Deploy, ref string) (string, error) {
	fullName, ok := a.repoOfProject(d.Project)
	if !ok {
		return ref, nil
	}
	api, err := a.clientFor(ctx, fullName)
	if err != nil {
		return ref, err
	}
	owner, repo, _ := strings.Cut(fullName, "/")
	id, _ := strconv.ParseInt(ref, 10, 64)
	if id == 0 {
		if id, err = a.deploymentOf(ctx, api, owner, repo, d); err != nil || id == 0 {
			return ref, err
		}
		ref = strconv.FormatInt(id, 10)
	}
	req := &gh.DeploymentStatusRequest{
		State: gh.Ptr(deploymentState(d.State)), Description: gh.Ptr(statusDescription(d)),
		Environment: gh.Ptr(d.Env), AutoInactive: gh.Ptr(true),
	}
	if u := bot.DeployURL(a.baseURL, d.ID); u != "" {
		req.LogURL = &u
	}
	if u, err := a.envOf(d).URLFor(d); err != nil {
		a.log.ErrorContext(ctx, "github: environment url", "platform", platform, "deploy_id", d.ID, "err", err)
	} else if u != "" {
		req.EnvironmentURL = &u
	}
	return ref, a.call(ctx, "repos.create_deployment_status", func() error {
		_, _, err := api.Repositories.CreateDeploymentStatus(ctx, owner, repo, id, req)
		return err
	})
}

// deploymentOf finds the GitHub Deployment of a deploy among the commit's
// deployments by the ferry_deploy of its payload (one a ferry made before
// it could keep its ID), or creates it; 0 for a denied deploy, which has
// none.
func (a *Adapter) deploymentOf(ctx context.Context, api *gh.Client, owner, repo string, d pipeline.Deploy) (int64, error) {
	var found []*gh.Deployment
	if err := a.call(ctx, "repos.list_deployments", func() (err error) {
		found, _, err = api.Repositories.ListDeployments(ctx, owner, repo, &gh.DeploymentsListOptions{SHA: d.Commit, Environment: d.Env, Task: deploymentTask})
		return err
	}); err != nil {
		return 0, err
	}
	var id int64
	for _, g := range found {
		var p struct {
			FerryDeploy int64 `json:"ferry_deploy"`
		}
		if json.Unmarshal(g.Payload, &p) == nil && p.FerryDeploy == d.ID {
			id = g.GetID()
		}
	}
	if id != 0 || d.State == pipeline.StateDenied {
		return id, nil
	}
	env := a.envOf(d)
	var g *gh.Deployment
	err := a.call(ctx, "repos.create_deployment", func() (err error) {
		g, _, err = api.Repositories.CreateDeployment(ctx, owner, repo, &gh.DeploymentRequest{
			Ref: gh.Ptr(d.Commit), Task: gh.Ptr(deploymentTask), AutoMerge: gh.Ptr(false), RequiredContexts: &[]string{},
			Payload: map[string]any{"ferry_deploy": d.ID}, Environment: gh.Ptr(d.Env),
			Description:           gh.Ptr(fmt.Sprintf("%s %s to %s", strings.ToLower(string(d.Kind)), d.Version, d.Env)),
			ProductionEnvironment: gh.Ptr(production(d.Env)), TransientEnvironment: gh.Ptr(env.URLPerDeploy()),
		})
		return err
	})
	return g.GetID(), err
}

// envOf is the environment of a deploy as ferry.yaml configures it; the
// zero Environment when it is gone.
func (a *Adapter) envOf(d pipeline.Deploy) pipeline.Environment {
	for _, p := range a.engine.Projects() {
		if p.Name == d.Project {
			e, _ := p.Env(d.Env)
			return e
		}
	}
	return pipeline.Environment{}
}

// production reports whether an environment is one people use, for
// GitHub: one named prod or production, alone or first (prod-eu).
func production(env string) bool {
	first := strings.FieldsFunc(strings.ToLower(env), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	return len(first) > 0 && (first[0] == "prod" || first[0] == "production")
}
