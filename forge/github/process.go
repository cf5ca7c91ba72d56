package github

import (
	"bytes"
	"context"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// handle processes a delivery from the inbox and says how it went.
func (a *Adapter) handle(ctx context.Context, d pipeline.Delivery) string {
	// A delivery about a repository no project deploys changes nothing; it
	// is told by its repository alone, without decoding the rest (an App
	// installed on a whole organization hears of every repository in it).
	if r, ok := repositoryOf(d.Event, d.Body); ok && len(a.core.ProjectsOf(r)) == 0 {
		return "ignored: no project deploys " + r.FullName
	}
	ev, err := gh.ParseWebHook(d.Event, d.Body)
	if err != nil {
		a.log.WarnContext(ctx, "github: unreadable delivery", "platform", platform, "delivery", d.ID, "event", d.Event, "err", err)
		return "unreadable: " + err.Error()
	}
	a.process(ctx, d.ID, ev)
	return "processed " + d.Event
}

// process acts on one stored delivery.
func (a *Adapter) process(ctx context.Context, delivery string, ev any) {
	if a.api != nil {
		if e, ok := ev.(interface {
			GetInstallation() *gh.Installation
			GetRepo() *gh.Repository
		}); ok {
			a.api.noteInstallation(ctx, e.GetRepo().GetFullName(), e.GetInstallation().GetID())
		}
		if e, ok := ev.(*gh.PushEvent); ok {
			a.api.noteInstallation(ctx, e.GetRepo().GetFullName(), e.GetInstallation().GetID())
		}
	}
	switch e := ev.(type) {
	case *gh.PushEvent:
		a.core.Push(ctx, delivery, pushOf(e))
	case *gh.CreateEvent:
		a.create(ctx, delivery, e)
	case *gh.PullRequestEvent:
		a.core.PullRequest(ctx, delivery, pullRequestOf(e))
	case *gh.PullRequestReviewEvent:
		if r, ok := reviewOf(e); ok {
			a.core.Review(ctx, delivery, r)
		}
	case *gh.IssueCommentEvent:
		if c, ok := commentOf(e); ok {
			a.core.Comment(ctx, delivery, c)
		}
	default:
		a.log.InfoContext(ctx, "github: stored an event ferry does not act on yet", "platform", platform, "delivery", delivery)
	}
}

// pushOf normalizes a push event.
func pushOf(e *gh.PushEvent) forge.Push {
	r := e.GetRepo()
	return forge.Push{
		Repo: forge.Repo{FullName: r.GetFullName(), CloneURL: r.GetCloneURL(), SSHURL: r.GetSSHURL(), HTMLURL: r.GetHTMLURL()},
		Ref:  e.GetRef(), Before: e.GetBefore(), After: e.GetAfter(), Deleted: e.GetDeleted(),
		Pusher: pusherOf(e),
	}
}

// pusherOf is the login of whoever pushed: the sender, or failing that the
// pusher's name, which on github.com is the login.
func pusherOf(e *gh.PushEvent) string {
	if l := e.GetSender().GetLogin(); l != "" {
		return l
	}
	return e.GetPusher().GetName()
}

// repoOf names the repository of an event carrying a gh.Repository.
func repoOf(r *gh.Repository) forge.Repo {
	return forge.Repo{FullName: r.GetFullName(), CloneURL: r.GetCloneURL(), SSHURL: r.GetSSHURL(), HTMLURL: r.GetHTMLURL()}
}

// repoScoped are the events ferry handles whose payload names, at its top
// level, the one repository they are about.
var repoScoped = map[string]bool{"push": true, "create": true, "pull_request": true, "issue_comment": true, "pull_request_review": true}

var repositoryKey = []byte(`"repository"`)

// repoKeys are the keys of a repository that name it, in forge.Repo's order.
var repoKeys = []string{"full_name", "clone_url", "ssh_url", "html_url"}

// repositoryOf reads only the repository a delivery is about, without
// decoding the rest of its body: the value of its one "repository" key. A
// "repository" followed by a colon is a key (in a string, a quote is
// escaped), and the keys are GitHub's, under its signature. ok is false
// for other events, for a body with no such key or several (decoded in
// full instead), and for one that is not JSON, which ParseWebHook reports.
func repositoryOf(event string, body []byte) (forge.Repo, bool) {
	if !repoScoped[event] {
		return forge.Repo{}, false
	}
	at := -1
	for i := 0; ; {
		j := bytes.Index(body[i:], repositoryKey)
		if j < 0 {
			break
		}
		i += j + len(repositoryKey)
		rest := bytes.TrimLeft(body[i:], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			if at >= 0 {
				return forge.Repo{}, false
			}
			at = len(body) - len(rest) + 1
		}
	}
	if at < 0 {
		return forge.Repo{}, false
	}
	var r [4]string
	if !skimStrings(body[at:], repoKeys, r[:]) || r[0] == "" {
		return forge.Repo{}, false
	}
	return forge.Repo{FullName: r[0], CloneURL: r[1], SSHURL: r[2], HTMLURL: r[3]}, true
}
