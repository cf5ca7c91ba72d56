package gitlab

import (
	"context"
	"encoding/json"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/ferrybot/ferry/pipeline"
)

// skim is the little of a delivery that says whether ferry acts on it:
// the project it is about and, for a note, what the note is on. Decoding
// into it allocates nothing for the rest of the body.
type skim struct {
	Project struct {
		PathWithNamespace string `json:"path_with_namespace"`
		GitHTTPURL        string `json:"git_http_url"`
		GitSSHURL         string `json:"git_ssh_url"`
		WebURL            string `json:"web_url"`
	} `json:"project"`
	ObjectAttributes struct {
		NoteableType string `json:"noteable_type"`
	} `json:"object_attributes"`
}

// handle processes a delivery from the inbox and says how it went. A
// delivery about a project no project of ferry's deploys, or a note on
// anything but a merge request (a group's webhook hears of every project
// and issue in it), is told by a skim of its body, without the SDK's
// decoding of the rest.
func (a *Adapter) handle(ctx context.Context, d pipeline.Delivery) string {
	var s skim
	if err := json.Unmarshal(d.Body, &s); err != nil {
		a.log.WarnContext(ctx, "gitlab: unreadable delivery", "platform", platform, "delivery", d.ID, "event", d.Event, "err", err)
		return "unreadable: " + err.Error()
	}
	p := s.Project
	if r := repoOf(p.PathWithNamespace, p.GitHTTPURL, p.GitSSHURL, p.WebURL); len(a.core.ProjectsOf(r)) == 0 {
		return "ignored: no project deploys " + r.FullName
	}
	if gitlab.EventType(d.Event) == gitlab.EventTypeNote && s.ObjectAttributes.NoteableType != "MergeRequest" {
		return "ignored: a note on " + s.ObjectAttributes.NoteableType
	}
	ev, err := gitlab.ParseWebhook(gitlab.EventType(d.Event), d.Body)
	if err != nil {
		a.log.WarnContext(ctx, "gitlab: unreadable delivery", "platform", platform, "delivery", d.ID, "event", d.Event, "err", err)
		return "unreadable: " + err.Error()
	}
	a.process(ctx, d.ID, ev)
	return "processed " + d.Event
}

// process acts on one stored delivery.
func (a *Adapter) process(ctx context.Context, delivery string, ev any) {
	switch e := ev.(type) {
	case *gitlab.PushEvent:
		a.core.Push(ctx, delivery, pushOf(e))
	case *gitlab.TagEvent:
		a.core.Push(ctx, delivery, tagPushOf(e))
	case *gitlab.MergeEvent:
		if r, ok := reviewOf(e); ok {
			a.core.Review(ctx, delivery, r)
			return
		}
		for _, pr := range pullRequestsOf(e) {
			a.core.PullRequest(ctx, delivery, pr)
		}
	case *gitlab.MergeCommentEvent:
		if c, ok := commentOf(e); ok {
			a.core.Comment(ctx, delivery, c)
		}
	default:
		a.log.InfoContext(ctx, "gitlab: stored an event ferry does not act on", "platform", platform, "delivery", delivery)
	}
}
