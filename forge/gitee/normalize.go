package gitee

import (
	"strings"

	"github.com/ferrybot/ferry/forge"
)

// The parts of Gitee's payloads ferry reads. Gitee writes a repository
// under repository and again under project; a user with login, name and
// username; a pull request as API v5 does.
type (
	hookRepo struct {
		FullName          string `json:"full_name"`
		PathWithNamespace string `json:"path_with_namespace"`
		CloneURL          string `json:"clone_url"`
		GitHTTPURL        string `json:"git_http_url"`
		SSHURL            string `json:"ssh_url"`
		GitSSHURL         string `json:"git_ssh_url"`
		HTMLURL           string `json:"html_url"`
	}
	hookUser struct {
		ID       int64  `json:"id"`
		Login    string `json:"login"`
		Username string `json:"username"`
		UserName string `json:"user_name"`
	}
	hookLabel struct {
		Name string `json:"name"`
	}
	hookBranch struct {
		Ref  string    `json:"ref"`
		SHA  string    `json:"sha"`
		Repo *hookRepo `json:"repo"`
	}
	hookPR struct {
		Number int         `json:"number"`
		State  string      `json:"state"` // open, closed, merged
		Merged bool        `json:"merged"`
		Head   hookBranch  `json:"head"`
		Base   hookBranch  `json:"base"`
		Labels []hookLabel `json:"labels"`
	}

	// pushHook is a Push Hook or a Tag Push Hook.
	pushHook struct {
		Ref        string    `json:"ref"`
		Before     string    `json:"before"`
		After      string    `json:"after"`
		Deleted    bool      `json:"deleted"`
		Repository *hookRepo `json:"repository"`
		Project    *hookRepo `json:"project"`
		Pusher     *hookUser `json:"pusher"`
		Sender     *hookUser `json:"sender"`
	}

	// mergeRequestHook is a Merge Request Hook: an event on a pull request.
	mergeRequestHook struct {
		Action      string    `json:"action"`      // open, update, close, merge, …
		ActionDesc  string    `json:"action_desc"` // with update: source_branch_changed, update_label, …
		Number      int       `json:"number"`
		State       string    `json:"state"`
		PullRequest *hookPR   `json:"pull_request"`
		Repository  *hookRepo `json:"repository"`
		Project     *hookRepo `json:"project"`
		Sender      *hookUser `json:"sender"`
		UpdatedBy   *hookUser `json:"updated_by"`
	}

	// noteHook is a Note Hook: a comment on a pull request, an issue or a
	// commit.
	noteHook struct {
		Action       string `json:"action"`        // comment, edited, deleted
		NoteableType string `json:"noteable_type"` // PullRequest, Issue, Commit
		Comment      *struct {
			ID   int64     `json:"id"`
			Body string    `json:"body"`
			User *hookUser `json:"user"`
		} `json:"comment"`
		PullRequest *hookPR   `json:"pull_request"`
		Repository  *hookRepo `json:"repository"`
		Project     *hookRepo `json:"project"`
		Sender      *hookUser `json:"sender"`
	}
)

// repo names a repository as forge does, from either of the objects a
// payload writes it in.
func repo(rs ...*hookRepo) forge.Repo {
	for _, r := range rs {
		if r == nil {
			continue
		}
		out := forge.Repo{FullName: first(r.PathWithNamespace, r.FullName), CloneURL: first(r.CloneURL, r.GitHTTPURL),
			SSHURL: first(r.SSHURL, r.GitSSHURL), HTMLURL: r.HTMLURL}
		if out.FullName != "" {
			return out
		}
	}
	return forge.Repo{}
}

// user is a Gitee user as forge names it: by login, which older payloads
// write as username or user_name.
func user(us ...*hookUser) forge.User {
	for _, u := range us {
		if u == nil {
			continue
		}
		if login := first(u.Login, u.Username, u.UserName); login != "" {
			return forge.User{Login: login, ID: u.ID}
		}
	}
	return forge.User{}
}

// first is the first of ss that is not empty.
func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// zeroSHA is the commit of a ref that was created or deleted.
const zeroSHA = "0000000000000000000000000000000000000000"

// pushOf normalizes a Push Hook or Tag Push Hook; the pusher is the
// sender, or failing that the pusher's login.
func pushOf(e *pushHook) forge.Push {
	return forge.Push{
		Repo: repo(e.Repository, e.Project), Ref: e.Ref, Before: e.Before, After: e.After,
		Deleted: e.Deleted || e.After == zeroSHA, Pusher: user(e.Sender, e.Pusher).Login,
	}
}

// labelsOf are the names of a pull request's labels.
func labelsOf(pr *hookPR) []string {
	out := []string{}
	for _, l := range pr.Labels {
		if l.Name != "" {
			out = append(out, l.Name)
		}
	}
	return out
}

// pullRequestOf normalizes a pull request, as a hook or API v5 writes it,
// for action; one without a pull request (not Gitee's, but signed) has no
// head and no labels.
func pullRequestOf(r forge.Repo, pr *hookPR, action forge.PullRequestAction, sender forge.User) forge.PullRequest {
	if pr == nil {
		pr = &hookPR{}
	}
	out := forge.PullRequest{
		Repo: r, Number: pr.Number, Action: action,
		Head: pr.Head.Ref, HeadSHA: pr.Head.SHA, Base: pr.Base.Ref,
		Merged: pr.Merged || pr.State == "merged", Labels: labelsOf(pr), Sender: sender, Open: pr.State == "open",
	}
	if pr.Head.Repo != nil {
		out.HeadRepo = repo(pr.Head.Repo).FullName
	}
	return out
}

// actionOf is what a Merge Request Hook's action means to ferry; ok is
// false for the actions it does not act on by themselves (assign, test,
// approved: see reviewOf, …). An update is a new head only when its source branch
// changed; any update may have changed the labels (see labelEvents).
func actionOf(e *mergeRequestHook) (forge.PullRequestAction, bool) {
	switch strings.ToLower(e.Action) {
	case "open":
		return forge.PROpened, true
	case "reopen":
		return forge.PRReopened, true
	case "close", "merge":
		return forge.PRClosed, true
	case "update":
		if e.ActionDesc == "source_branch_changed" {
			return forge.PRUpdated, true
		}
	}
	return "", false
}

// reviewOf normalizes an approval of an open pull request (action
// approved: the sender passed the review) as an approving review of its
// head commit; ok is false for any other event.
func reviewOf(r forge.Repo, e *mergeRequestHook) (forge.Review, bool) {
	pr := e.PullRequest
	if !strings.EqualFold(e.Action, "approved") || pr == nil || pr.State != "open" {
		return forge.Review{}, false
	}
	n := pr.Number
	if n == 0 {
		n = e.Number
	}
	return forge.Review{
		Repo: r, Number: n, Head: pr.Head.Ref, HeadSHA: pr.Head.SHA,
		State: forge.ReviewApproved, Reviewer: user(e.Sender, e.UpdatedBy),
	}, true
}

// labelChange is the action_desc of an update that changed the labels.
const labelChange = "update_label"

// commentOf normalizes a Note Hook; ok is false unless it is a new comment
// on a pull request.
func commentOf(e *noteHook) (forge.Comment, bool) {
	if e.Action != "comment" || e.NoteableType != "PullRequest" || e.PullRequest == nil || e.Comment == nil {
		return forge.Comment{}, false
	}
	return forge.Comment{
		Repo: repo(e.Repository, e.Project), Number: e.PullRequest.Number, ID: e.Comment.ID,
		Body: e.Comment.Body, Author: user(e.Comment.User, e.Sender), Open: e.PullRequest.State == "open",
	}, true
}
