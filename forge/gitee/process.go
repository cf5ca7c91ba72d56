package gitee

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// handle processes a delivery from the inbox and says how it went. A
// delivery about a repository no project deploys changes nothing.
func (a *Adapter) handle(ctx context.Context, d pipeline.Delivery) string {
	switch d.Event {
	case "Push Hook", "Tag Push Hook":
		var e pushHook
		if err := json.Unmarshal(d.Body, &e); err != nil {
			return a.unreadable(ctx, d, err)
		}
		p := pushOf(&e)
		if len(a.core.ProjectsOf(p.Repo)) == 0 {
			return "ignored: no project deploys " + p.Repo.FullName
		}
		a.core.Push(ctx, d.ID, p)
	case "Merge Request Hook":
		var e mergeRequestHook
		if err := json.Unmarshal(d.Body, &e); err != nil {
			return a.unreadable(ctx, d, err)
		}
		r := repo(e.Repository, e.Project)
		if len(a.core.ProjectsOf(r)) == 0 {
			return "ignored: no project deploys " + r.FullName
		}
		if rv, ok := reviewOf(r, &e); ok {
			a.core.Review(ctx, d.ID, rv)
			break
		}
		for _, pr := range a.pullRequests(ctx, r, &e) {
			a.core.PullRequest(ctx, d.ID, pr)
		}
	case "Note Hook":
		var e noteHook
		if err := json.Unmarshal(d.Body, &e); err != nil {
			return a.unreadable(ctx, d, err)
		}
		c, ok := commentOf(&e)
		if !ok {
			return "ignored: not a new comment on a pull request"
		}
		a.core.Comment(ctx, d.ID, c)
	default:
		a.log.InfoContext(ctx, "gitee: stored an event ferry does not act on", "platform", platform, "delivery", d.ID, "event", d.Event)
		return "ignored " + d.Event
	}
	return "processed " + d.Event
}

func (a *Adapter) unreadable(ctx context.Context, d pipeline.Delivery, err error) string {
	a.log.WarnContext(ctx, "gitee: unreadable delivery", "platform", platform, "delivery", d.ID, "event", d.Event, "err", err)
	return "unreadable: " + err.Error()
}

// pullRequests are the events of a Merge Request Hook, in the order the
// core takes them: what its action means, or the labels it added.
// Gitee says that an update changed the labels (action_desc update_label),
// but not which: ferry keeps the labels each pull request had when it last
// heard of it, and the new ones are added. Of a pull request it has not
// heard of before, every label counts as added by an update_label.
func (a *Adapter) pullRequests(ctx context.Context, r forge.Repo, e *mergeRequestHook) []forge.PullRequest {
	sender := user(e.Sender, e.UpdatedBy)
	var out []forge.PullRequest
	action, ok := actionOf(e)
	if ok {
		pr := pullRequestOf(r, e.PullRequest, action, sender)
		pr.Merged = pr.Merged || strings.EqualFold(e.Action, "merge")
		if pr.Number == 0 {
			pr.Number = e.Number
		}
		out = append(out, pr)
	}
	if e.PullRequest == nil {
		return out
	}
	base := pullRequestOf(r, e.PullRequest, "", sender)
	if base.Number == 0 {
		base.Number = e.Number
	}
	before, known := a.swapLabels(ctx, r, base.Number, base.Labels)
	// An opened, reopened or updated head deploys every label it has;
	// only another update is about labels.
	if ok || !strings.EqualFold(e.Action, "update") || !known && e.ActionDesc != labelChange {
		return out
	}
	for _, l := range base.Labels {
		if !slices.Contains(before, l) {
			pr := base
			pr.Action, pr.Label = forge.PRLabeled, l
			out = append(out, pr)
		}
	}
	for _, l := range before {
		if !slices.Contains(base.Labels, l) {
			pr := base
			pr.Action, pr.Label = forge.PRUnlabeled, l
			out = append(out, pr)
		}
	}
	return out
}

// labelsDest is where the labels a pull request had are kept.
func labelsDest(r forge.Repo, number int) string {
	return fmt.Sprintf("labels %s#%d", strings.ToLower(r.FullName), number)
}

// swapLabels keeps labels as those of the pull request, and returns those
// kept before; known is false when there were none kept, or they could not
// be read.
func (a *Adapter) swapLabels(ctx context.Context, r forge.Repo, number int, labels []string) (before []string, known bool) {
	a.labelsMu.Lock()
	defer a.labelsMu.Unlock()
	dest := labelsDest(r, number)
	ref, err := a.store.NoticeRef(ctx, platform, dest)
	if err != nil {
		a.log.ErrorContext(ctx, "gitee: the labels a pull request had", "platform", platform, "repo", r.FullName, "pr", number, "err", err)
	} else if ref != "" {
		known = json.Unmarshal([]byte(ref), &before) == nil
	}
	if known && slices.Equal(before, labels) {
		return before, known
	}
	b, _ := json.Marshal(labels)
	if err := a.store.PutNoticeRef(ctx, platform, dest, string(b)); err != nil {
		a.log.ErrorContext(ctx, "gitee: keep the labels of a pull request", "platform", platform, "repo", r.FullName, "pr", number, "err", err)
	}
	return before, known
}
