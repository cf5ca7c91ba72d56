package github

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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
// environment, created the first time the deploy is seen (a denied
// request gets none), with a status for each change: its log_url is the
// deploy's page, its environment_url the environment's url: with the
// deploy's version filled in. A success makes GitHub mark the
// environment's earlier deployments inactive. The Deployment is a
// production environment when the environment is named prod or
// production (prod-eu too), and transient when its url differs from one
// deploy to the next (a preview per branch). Failures are logged and never
// reach the engine.
func (a *Adapter) postDeployment(ctx context.Context, api *gh.Client, log *slog.Logger, owner, repo string, d pipeline.Deploy) {
	id, err := a.deploymentOf(ctx, api, owner, repo, d)
	if err != nil || id == 0 {
		if err != nil {
			log.ErrorContext(ctx, "github: deployment", "err", err)
		}
		return
	}
	req := &gh.DeploymentStatusRequest{
		State: gh.Ptr(deploymentState(d.State)), Description: gh.Ptr(statusDescription(d)),
		Environment: gh.Ptr(d.Env), AutoInactive: gh.Ptr(true),
	}
	if u := bot.DeployURL(a.baseURL, d.ID); u != "" {
		req.LogURL = &u
	}
	if u, err := a.envOf(d).URLFor(d); err != nil {
		log.ErrorContext(ctx, "github: environment url", "err", err)
	} else if u != "" {
		req.EnvironmentURL = &u
	}
	if err := a.call(ctx, "repos.create_deployment_status", func() error {
		_, _, err := api.Repositories.CreateDeploymentStatus(ctx, owner, repo, id, req)
		return err
	}); err != nil {
		log.ErrorContext(ctx, "github: deployment status", "err", err)
	}
}

// deploymentOf returns the GitHub Deployment of a deploy: remembered,
// found among the commit's deployments by the ferry_deploy of its payload
// (after a restart), or created; 0 for a denied deploy that has none.
func (a *Adapter) deploymentOf(ctx context.Context, api *gh.Client, owner, repo string, d pipeline.Deploy) (int64, error) {
	a.outMu.Lock()
	id, ok := a.deployments[d.ID]
	a.outMu.Unlock()
	if ok {
		return id, nil
	}
	var found []*gh.Deployment
	if err := a.call(ctx, "repos.list_deployments", func() (err error) {
		found, _, err = api.Repositories.ListDeployments(ctx, owner, repo, &gh.DeploymentsListOptions{SHA: d.Commit, Environment: d.Env, Task: deploymentTask})
		return err
	}); err != nil {
		return 0, err
	}
	for _, g := range found {
		var p struct {
			FerryDeploy int64 `json:"ferry_deploy"`
		}
		if json.Unmarshal(g.Payload, &p) == nil && p.FerryDeploy == d.ID {
			id = g.GetID()
		}
	}
	if id == 0 && d.State != pipeline.StateDenied {
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
		if err != nil {
			return 0, err
		}
		id = g.GetID()
	}
	if id != 0 {
		a.outMu.Lock()
		a.deployments[d.ID] = id
		a.outMu.Unlock()
	}
	return id, nil
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
