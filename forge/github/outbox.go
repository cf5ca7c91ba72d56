package github

import (
	"context"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
)

// NewSubscriber is the forge.Subscriber of the projects whose repository
// is on the GitHub at apiURL ("" for github.com): commit statuses,
// Deployments and sticky comments.
func NewSubscriber(projects forge.Projects, apiURL string) forge.Subscriber {
	host := apiHost(apiURL)
	return forge.NewSubscriber(platform, projects, func(u string) (string, bool) { return repoOn(u, host) }, true)
}

var _ bot.Sink = (*Adapter)(nil)

// Deliver implements bot.Sink: what GitHub is owed, said through the
// client (forge.Core.Deliver).
func (a *Adapter) Deliver(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	return a.core.Deliver(ctx, o, ref)
}
