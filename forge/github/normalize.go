package github

import (
	"strings"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/forge"
)

// pullRequestOf normalizes a pull request event; one without its pull
// request (not GitHub's, but signed) has no labels.
func pullRequestOf(e *gh.PullRequestEvent) forge.PullRequest {
	pr := e.GetPullRequest()
	if pr == nil {
		pr = &gh.PullRequest{}
	}
	out := forge.PullRequest{
		Repo: repoOf(e.GetRepo()), Number: e.GetNumber(), Action: forge.PullRequestAction(e.GetAction()),
		Head: pr.GetHead().GetRef(), HeadRepo: pr.GetHead().GetRepo().GetFullName(), HeadSHA: pr.GetHead().GetSHA(),
		Base: pr.GetBase().GetRef(), Merged: pr.GetMerged(), Label: e.GetLabel().GetName(),
		Sender: userOf(e.GetSender()), Open: pr.GetState() == "open",
	}
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

// commentOf normalizes a comment event; ok is false unless it is a new
// comment on a pull request.
func commentOf(e *gh.IssueCommentEvent) (forge.Comment, bool) {
	if e.GetAction() != "created" || !e.GetIssue().IsPullRequest() {
		return forge.Comment{}, false
	}
	return forge.Comment{
		Repo: repoOf(e.GetRepo()), Number: e.GetIssue().GetNumber(), ID: e.GetComment().GetID(),
		Body: e.GetComment().GetBody(), Author: userOf(e.GetComment().GetUser()),
		Open: e.GetIssue().GetState() == "open",
	}, true
}

// reviewOf normalizes a review event; ok is false unless a review was
// submitted on an open pull request.
func reviewOf(e *gh.PullRequestReviewEvent) (forge.Review, bool) {
	if e.GetAction() != "submitted" || e.GetPullRequest().GetState() != "open" {
		return forge.Review{}, false
	}
	return forge.Review{
		Repo: repoOf(e.GetRepo()), Number: e.GetPullRequest().GetNumber(),
		Head: e.GetPullRequest().GetHead().GetRef(), HeadSHA: e.GetPullRequest().GetHead().GetSHA(),
		State: strings.ToLower(e.GetReview().GetState()), Reviewer: userOf(e.GetReview().GetUser()),
	}, true
}

// userOf is a GitHub user as forge names it.
func userOf(u *gh.User) forge.User { return forge.User{Login: u.GetLogin(), ID: u.GetID()} }
