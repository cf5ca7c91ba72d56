package gitlab

import (
	"context"
	"net"
	"strings"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
)

// NewSubscriber is the forge.Subscriber of the projects whose repository
// is on the GitLab at apiURL ("" for gitlab.com): commit statuses,
// deployments and sticky notes.
func NewSubscriber(projects forge.Projects, apiURL string) forge.Subscriber {
	inst := instanceOf(apiURL)
	return forge.NewSubscriber(platform, projects, func(u string) (string, bool) { return repoOn(u, inst) }, true)
}

var _ bot.Sink = (*Adapter)(nil)

// Deliver implements bot.Sink: what GitLab is owed, said through the
// client (forge.Core.Deliver).
func (a *Adapter) Deliver(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	return a.core.Deliver(ctx, o, ref)
}

// instance is where a GitLab is: its host, lower case and without a port
// (its SSH URLs may name another port than its web's), and the path it is
// served under, "" unless it is installed under a relative URL
// (https://example.com/gitlab).
type instance struct {
	host, prefix string
}

// instanceOf is the instance of an API URL, with or without /api/v4;
// gitlab.com for "".
func instanceOf(apiURL string) instance {
	if apiURL == "" {
		return instance{host: "gitlab.com"}
	}
	p := strings.TrimSuffix(strings.TrimSuffix(forge.RepoKey(apiURL), "/"), "/api/v4")
	host, prefix, _ := strings.Cut(p, "/")
	return instance{host: hostOnly(host), prefix: strings.Trim(prefix, "/")}
}

// hostOnly is a host without its port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// repoOn is the path (group/sub/name) of a repository when it is on the
// GitLab instance, by its https, ssh or scp-like URL, or when it is
// written as a bare path, group/name, which is taken to be on whichever
// GitLab ferry calls.
func repoOn(repoURL string, inst instance) (string, bool) {
	p := forge.RepoPath(repoURL)
	first, rest, _ := strings.Cut(p, "/")
	url := strings.Contains(repoURL, "://") || strings.Contains(repoURL, "@")
	switch {
	case url && strings.EqualFold(hostOnly(first), inst.host):
		if web := strings.Contains(repoURL, "://") && !strings.HasPrefix(strings.ToLower(repoURL), "ssh://"); web && inst.prefix != "" {
			r, ok := strings.CutPrefix(strings.ToLower(rest), inst.prefix+"/")
			if !ok {
				return "", false
			}
			rest = rest[len(rest)-len(r):]
		}
		return rest, validPath(rest)
	case !url && !strings.ContainsAny(first, ".:") && validPath(p):
		return p, true
	}
	return "", false
}

// validPath reports whether p is a project's path: a namespace and a
// name, each part non-empty.
func validPath(p string) bool {
	parts := strings.Split(p, "/")
	if len(parts) < 2 {
		return false
	}
	for _, s := range parts {
		if s == "" {
			return false
		}
	}
	return true
}
