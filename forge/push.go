package forge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// Push requests a deploy of the pushed commit of a branch or tag (the
// payload's after, whatever the ref points at by the time the delivery is
// handled) in every project of its repository whose rules route it to an
// auto environment. A commit ferry cannot fetch, or that is no longer the
// ref's, is not deployed, and its commit status says why. The rules are
// the project's as the .ferry.yaml at the pushed commit makes them; a ref
// they route to an environment whose rules in ferry.yaml do not take it
// routes nowhere. A refused .ferry.yaml deploys nothing and marks the
// commit (statusConfig).
func (c *Core) Push(ctx context.Context, delivery string, p Push) {
	log := c.log.With("platform", c.platform, "delivery", delivery, "ref", p.Ref)
	if p.Deleted {
		log.InfoContext(ctx, c.platform+": ignored a deleted ref")
		return
	}
	projects := c.ProjectsOf(p.Repo)
	if len(projects) == 0 {
		log.InfoContext(ctx, c.platform+": ignored a push to a repository no project deploys", "repo", p.Repo.FullName)
		return
	}
	actor := c.actor(p.Pusher)
	_, name := pipeline.RefName(p.Ref)
	for _, proj := range projects {
		eff, err := c.projectAt(ctx, proj, p.Repo, p.After)
		var refused *refusedConfig
		switch {
		case errors.As(err, &refused):
			log.WarnContext(ctx, c.platform+": not deploying a push whose .ferry.yaml is refused", "project", proj.Name, "why", refused.Error())
			c.statusConfig(ctx, log, p.Repo, refused)
			continue
		case err != nil:
			log.ErrorContext(ctx, c.platform+": not deploying a push whose .ferry.yaml ferry could not read", "project", proj.Name, "err", err)
			continue
		}
		route, err := pipeline.RouteRef(eff, p.Ref)
		if err == nil {
			configured, _ := proj.Env(route.Env.Name)
			if ok, why := configured.Allows(pipeline.Commit{Branch: route.Branch, Tag: route.Tag}); !ok {
				err = fmt.Errorf("the repository's .ferry.yaml routes it to %s, but in ferry's configuration %s", route.Env.Name, why)
			}
		}
		if err != nil {
			log.InfoContext(ctx, c.platform+": ignored a push that routes nowhere", "project", proj.Name, "why", err.Error())
			continue
		}
		if !route.Env.Auto {
			log.InfoContext(ctx, c.platform+": a push routes to an environment that is not auto; not deploying", "project", proj.Name, "env", route.Env.Name)
			continue
		}
		d, err := c.engine.Request(ctx, actor, pipeline.Request{Project: proj.Name, Env: route.Env.Name, Ref: name, Commit: p.After, Override: &route.Env})
		var locked *pipeline.LockedError
		switch {
		case err != nil && (errors.Is(err, pipeline.ErrForbidden) || errors.As(err, &locked)):
			log.WarnContext(ctx, c.platform+": push deploy refused", "project", proj.Name, "env", route.Env.Name, "actor", actor.Name, "err", err)
			continue
		case err != nil: // nothing was stored: the commit is not there, or no longer the ref's
			log.ErrorContext(ctx, c.platform+": push not deployed", "project", proj.Name, "env", route.Env.Name, "actor", actor.Name, "commit", p.After, "err", err)
			c.statusNotDeployed(ctx, log, p.Repo, p.After, route.Env.Name, err)
			continue
		}
		log.InfoContext(ctx, c.platform+": push deploy requested", "project", proj.Name, "env", route.Env.Name, "deploy_id", d.ID, "actor", actor.Name, "why", route.Why)
	}
}

// statusNotDeployed marks a pushed commit ferry could not deploy to env
// (it cannot fetch it, or it no longer belongs to the ref) with a failure
// status saying why; a failure to set it is logged.
func (c *Core) statusNotDeployed(ctx context.Context, log *slog.Logger, repo Repo, sha, env string, why error) {
	if c.client == nil || sha == "" {
		return
	}
	msg, _ := bot.Explain(why)
	c.setStatus(ctx, log, repo, sha, Status{Context: "ferry/" + env, State: StatusFailure, Description: clip("not deployed: "+msg, maxDescription)})
}

// configContext is the commit status of a commit whose .ferry.yaml ferry
// refused.
const configContext = "ferry/config"

// statusConfig marks a commit whose .ferry.yaml is refused with an error
// status saying its first problem; a failure is logged.
func (c *Core) statusConfig(ctx context.Context, log *slog.Logger, repo Repo, r *refusedConfig) {
	if c.client == nil {
		return
	}
	c.setStatus(ctx, log, repo, r.sha, Status{Context: configContext, State: StatusError, Description: configDescription(r)})
}

// setStatus sets a commit status, logging a failure; a forge without
// statuses is not one.
func (c *Core) setStatus(ctx context.Context, log *slog.Logger, repo Repo, sha string, st Status) {
	if err := c.client.SetStatus(ctx, repo, sha, st); err != nil && !errors.Is(err, ErrNotSupported) {
		log.ErrorContext(ctx, c.platform+": commit status", "err", err)
	}
}
