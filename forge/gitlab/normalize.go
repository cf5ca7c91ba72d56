package gitlab

import (
	"fmt"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/ferrybot/ferry/forge"
)

// The merge request actions (object_attributes.action) ferry acts on.
const (
	actionOpen     = "open"
	actionReopen   = "reopen"
	actionUpdate   = "update"
	actionClose    = "close"
	actionMerge    = "merge"
	actionApproved = "approved" // every approval the merge request needs is given
	actionApproval = "approval" // one approval is given, more are needed
)

// stateOpened is an open merge request's state.
const stateOpened = "opened"

// repoOf names a GitLab project as forge does: its path (group/sub/name)
// and its clone and web URLs.
func repoOf(path, httpURL, sshURL, webURL string) forge.Repo {
	return forge.Repo{FullName: path, CloneURL: httpURL, SSHURL: sshURL, HTMLURL: webURL}
}

// deleted reports whether a push's after is the zero commit: the ref is
// gone.
func deleted(after string) bool { return after != "" && strings.Trim(after, "0") == "" }

// pushOf normalizes a Push Hook.
func pushOf(e *gitlab.PushEvent) forge.Push {
	p := e.Project
	return forge.Push{
		Repo: repoOf(p.PathWithNamespace, p.GitHTTPURL, p.GitSSHURL, p.WebURL),
		Ref:  e.Ref, Before: e.Before, After: e.After, Deleted: deleted(e.After), Pusher: e.UserUsername,
	}
}

// tagPushOf normalizes a Tag Push Hook: a tag pushed is a push of
// refs/tags/<tag>, whose after is the tag's commit.
func tagPushOf(e *gitlab.TagEvent) forge.Push {
	p := e.Project
	return forge.Push{
		Repo: repoOf(p.PathWithNamespace, p.GitHTTPURL, p.GitSSHURL, p.WebURL),
		Ref:  e.Ref, Before: e.Before, After: e.After, Deleted: deleted(e.After), Pusher: e.UserUsername,
	}
}

// mergeRequestOf is what every event of a Merge Request Hook says of the
// merge request, before its action.
func mergeRequestOf(e *gitlab.MergeEvent) forge.PullRequest {
	p, oa := e.Project, e.ObjectAttributes
	pr := forge.PullRequest{
		Repo:   repoOf(p.PathWithNamespace, p.GitHTTPURL, p.GitSSHURL, p.WebURL),
		Number: int(oa.IID), Head: oa.SourceBranch, HeadSHA: oa.LastCommit.ID, Base: oa.TargetBranch,
		Sender: userOf(e.User), Open: oa.State == stateOpened,
	}
	pr.HeadRepo = headRepo(pr.Repo.FullName, oa.SourceProjectID, oa.TargetProjectID, oa.Source)
	labels := e.Labels
	if labels == nil {
		labels = oa.Labels
	}
	pr.Labels = titles(labels)
	return pr
}

// headRepo is the path of a merge request's source project: the target's
// when they are one project, the fork's path otherwise, or, when the
// event does not name it, a name that is not the target's, so that the
// fork is refused.
func headRepo(target string, source, targetID int64, src *gitlab.Repository) string {
	switch {
	case source == 0 || source == targetID:
		return target
	case src != nil && src.PathWithNamespace != "" && !strings.EqualFold(src.PathWithNamespace, target):
		return src.PathWithNamespace
	}
	return fmt.Sprintf("project %d", source)
}

// pullRequestsOf normalizes a Merge Request Hook into the events forge
// acts on: opened, reopened, closed or merged, new commits (an update
// with an oldrev), and one labeled or unlabeled event for each label an
// update added or removed (changes.labels). An update with new commits is
// that alone: it deploys with the labels the merge request has now.
// Other actions and updates (a title, a description) are none.
func pullRequestsOf(e *gitlab.MergeEvent) []forge.PullRequest {
	pr := mergeRequestOf(e)
	oa := e.ObjectAttributes
	one := func(a forge.PullRequestAction) []forge.PullRequest {
		pr.Action = a
		return []forge.PullRequest{pr}
	}
	switch oa.Action {
	case actionOpen:
		return one(forge.PROpened)
	case actionReopen:
		return one(forge.PRReopened)
	case actionClose:
		return one(forge.PRClosed)
	case actionMerge:
		pr.Merged = true
		return one(forge.PRClosed)
	case actionUpdate:
		if oa.OldRev != "" {
			return one(forge.PRUpdated)
		}
	default:
		return nil
	}
	added, removed := labelChanges(e.Changes.Labels)
	var out []forge.PullRequest
	for _, l := range added {
		ev := pr
		ev.Action, ev.Label = forge.PRLabeled, l
		out = append(out, ev)
	}
	for _, l := range removed {
		ev := pr
		ev.Action, ev.Label = forge.PRUnlabeled, l
		out = append(out, ev)
	}
	return out
}

// labelChanges are the labels an update added (current, not previous)
// and removed (previous, not current), in their order.
func labelChanges(c gitlab.EventChangesLabels) (added, removed []string) {
	prev, cur := titles(c.Previous), titles(c.Current)
	has := func(ls []string, l string) bool {
		for _, x := range ls {
			if x == l {
				return true
			}
		}
		return false
	}
	for _, l := range cur {
		if !has(prev, l) {
			added = append(added, l)
		}
	}
	for _, l := range prev {
		if !has(cur, l) {
			removed = append(removed, l)
		}
	}
	return added, removed
}

// titles are the names of labels.
func titles(ls []*gitlab.EventLabel) []string {
	var out []string
	for _, l := range ls {
		if l != nil {
			out = append(out, l.Title)
		}
	}
	return out
}

// reviewOf normalizes an approval of an open merge request (action
// approved, or approval when more are needed) as an approving review of
// its head commit; ok is false for any other event.
func reviewOf(e *gitlab.MergeEvent) (forge.Review, bool) {
	oa := e.ObjectAttributes
	if oa.Action != actionApproved && oa.Action != actionApproval || oa.State != stateOpened {
		return forge.Review{}, false
	}
	p := e.Project
	return forge.Review{
		Repo:   repoOf(p.PathWithNamespace, p.GitHTTPURL, p.GitSSHURL, p.WebURL),
		Number: int(oa.IID), Head: oa.SourceBranch, HeadSHA: oa.LastCommit.ID,
		State: forge.ReviewApproved, Reviewer: userOf(e.User),
	}, true
}

// commentOf normalizes a Note Hook; ok is false unless it is a new note,
// written by a person, on a merge request.
func commentOf(e *gitlab.MergeCommentEvent) (forge.Comment, bool) {
	oa := e.ObjectAttributes
	if oa.NoteableType != "MergeRequest" || oa.System || oa.Action != "" && oa.Action != gitlab.CommentEventActionCreate {
		return forge.Comment{}, false
	}
	p := e.Project
	author := userOf(e.User)
	if oa.AuthorID != 0 { // a Note Hook's user has no id
		author.ID = oa.AuthorID
	}
	return forge.Comment{
		Repo:   repoOf(p.PathWithNamespace, p.GitHTTPURL, p.GitSSHURL, p.WebURL),
		Number: int(e.MergeRequest.IID), ID: oa.ID, Body: oa.Note, Author: author,
		Open: e.MergeRequest.State == stateOpened,
	}, true
}

// userOf is a GitLab user as forge names it: its username, and its ID
// when the event gives one.
func userOf(u *gitlab.EventUser) forge.User {
	if u == nil {
		return forge.User{}
	}
	return forge.User{Login: u.Username, ID: u.ID}
}
