package gitee

import (
	"maps"
	"testing"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/gitee/fakegitee"
	"github.com/ferrybot/ferry/pipeline"
)

const (
	note       = "Note Hook"
	permission = "GET /api/v5/repos/kit101/drone-yml-test/collaborators/kit101/permission"
)

// prComment is the real comment on pull request 7 with its body and the
// pull request's state replaced.
func prComment(t *testing.T, body, state string) []byte {
	t.Helper()
	return edit(t, "note_hooks.pull_request-comment.json", map[string]any{"comment.body": body, "note": body, "pull_request.state": state})
}

func TestCommentCommands(t *testing.T) {
	cases := []struct {
		name       string
		users      *config.Config
		permission string
		body       string
		state      string
		deployed   bool
	}{
		{"comment-deploy", linked(), "push", "/ferry deploy staging", "open", true},
		{"comment-deploy-admin", linked(), "admin", "/ferry deploy staging", "open", true},
		{"comment-closed-pr", linked(), "admin", "/ferry deploy staging", "closed", false},
		{"comment-unlinked-writer", nil, "write", "/ferry deploy staging", "open", false},
		{"comment-not-a-command", linked(), "push", "/ferry deploy", "open", false},
		{"comment-no-environment", linked(), "push", "/ferry deploy nowhere", "open", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fg := fakegitee.New(t, apiToken)
			fg.Permissions[login] = c.permission
			fg.PRs[7] = fakegitee.PR{State: c.state, HeadRef: "feat-2", HeadSHA: updated}
			f := newFixture(t, c.users, fg)
			f.deliver(note, prComment(t, c.body, c.state))
			f.drain()
			cs := fg.Comments()
			if len(cs) != 1 || cs[0].Repo != repoName || cs[0].Number != 7 {
				t.Fatalf("comments = %+v, want one on %s#7", cs, repoName)
			}
			name := c.name
			if name == "comment-deploy-admin" {
				name = "comment-deploy" // the same answer
			}
			golden(t, name, cs[0].Body)
			ok := notDenied(f.deploys())
			if !c.deployed {
				if len(ok) != 0 {
					t.Errorf("deploys = %+v, want none", ok)
				}
				return
			}
			if len(ok) != 1 || ok[0].Env != "staging" || ok[0].Ref != "feat-2" || ok[0].Commit != updated || ok[0].Requester != "kit" ||
				ok[0].State != pipeline.StateSucceeded {
				t.Errorf("deploys = %+v, want feat-2 at %s to staging by kit, succeeded", ok, updated)
			}
		})
	}
}

// TestCommentsFromReadersAreNotAnswered: a commenter who may only read is
// asked about once; Gitee has no reactions, so their comments, whatever
// they say, get nothing at all: no answer repeating their text, no
// deploy, no other call.
func TestCommentsFromReadersAreNotAnswered(t *testing.T) {
	for _, perm := range []string{"read", ""} { // "": not a member (404)
		t.Run("permission "+perm, func(t *testing.T) {
			fg := fakegitee.New(t, apiToken)
			if perm != "" {
				fg.Permissions[login] = perm
			}
			fg.PRs[7] = fakegitee.PR{State: "open", HeadRef: "feat-2", HeadSHA: updated}
			f := newFixture(t, linked(), fg)
			bodies := []string{"/ferry deploy staging", "/ferry help", "/ferry <img src=x> free crypto at example.com", "/ferry deploy nowhere"}
			for _, body := range bodies {
				f.deliver(note, prComment(t, body, "open"))
			}
			f.drain()
			if cs := fg.Comments(); len(cs) != 0 {
				t.Errorf("answered a reader: %+v", cs)
			}
			got := map[string]int{}
			for _, c := range fg.Calls() {
				got[c]++
			}
			if want := map[string]int{permission: 1}; !maps.Equal(got, want) {
				t.Errorf("calls to Gitee = %v, want %v", got, want)
			}
			if ds := f.deploys(); len(ds) != 0 {
				t.Errorf("deploys = %+v", ds)
			}
		})
	}
}

// TestCommentsNotForFerry cost no call: a comment not addressed to ferry,
// an edited one, and one on an issue.
func TestCommentsNotForFerry(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	fg.Permissions[login] = "admin"
	f := newFixture(t, linked(), fg)
	f.deliver(note, payload(t, "note_hooks.pull_request-comment.json")) // "comment"
	f.deliver(note, edit(t, "note_hooks.pull_request-comment.json", map[string]any{"comment.body": "/ferry deploy staging", "action": "edited"}))
	f.deliver(note, edit(t, "note_hooks.pull_request-comment.json", map[string]any{"comment.body": "/ferry deploy staging", "noteable_type": "Issue"}))
	f.drain()
	if calls := fg.Calls(); len(calls) != 0 {
		t.Errorf("ferry called Gitee for comments not addressed to it: %v", calls)
	}
	if ds := f.deploys(); len(ds) != 0 {
		t.Errorf("deploys = %+v", ds)
	}
}

// TestCommentAnswersEditOneComment: ferry's answers on a pull request are
// one comment, found by its marker through the pages of the pull
// request's comments, and edited.
func TestCommentAnswersEditOneComment(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	fg.Permissions[login] = "push"
	fg.PRs[7] = fakegitee.PR{State: "open", HeadRef: "feat-2", HeadSHA: updated}
	fg.PerPage = 1 // fewer than ferry asks for: Gitee's total_page says how many pages
	fg.AddComment(repoName, 7, "first")
	fg.AddComment(repoName, 7, "<!-- not ferry -->")
	ours := fg.AddComment(repoName, 7, "<!-- ferry -->\n@kit101 an answer of a ferry before")
	fg.AddComment(repoName, 7, "lgtm")
	f := newFixture(t, linked(), fg)
	f.deliver(note, prComment(t, "/ferry help", "open"))
	f.until("the answer", func() bool {
		return fg.Comments()[ours-1].Body != "<!-- ferry -->\n@kit101 an answer of a ferry before" && f.handled()
	})
	golden(t, "comment-help", fg.Comments()[ours-1].Body)
	f.deliver(note, prComment(t, "/ferry deploy staging", "open"))
	f.drain()
	cs := fg.Comments()
	if len(cs) != 4 {
		t.Fatalf("comments = %+v, want the four there were, ferry's edited", cs)
	}
	golden(t, "comment-deploy", cs[ours-1].Body)
	if n := fg.Count("GET /api/v5/repos/kit101/drone-yml-test/pulls/7/comments"); n != 3 {
		t.Errorf("listed %d pages of comments, want 3: ferry's is the third, and then its ID is kept", n)
	}
}
