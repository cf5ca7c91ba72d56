package gitee

import (
	"context"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
)

// NewSubscriber is the forge.Subscriber of the projects whose repository
// is on the Gitee of apiURL ("" for gitee.com): check runs and sticky
// comments; Gitee keeps no deployments.
func NewSubscriber(projects forge.Projects, apiURL string) forge.Subscriber {
	host := apiHost(apiURL)
	return forge.NewSubscriber(platform, projects, func(u string) (string, bool) { return repoOn(u, host) }, false)
}

var _ bot.Sink = (*Adapter)(nil)

// Deliver implements bot.Sink: what Gitee is owed, said through the client
// (forge.Core.Deliver). What Gitee cannot do is not owed.
func (a *Adapter) Deliver(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	return a.core.Deliver(ctx, o, ref)
}
