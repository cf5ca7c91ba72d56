package github

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

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
		{"no-write-permission", linkedCommenter, "read", "/ferry deploy staging", "open", 0, "confused"},
		{"closed-pr", linkedCommenter, "admin", "/ferry deploy staging", "closed", 0, "confused"},
		{"unlinked-writer", nil, "write", "/ferry deploy staging", "open", 0, "confused"},
		{"not-a-command", linkedCommenter, "write", "/ferry deploy", "open", 0, "confused"},
		{"help", nil, "read", "/ferry help", "open", 0, "rocket"},
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

func TestPermissionIsCachedBriefly(t *testing.T) {
	fg := fakegithub.New(t, apiToken)
	fg.Permissions[commenter] = "write"
	f := newFixtureWith(t, nil, fg)
	const perm = "GET /api/v3/repos/Codertocat/Hello-World/collaborators/chhsia0/permission"
	ask := func() {
		t.Helper()
		if p, err := f.adapter.permission(t.Context(), f.adapter.api, "Codertocat", "Hello-World", commenter); err != nil || p != "write" {
			t.Fatalf("permission = %q, %v", p, err)
		}
	}
	ask()
	f.clock.Advance(permTTL - time.Second)
	ask()
	if n := fg.Count(perm); n != 1 {
		t.Fatalf("two questions within a minute asked GitHub %d times, want 1", n)
	}
	f.clock.Advance(2 * time.Second)
	ask()
	if n := fg.Count(perm); n != 2 {
		t.Errorf("after the TTL GitHub was asked %d times in all, want 2", n)
	}
}
