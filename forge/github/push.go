package github

import (
	"context"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/pipeline"
)

// create routes a tag created on GitHub and logs where it goes: the push
// of the same tag, which GitHub also sends, deploys it.
func (a *Adapter) create(ctx context.Context, delivery string, e *gh.CreateEvent) {
	if e.GetRefType() != "tag" {
		return
	}
	ref := "refs/tags/" + e.GetRef()
	for _, proj := range a.core.ProjectsOf(repoOf(e.GetRepo())) {
		route, err := pipeline.RouteRef(proj, ref)
		if err != nil {
			a.log.InfoContext(ctx, "github: a created tag routes nowhere", "platform", platform, "delivery", delivery, "project", proj.Name, "ref", ref)
			continue
		}
		a.log.InfoContext(ctx, "github: a created tag routes to an environment; its push deploys it", "platform", platform, "delivery", delivery, "project", proj.Name, "env", route.Env.Name, "ref", ref)
	}
}
