package gitlab

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge/gitlab/fakegitlab"
	"github.com/ferrybot/ferry/pipeline"
)

// note is the real note on merge request 2 of the test project, with its
// text and the merge request's state replaced.
func note(t testing.TB, text, state string) []byte {
	return edited(t, "note.merge_request.command.json", func(m map[string]any) {
		attrs(m)["note"] = text
		m["merge_request"].(map[string]any)["state"] = state
	})
}

func TestNoteCommands(t *testing.T) {
	cases := []struct {
		name    string
		users   *config.Config
		role    int
		text    string
		state   string
		deploys int
		done    string // the emoji after eyes
	}{
		{"deploy", linked(), fakegitlab.Developer, "/ferry deploy staging", "opened", 1, "rocket"},
		{"closed-mr", linked(), fakegitlab.Maintainer, "/ferry deploy staging", "closed", 0, "confused"},
		{"unlinked-developer", nil, fakegitlab.Developer, "/ferry deploy staging", "opened", 0, "confused"},
		{"refused-by-engine", linked(), fakegitlab.Owner, "/ferry deploy nowhere", "opened", 0, "confused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fg := withFake(t)
			fg.SetMember(commenter, c.role)
			fg.SetMR(noteMR, fakegitlab.MR{State: c.state, SourceBranch: "master", TargetBranch: "main", SHA: pushed})
			f := newFixture(t, c.users, fg)
			if got := f.deliver("Note Hook", "k1", note(t, c.text, c.state)); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			f.drain()
			ns := fg.Notes()
			if len(ns) != 1 || ns[0].Project != projectPath || ns[0].MR != noteMR {
				t.Fatalf("notes = %+v, want one on %s!%d", ns, projectPath, noteMR)
			}
			golden(t, "note-"+c.name, ns[0].Body)
			want := []fakegitlab.Award{{NoteID: noteID, Name: "eyes"}, {NoteID: noteID, Name: c.done}}
			if got := fg.Awards(); !slices.Equal(got, want) {
				t.Errorf("awards = %v, want %v", got, want)
			}
			ds := f.deploys()
			if len(ds) != c.deploys {
				t.Fatalf("%d deploys, want %d: %+v", len(ds), c.deploys, ds)
			}
			if c.deploys == 1 && (ds[0].Env != "staging" || ds[0].Ref != "master" || ds[0].Commit != pushed || ds[0].Requester != "luke") {
				t.Errorf("deploy = %+v, want master at %s to staging by luke", ds[0], pushed)
			}
		})
	}
}

// TestNotesFromReportersAreNotAnswered: a commenter below the Developer
// role is asked about once, and each of their notes gets one confused
// emoji: no note repeating their text, whatever it says, no deploy, and no
// other call to GitLab.
func TestNotesFromReportersAreNotAnswered(t *testing.T) {
	for _, role := range []int{fakegitlab.Reporter, 0} {
		t.Run(fmt.Sprint("access level ", role), func(t *testing.T) {
			fg := withFake(t)
			fg.SetMember(commenter, role)
			fg.SetMR(noteMR, fakegitlab.MR{State: "opened", SourceBranch: "master", SHA: pushed})
			f := newFixture(t, linked(), fg)
			texts := []string{"/ferry deploy staging", "/ferry help", "/ferry <img src=x> free crypto at example.com"}
			for i, text := range texts {
				f.deliver("Note Hook", fmt.Sprint("k", i), edited(t, "note.merge_request.command.json", func(m map[string]any) {
					attrs(m)["note"], attrs(m)["id"] = text, noteID+i
				}))
			}
			f.drain()
			if ns := fg.Notes(); len(ns) != 0 {
				t.Errorf("answered a reporter: %+v", ns)
			}
			var want []fakegitlab.Award
			for i := range texts {
				want = append(want, fakegitlab.Award{NoteID: int64(noteID + i), Name: "confused"})
			}
			got := fg.Awards()
			slices.SortFunc(got, func(a, b fakegitlab.Award) int { return int(a.NoteID - b.NoteID) })
			if !slices.Equal(got, want) {
				t.Errorf("awards = %v, want %v", got, want)
			}
			wantCalls := map[string]int{api("GET", fmt.Sprint("/members/all/", commenterID)): 1}
			for i := range texts {
				wantCalls[api("POST", fmt.Sprintf("/merge_requests/%d/notes/%d/award_emoji", noteMR, noteID+i))] = 1
			}
			if got := calls(fg); !maps.Equal(got, wantCalls) {
				t.Errorf("calls = %v, want %v", got, wantCalls)
			}
			if ds := f.deploys(); len(ds) != 0 {
				t.Errorf("deploys = %+v", ds)
			}
		})
	}
}

// TestNotesNotForFerry: notes that do not address ferry, system notes,
// edited notes and notes on issues cost no call.
func TestNotesNotForFerry(t *testing.T) {
	fg := withFake(t)
	fg.SetMember(commenter, fakegitlab.Developer)
	f := newFixture(t, linked(), fg)
	f.deliver("Note Hook", "k1", payload(t, "note.merge_request.command.json")) // "atlantis plan"
	f.deliver("Note Hook", "k2", edited(t, "note.merge_request.command.json", func(m map[string]any) {
		attrs(m)["note"], attrs(m)["system"] = "/ferry deploy staging", true
	}))
	f.deliver("Note Hook", "k3", edited(t, "note.merge_request.command.json", func(m map[string]any) {
		attrs(m)["note"], attrs(m)["action"] = "/ferry deploy staging", "update"
	}))
	f.deliver("Note Hook", "k4", edited(t, "note.merge_request.command.json", func(m map[string]any) {
		attrs(m)["note"], attrs(m)["noteable_type"] = "/ferry deploy staging", "Issue"
	}))
	f.drain()
	if c := fg.Calls(); len(c) != 0 {
		t.Errorf("ferry called GitLab for notes it does not act on: %v", c)
	}
	for _, k := range []string{"k1", "k2", "k3", "k4"} {
		r, err := f.store.DeliveryOf(t.Context(), platform, k)
		if err != nil || r.Processed.IsZero() {
			t.Errorf("%s: %+v, %v; want it stored and processed", k, r, err)
		}
	}
	if got, _ := f.store.DeliveryOf(t.Context(), platform, "k4"); got.Outcome != "ignored: a note on Issue" {
		t.Errorf("the issue note's outcome: %q", got.Outcome)
	}
}

// TestNoteDeploysTheHeadOfTheMergeRequest: a /ferry deploy note deploys
// the merge request's head as GitLab names it when the note is handled
// (asked once), and refuses a merge request from a fork.
func TestNoteDeploysTheHeadOfTheMergeRequest(t *testing.T) {
	t.Run("its head", func(t *testing.T) {
		fg := withFake(t)
		fg.SetMember(commenter, fakegitlab.Developer)
		fg.SetMR(noteMR, fakegitlab.MR{State: "opened", SourceBranch: "master", SHA: mrHead})
		f := newFixture(t, linked(), fg)
		f.deliver("Note Hook", "k1", note(t, "/ferry deploy staging", "opened"))
		f.drain()
		ds := f.deploys()
		if len(ds) != 1 || ds[0].Commit != mrHead || ds[0].Version != "master@"+mrHead[:7] {
			t.Fatalf("deploys = %+v, want one of %s", ds, mrHead)
		}
		if n := fg.Count(api("GET", fmt.Sprint("/merge_requests/", noteMR))); n != 1 {
			t.Errorf("the merge request was read %d times, want once", n)
		}
	})
	t.Run("a fork", func(t *testing.T) {
		fg := withFake(t)
		fg.AddProject("lkysow/atlantis-example", 4242)
		fg.SetMember(commenter, fakegitlab.Developer)
		fg.SetMR(noteMR, fakegitlab.MR{State: "opened", SourceBranch: "master", SHA: pushed, SourceProjectID: 4242})
		f := newFixture(t, linked(), fg)
		f.deliver("Note Hook", "k1", note(t, "/ferry deploy staging", "opened"))
		f.drain()
		if ds := f.deploys(); len(ds) != 0 {
			t.Errorf("deployed a fork's branch: %+v", ds)
		}
		ns := fg.Notes()
		if len(ns) != 1 {
			t.Fatalf("notes = %+v, want one", ns)
		}
		golden(t, "note-fork", ns[0].Body)
	})
}

// TestStickyNoteIsEdited: ferry answers in one note, found by its marker
// among the notes it wrote (not another's that starts the same way) and
// edited after; a deploy asked for on the merge request shows each change
// of its state there.
func TestStickyNoteIsEdited(t *testing.T) {
	fg := withFake(t)
	fg.SetMember(commenter, fakegitlab.Developer)
	fg.SetMR(noteMR, fakegitlab.MR{State: "opened", SourceBranch: "master", SHA: pushed})
	fg.AddNote(fakegitlab.Note{Project: projectPath, MR: noteMR, AuthorID: commenterID, Body: "<!-- ferry -->\nnot ferry's"})
	f := newFixture(t, linked(), fg)
	f.deliver("Note Hook", "k1", note(t, "/ferry help", "opened"))
	f.settle()
	f.deliver("Note Hook", "k2", edited(t, "note.merge_request.command.json", func(m map[string]any) {
		attrs(m)["note"], attrs(m)["id"] = "/ferry deploy staging", noteID+1
	}))
	f.settle()
	d := f.deploys()
	if len(d) != 1 {
		t.Fatalf("deploys = %+v", d)
	}
	if _, err := f.engine.Cancel(t.Context(), linked().Actor("luke"), d[0].ID); err != nil {
		t.Fatal(err)
	}
	f.drain()
	ns := fg.Notes()
	if len(ns) != 1 {
		t.Fatalf("ferry's notes = %+v, want one", ns)
	}
	golden(t, "sticky-cancelled", ns[0].Body)
	if n := fg.Count(api("POST", fmt.Sprintf("/merge_requests/%d/notes", noteMR))); n != 1 {
		t.Errorf("%d notes created, want 1", n)
	}
	if ds := f.deploys(); ds[0].State != pipeline.StateCancelled {
		t.Errorf("deploy = %+v, want cancelled", ds[0])
	}
}
