package bot

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// fixture is deploy 12 of demo v1.2.0 to prod over five hosts in three
// batches (web-1 | web-2 web-3 | web-4 web-5), with every unit pending.
func fixture(state pipeline.State) CardInput {
	d := pipeline.Deploy{
		ID: 12, Project: "demo", Env: "prod", Kind: pipeline.KindDeploy,
		Ref: "v1.2.0", Commit: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", Version: "v1.2.0", Release: "12",
		PreviousVersion: "v1.1.0", PreviousRelease: "9",
		State: state, Requester: "alice", Batches: 3, ApprovalsRequired: 2,
		CreatedAt: t0, UpdatedAt: at(10),
	}
	var units []pipeline.Unit
	for i, name := range []string{"web-1", "web-2", "web-3", "web-4", "web-5"} {
		units = append(units, pipeline.Unit{DeployID: 12, Name: name, Batch: (i + 1) / 2, State: pipeline.UnitPending})
	}
	return CardInput{Deploy: d, Units: units, BaseURL: "https://ferry.example.com/", Now: at(10)}
}

// finish marks units done, each having taken a minute and a bit.
func finish(in *CardInput, names ...string) {
	for i := range in.Units {
		if slices.Contains(names, in.Units[i].Name) {
			u := &in.Units[i]
			u.State, u.Step, u.Started, u.Finished = pipeline.UnitDone, "health", at(i), at(i+1).Add(12*time.Second)
		}
	}
}

func setUnit(in *CardInput, name string, f func(*pipeline.Unit)) {
	for i := range in.Units {
		if in.Units[i].Name == name {
			f(&in.Units[i])
		}
	}
}

func cardFixtures() map[string]CardInput {
	cards := map[string]CardInput{}

	in := fixture(pipeline.StateAwaitingApproval)
	in.Deploy.Batches, in.Units = 0, nil
	in.Deploy.ApprovalDeadline = at(4 * 60)
	cards["awaiting_approval_0"] = in

	in.Approvals = []pipeline.Approval{{DeployID: 12, Approver: "bob", At: at(5)}}
	cards["awaiting_approval_1"] = in

	in = fixture(pipeline.StateRunning)
	in.Deploy.Batch = 1
	in.Approvals = []pipeline.Approval{{Approver: "bob"}, {Approver: "carol"}}
	finish(&in, "web-1")
	setUnit(&in, "web-2", func(u *pipeline.Unit) {
		u.State, u.Step, u.Started = pipeline.UnitRunning, "upload", at(8)
	})
	setUnit(&in, "web-3", func(u *pipeline.Unit) {
		u.State, u.Step, u.Started, u.Finished = pipeline.UnitFailed, "install", at(8), at(8).Add(3*time.Second)
		u.Error = "ssh web-3:22: dial tcp 10.0.0.3:22: connect: connection refused\nretried 3 times"
	})
	in.Logs = []pipeline.LogEntry{
		{Seq: 1, Step: "build", Text: "go build ./...\n\x1b[32mok\x1b[0m"},
		{Seq: 2, Unit: "web-1", Step: "install", Text: "unpacked releases/12\r\n"},
		{Seq: 3, Unit: "web-1", Step: "health", Text: "GET /healthz 200"},
		{Seq: 4, Unit: "web-2", Step: "upload", Text: "uploading 10%\r50%\r80%"},
		{Seq: 5, Unit: "web-3", Step: "install", Text: "ssh web-3:22: connection refused"},
	}
	cards["running_batch_failed_unit"] = in

	in = fixture(pipeline.StatePaused)
	in.Deploy.Batch = 1
	in.Deploy.Reason = "batch 1 of 3 is done; continue when ready"
	in.Approvals = []pipeline.Approval{{Approver: "bob"}, {Approver: "carol"}}
	finish(&in, "web-1")
	in.TailLines = -1
	cards["paused_manual_gate"] = in

	in = fixture(pipeline.StateSucceeded)
	in.Deploy.Batch, in.Deploy.Reason = 2, "5 of 5 units updated"
	in.Approvals = []pipeline.Approval{{Approver: "bob"}, {Approver: "carol"}, {Approver: "bob"}}
	finish(&in, "web-1", "web-2", "web-3", "web-4", "web-5")
	in.Logs = []pipeline.LogEntry{{Unit: "web-5", Text: "GET /healthz 200"}}
	cards["succeeded"] = in

	in = fixture(pipeline.StateRolledBack)
	in.Deploy.Batch, in.Deploy.Reason = 1, "every updated unit is back on its previous release"
	in.Approvals = []pipeline.Approval{{Approver: "bob"}, {Approver: "carol"}}
	for _, name := range []string{"web-1", "web-2", "web-3"} {
		setUnit(&in, name, func(u *pipeline.Unit) {
			u.State, u.Step, u.Previous, u.Started, u.Finished = pipeline.UnitRolledBack, "rollback", "9", at(3), at(4)
		})
	}
	cards["rolled_back"] = in

	in = fixture(pipeline.StateInterrupted)
	in.Deploy.Batch, in.Deploy.Reason = 1, "ferry restarted while web-2 was installing; the target cannot resume safely"
	in.Deploy.ApprovalsRequired = 0
	finish(&in, "web-1")
	setUnit(&in, "web-2", func(u *pipeline.Unit) {
		u.State, u.Step, u.Started = pipeline.UnitRunning, "install", at(7)
	})
	cards["interrupted"] = in

	in = fixture(pipeline.StateRunning)
	d := &in.Deploy
	d.ID, d.Kind, d.Ref, d.Version, d.Release = 13, pipeline.KindRollback, "release 9", "v1.1.0", "9"
	d.PreviousVersion, d.PreviousRelease, d.ApprovalsRequired, d.Batches = "v1.2.0", "12", 0, 1
	d.Commit = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
	for i := range in.Units {
		in.Units[i].Batch = 0
	}
	finish(&in, "web-1", "web-2", "web-3")
	in.BaseURL = ""
	cards["rollback_running"] = in
	return cards
}

func TestRenderTextGolden(t *testing.T) {
	for name, in := range cardFixtures() {
		t.Run(name, func(t *testing.T) {
			golden(t, "card_"+name+".txt", RenderText(NewCard(in)))
		})
	}
}

func TestNewCard(t *testing.T) {
	cards := cardFixtures()
	c := NewCard(cards["running_batch_failed_unit"])
	if c.Title != "Deploy demo v1.2.0 to prod" || c.Commit != "1a2b3c4" || c.URL != "https://ferry.example.com/deploys/12" {
		t.Errorf("title %q, commit %q, URL %q", c.Title, c.Commit, c.URL)
	}
	if c.Progress != (Progress{Done: 1, Total: 5}) || c.Progress.Percent() != 20 {
		t.Errorf("progress %+v (%d%%)", c.Progress, c.Progress.Percent())
	}
	if c.Stage != "batch 2 of 3" {
		t.Errorf("stage %q", c.Stage)
	}
	var states []string
	for _, b := range c.Batches {
		states = append(states, b.State)
	}
	if want := []string{"done", "failed", "pending"}; !reflect.DeepEqual(states, want) {
		t.Errorf("batch states %v, want %v", states, want)
	}
	if u := c.Batches[1].Units[0]; u.Name != "web-2" || u.Duration != 2*time.Minute {
		t.Errorf("running unit %+v, want web-2 running for 2m", u)
	}
	wantTail := []string{
		"build: ok",
		"web-1: unpacked releases/12",
		"web-1: GET /healthz 200",
		"web-2: 80%",
		"web-3: ssh web-3:22: connection refused",
	}
	if !reflect.DeepEqual(c.LogTail, wantTail) {
		t.Errorf("log tail\n got %q\nwant %q", c.LogTail, wantTail)
	}

	c = NewCard(cards["succeeded"])
	if c.Approvals.Got != 2 || !reflect.DeepEqual(c.Approvals.By, []string{"bob", "carol"}) {
		t.Errorf("approvals %+v: a repeated approver counts once", c.Approvals)
	}
	if c.Progress != (Progress{Done: 5, Total: 5}) || c.Progress.Percent() != 100 {
		t.Errorf("progress %+v", c.Progress)
	}

	c = NewCard(cards["rolled_back"])
	if c.Progress != (Progress{Done: 3, Total: 3}) {
		t.Errorf("rolled back progress %+v, want the 3 touched units all rolled back", c.Progress)
	}

	c = NewCard(cards["rollback_running"])
	if c.Title != "Roll back demo prod to v1.1.0" || c.URL != "" || c.Progress != (Progress{Done: 3, Total: 5}) {
		t.Errorf("rollback card: title %q, URL %q, progress %+v", c.Title, c.URL, c.Progress)
	}
}

func TestLogTail(t *testing.T) {
	var logs []pipeline.LogEntry
	for i := range 8 {
		logs = append(logs, pipeline.LogEntry{Unit: "u", Text: strings.Repeat("x", i)})
	}
	logs = append(logs, pipeline.LogEntry{Text: strings.Repeat("é", 300)})
	got := logTail(logs, 3)
	if len(got) != 3 || got[0] != "u: xxxxxx" || got[1] != "u: xxxxxxx" {
		t.Errorf("tail %q", got)
	}
	if n := len([]rune(got[2])); n != maxLogLine || !strings.HasSuffix(got[2], "…") {
		t.Errorf("long line is %d characters: %q", n, got[2])
	}
	if got := logTail(logs, 0); len(got) != DefaultTailLines {
		t.Errorf("default tail has %d lines", len(got))
	}
	if got := logTail(logs, -1); got != nil {
		t.Errorf("negative tail = %q, want none", got)
	}
}

func TestStage(t *testing.T) {
	d := pipeline.Deploy{State: pipeline.StateRunning, Batch: 2, Batches: 4, BakeUntil: at(5)}
	if got := stage(d, nil, at(1)); got != "baking after batch 2 of 4 until 10:05:00 UTC" {
		t.Errorf("baking: %q", got)
	}
	if got := stage(d, nil, at(6)); got != "batch 3 of 4" {
		t.Errorf("after the bake: %q", got)
	}
	d.State = pipeline.StatePaused
	if got := stage(d, nil, at(6)); got != "before batch 3 of 4" {
		t.Errorf("paused between batches: %q", got)
	}
	units := []pipeline.Unit{{Batch: 2, State: pipeline.UnitDone}, {Batch: 2, State: pipeline.UnitPending}}
	if got := stage(d, units, at(6)); got != "batch 3 of 4" {
		t.Errorf("paused within a batch: %q", got)
	}
	d.State = pipeline.StateQueued
	if got := stage(d, nil, at(1)); got != "" {
		t.Errorf("queued: %q", got)
	}
}

func TestActions(t *testing.T) {
	d := pipeline.Deploy{ID: 12, Project: "demo", Env: "prod", Version: "v1.2.0", PreviousVersion: "v1.1.0", PreviousRelease: "9"}
	want := map[pipeline.State][]string{
		pipeline.StateAwaitingApproval: {"approve 12", "reject 12", "cancel 12"},
		pipeline.StateQueued:           {"cancel 12"},
		pipeline.StateRunning:          {"pause 12", "cancel 12", "rollback demo prod"},
		pipeline.StatePaused:           {"continue 12", "rollback demo prod", "cancel 12"},
		pipeline.StateInterrupted:      {"resume 12", "rollback demo prod", "cancel 12"},
		pipeline.StateFailed:           {"rollback demo prod"},
		pipeline.StateSucceeded:        {"rollback demo prod to 9"},
	}
	for _, s := range pipeline.States {
		d.State = s
		var got []string
		for _, a := range Actions(d) {
			got = append(got, a.Command)
			if string(a.ID) != strings.Fields(a.Command)[0] {
				t.Errorf("%s: action %s runs %q", s, a.ID, a.Command)
			}
			cmd, err := Parse(a.Command)
			if err != nil || cmd.String() != a.Command {
				t.Errorf("%s: action command %q does not parse back: %v", s, a.Command, err)
			}
			danger := a.ID == ActionRollback || a.ID == ActionCancel
			if danger != (a.Confirm != "") {
				t.Errorf("%s: %s confirm %q", s, a.ID, a.Confirm)
			}
		}
		if !reflect.DeepEqual(got, want[s]) {
			t.Errorf("%s: actions %q, want %q", s, got, want[s])
		}
	}
	d.State, d.PreviousRelease = pipeline.StateSucceeded, ""
	if got := Actions(d); got != nil {
		t.Errorf("succeeded first deploy offers %+v, want nothing", got)
	}
	d.PreviousRelease = "9"
	a := Actions(d)[0]
	if a.Label != "Roll back to v1.1.0" || a.Style != StyleDanger || a.Confirm != "Roll demo prod back from v1.2.0 to v1.1.0?" {
		t.Errorf("rollback of a succeeded deploy: %+v", a)
	}
}

func TestProgressBar(t *testing.T) {
	tests := []struct {
		done, total, width int
		want               string
	}{
		{2, 4, 10, "[#####-----] 2/4"},
		{0, 4, 10, "[----------] 0/4"},
		{4, 4, 10, "[##########] 4/4"},
		{1, 3, 10, "[###-------] 1/3"},
		{2, 3, 4, "[##--] 2/3"},
		{0, 0, 10, "[----------] 0/0"},
		{7, 4, 10, "[##########] 4/4"},
		{-1, 4, 10, "[----------] 0/4"},
		{1, 2, 0, "[#####-----] 1/2"},
	}
	for _, tt := range tests {
		if got := ProgressBar(tt.done, tt.total, tt.width); got != tt.want {
			t.Errorf("ProgressBar(%d, %d, %d) = %q, want %q", tt.done, tt.total, tt.width, got, tt.want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "", time.Millisecond: "<1s", 12 * time.Second: "12s", 90 * time.Second: "1m30s",
		2 * time.Minute: "2m", time.Hour + 5*time.Minute + 20*time.Second: "1h5m", 3 * time.Hour: "3h",
	} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
