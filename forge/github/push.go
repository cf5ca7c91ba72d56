package github

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// push requests a deploy of the pushed commit of a branch or tag (the
// payload's after, whatever the ref points at by the time the delivery is
// handled) in every project of its repository whose rules route it to an
// auto environment. A commit ferry cannot fetch, or that is no longer the
// ref's, is not deployed, and its commit status says why. The rules are
// the project's as the .ferry.yaml at the pushed commit makes them; a ref
// they route to an environment whose rules in ferry.yaml do not take it
// routes nowhere. A refused .ferry.yaml deploys nothing and marks the
// commit (statusConfig).
func (a *Adapter) push(ctx context.Context, delivery string, installation int64, p forge.Push) {
	log := a.log.With("platform", platform, "delivery", delivery, "ref", p.Ref)
	if p.Deleted {
		log.InfoContext(ctx, "github: ignored a deleted ref")
		return
	}
	projects := a.projectsOf(p.Repo)
	if len(projects) == 0 {
		log.InfoContext(ctx, "github: ignored a push to a repository no project deploys", "repo", p.Repo.FullName)
		return
	}
	actor := a.actor(p.Pusher)
	_, name := pipeline.RefName(p.Ref)
	api, _ := a.client(installation) // nil: projectAt says why when it needs one
	for _, proj := range projects {
		eff, err := a.projectAt(ctx, api, proj, p.Repo.FullName, p.After)
		var refused *refusedConfig
		switch {
		case errors.As(err, &refused):
			log.WarnContext(ctx, "github: not deploying a push whose .ferry.yaml is refused", "project", proj.Name, "why", refused.Error())
			a.statusConfig(ctx, api, log, p.Repo.FullName, refused)
			continue
		case err != nil:
			log.ErrorContext(ctx, "github: not deploying a push whose .ferry.yaml ferry could not read", "project", proj.Name, "err", err)
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
			log.InfoContext(ctx, "github: ignored a push that routes nowhere", "project", proj.Name, "why", err.Error())
			continue
		}
		if !route.Env.Auto {
			log.InfoContext(ctx, "github: a push routes to an environment that is not auto; not deploying", "project", proj.Name, "env", route.Env.Name)
			continue
		}
		d, err := a.engine.Request(ctx, actor, pipeline.Request{Project: proj.Name, Env: route.Env.Name, Ref: name, Commit: p.After, Override: &route.Env})
		var locked *pipeline.LockedError
		switch {
		case err != nil && (errors.Is(err, pipeline.ErrForbidden) || errors.As(err, &locked)):
			log.WarnContext(ctx, "github: push deploy refused", "project", proj.Name, "env", route.Env.Name, "actor", actor.Name, "err", err)
			continue
		case err != nil: // nothing was stored: the commit is not there, or no longer the ref's
			log.ErrorContext(ctx, "github: push not deployed", "project", proj.Name, "env", route.Env.Name, "actor", actor.Name, "commit", p.After, "err", err)
			a.statusNotDeployed(ctx, api, log, p.Repo.FullName, p.After, route.Env.Name, err)
			continue
		}
		log.InfoContext(ctx, "github: push deploy requested", "project", proj.Name, "env", route.Env.Name, "deploy_id", d.ID, "actor", actor.Name, "why", route.Why)
	}
}

// create routes a tag created on GitHub and logs where it goes: the push
// of the same tag, which GitHub also sends, deploys it.
func (a *Adapter) create(ctx context.Context, delivery string, e *gh.CreateEvent) {
	if e.GetRefType() != "tag" {
		return
	}
	ref := "refs/tags/" + e.GetRef()
	for _, proj := range a.projectsOf(repoOf(e.GetRepo())) {
		route, err := pipeline.RouteRef(proj, ref)
		if err != nil {
			a.log.InfoContext(ctx, "github: a created tag routes nowhere", "platform", platform, "delivery", delivery, "project", proj.Name, "ref", ref)
			continue
		}
		a.log.InfoContext(ctx, "github: a created tag routes to an environment; its push deploys it", "platform", platform, "delivery", delivery, "project", proj.Name, "env", route.Env.Name, "ref", ref)
	}
}

// actor is who a forge login acts as: its linked ferry user, or the system
// actor.
func (a *Adapter) actor(login string) pipeline.Actor {
	if u, ok := a.users.UserByForge(platform, login); ok && login != "" {
		return a.users.Actor(u.Name)
	}
	return pipeline.Actor{Name: SystemActor}
}

// projectsOf returns the configured projects whose repo is r.
func (a *Adapter) projectsOf(r forge.Repo) []pipeline.Project {
	names := map[string]bool{}
	for _, u := range []string{r.CloneURL, r.SSHURL, r.HTMLURL} {
		if u != "" {
			names[repoKey(u)] = true
		}
	}
	var out []pipeline.Project
	for _, p := range a.engine.Projects() {
		k := repoKey(p.Repo)
		if names[k] || (r.FullName != "" && strings.EqualFold(k, r.FullName)) {
			out = append(out, p)
		}
	}
	return out
}

// repoKey writes a repository address one way: host/owner/name, lower case,
// whether it was an https, ssh or scp-like git URL; owner/name stays so.
func repoKey(u string) string { return strings.ToLower(repoPath(u)) }

// repoPath is repoKey with the case kept, for calling the API.
func repoPath(u string) string {
	s := strings.TrimSpace(u)
	if i := strings.Index(strings.ToLower(s), "://"); i >= 0 {
		s = s[i+3:]
		if at := strings.LastIndex(strings.SplitN(s, "/", 2)[0], "@"); at >= 0 {
			s = s[at+1:]
		}
	} else if at := strings.Index(s, "@"); at >= 0 && strings.Contains(s, ":") {
		s = strings.Replace(s[at+1:], ":", "/", 1)
	}
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
	return s
}
