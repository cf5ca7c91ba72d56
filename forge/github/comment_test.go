package github

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/github/fakegithub"
	goldenfile "github.com/ferrybot/ferry/internal/golden"
	"github.com/ferrybot/ferry/pipeline"
)

// golden compares a comment ferry posted with testdata/comments/name.md, or
// rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenAt(t, filepath.Join("testdata", "comments", name+".md"), got)
}

// goldenAt compares got with the file at path, or rewrites the file with
// -update.
func goldenAt(t *testing.T, path, got string) {
	t.Helper()
	goldenfile.CheckString(t, path, got)
}

// prComment is the real comment on pull request 3, moved to the test
// project's repository, with body and the state replaced.
func prComment(t *testing.T, body, state string) []byte {
	t.Helper()
	var m, push map[string]any
	if err := json.Unmarshal(payload(t, "issue_comment.created.on-pr.json"), &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload(t, "push.branch.json"), &push); err != nil {
		t.Fatal(err)
	}
	m["repository"] = push["repository"]
	m["comment"].(map[string]any)["body"] = body
	m["issue"].(map[string]any)["state"] = state
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// commenter is the payload's commenter, chhsia0, and commentID the
// comment's ID.
const (
	commenter       = "chhsia0"
	commentID int64 = 546616131
)

func TestCommentCommands(t *testing.T) {
	linkedCommenter := &config.Config{
		Users: []pipeline.User{{Name: "chen", Forge: map[string]string{"github": commenter}}},
	}
	cases := []struct {
		name       string
		users      *config.Config
		permission string
		body       string
		state      string
		deploys    int
		done       string // the reaction after eyes
	}{
		{"deploy", linkedCommenter, "write", "/ferry deploy staging", "open", 1, "rocket"},
		{"closed-pr", linkedCommenter, "admin", "/ferry deploy staging", "closed", 0, "confused"},
		{"unlinked-writer", nil, "write", "/ferry deploy staging", "open", 0, "confused"},
		{"not-a-command", linkedCommenter, "write", "/ferry deploy", "open", 0, "confused"},
		{"help", nil, "write", "/ferry help", "open", 0, "rocket"},
		{"refused-by-engine", linkedCommenter, "write", "/ferry deploy nowhere", "open", 0, "confused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fg := fakegithub.New(t, apiToken)
			fg.Permissions[commenter] = c.permission
			fg.PRs[3] = fakegithub.PR{State: c.state, HeadRef: "master", HeadSHA: after}
			f := newFixtureWith(t, c.users, fg)
			if got := f.deliver("issue_comment", "d1", prComment(t, c.body, c.state)); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			cs := fg.Comments()
			if len(cs) != 1 || cs[0].Repo != "Codertocat/Hello-World" || cs[0].Number != 3 {
				t.Fatalf("comments = %+v, want one on Codertocat/Hello-World#3", cs)
			}
			golden(t, c.name, cs[0].Body)
			want := []fakegithub.Reaction{{CommentID: commentID, Content: "eyes"}, {CommentID: commentID, Content: c.done}}
			if got := fg.Reactions(); !slices.Equal(got, want) {
				t.Errorf("reactions = %v, want %v", got, want)
			}
			ds := f.deploys()
			if len(ds) != c.deploys {
				t.Fatalf("%d deploys, want %d: %+v", len(ds), c.deploys, ds)
			}
			if c.deploys == 1 && (ds[0].Env != "staging" || ds[0].Ref != "master" || ds[0].Requester != "chen") {
				t.Errorf("deploy = %+v, want master to staging by chen", ds[0])
			}
		})
	}
}

// TestCommentsFromReadersAreNotAnswered: a commenter without write
// permission is asked about once, and each of their comments gets one
// reaction: no answer repeating their text, whatever it says, and no other
// call to GitHub.
func TestCommentsFromReadersAreNotAnswered(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	fg.Permissions[commenter] = "read"
	fg.PRs[3] = fakegithub.PR{State: "open", HeadRef: "master", HeadSHA: after}
	f := newFixtureWith(t, nil, fg)
	bodies := []string{"/ferry deploy staging", "/ferry help", "/ferry <img src=x> free crypto at example.com", "/ferry deploy nowhere"}
	for i, body := range bodies {
		f.deliver("issue_comment", fmt.Sprint("d", i), prComment(t, body, "open"))
	}
	f.drain()
	if cs := fg.Comments(); len(cs) != 0 {
		t.Errorf("answered a reader: %+v", cs)
	}
	want := map[string]int{
		"GET /api/v3/repos/Codertocat/Hello-World/collaborators/chhsia0/permission":                      1,
		fmt.Sprintf("POST /api/v3/repos/Codertocat/Hello-World/issues/comments/%d/reactions", commentID): len(bodies),
	}
	got := map[string]int{}
	for _, c := range fg.Calls() {
		got[c]++
	}
	if !maps.Equal(got, want) {
		t.Errorf("calls to GitHub = %v, want %v", got, want)
	}
	for _, r := range fg.Reactions() {
		if r.Content != "confused" {
			t.Errorf("reaction %q to a reader's comment, want confused only", r.Content)
		}
	}
	if ds := f.deploys(); len(ds) != 0 {
		t.Errorf("deploys = %+v", ds)
	}
}

// TestCommentDeploysTheHeadOfThePullRequest: a /ferry deploy comment
// deploys the pull request's head commit, as GitHub names it when the
// comment is handled (asked once), not what its branch points at.
func TestCommentDeploysTheHeadOfThePullRequest(t *testing.T) {
	const head = "ec26c3e57ca3a959ca5aad62de7213c562f8c821" // master is at after
	fg := fakegithub.New(t, apiToken)
	fg.Permissions[commenter] = "write"
	fg.PRs[3] = fakegithub.PR{State: "open", HeadRef: "master", HeadSHA: head}
	f := newFixtureWith(t, &config.Config{Users: []pipeline.User{{Name: "chen", Forge: map[string]string{"github": commenter}}}}, fg)
	f.deliver("issue_comment", "d1", prComment(t, "/ferry deploy staging", "open"))
	f.drain()
	ds := f.deploys()
	if len(ds) != 1 || ds[0].Commit != head || ds[0].Version != "master@"+head[:7] {
		t.Fatalf("deploys = %+v, want one of %s", ds, head)
	}
	if n := fg.Count("GET /api/v3/repos/Codertocat/Hello-World/pulls/3"); n != 1 {
		t.Errorf("the pull request was read %d times, want once", n)
	}
}

func TestCommentsNotForFerry(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	f := newFixtureWith(t, nil, fg)
	f.deliver("issue_comment", "d1", prComment(t, "/build", "open"))
	f.deliver("issue_comment", "d2", payload(t, "issue_comment.created.on-pr.json")) // another repository
	f.drain()
	if calls := fg.Calls(); len(calls) != 0 {
		t.Errorf("ferry called GitHub for comments not addressed to it: %v", calls)
	}
}
