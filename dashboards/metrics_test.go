package dashboards

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// memStore is a Store over a slice, selecting as storage does.
type memStore []Fact

func (m memStore) Facts(_ context.Context, q Query) ([]Fact, error) {
	var out []Fact
	for _, f := range m {
		if !f.StartedAt.IsZero() && !f.StartedAt.Before(q.From) && f.StartedAt.Before(q.To) && (q.Project == "" || f.Project == q.Project) {
			out = append(out, f)
		}
	}
	return out, nil
}

// at is a time in the week of the tests: Monday 2 November 2026 is day 2.
func at(day, hour, minute int) time.Time {
	return time.Date(2026, 11, day, hour, minute, 0, 0, time.UTC)
}

// week is Monday 2 to Monday 9 November 2026, in UTC.
var week = Period{From: at(2, 0, 0), To: at(9, 0, 0)}

var testDir = Directory{
	Projects: []string{"api", "web"},
	Envs:     []string{"staging", "prod"},
	Teams:    map[string][]string{"dev": {"alice", "bob"}, "ops": {"carol", "dave"}},
	Users:    []string{"alice", "bob", "carol", "dave"},
}

const (
	deploy   = pipeline.KindDeploy
	rollback = pipeline.KindRollback
)

// weekFacts is the hand-checked week the tests compute on; the comments
// say what each deploy is there for.
func weekFacts() memStore {
	return memStore{
		// A clean production deploy: lead 2h10m, 10m long.
		{ID: 1, Project: "api", Env: "prod", Kind: deploy, State: pipeline.StateSucceeded, Requester: "alice", Batches: 3, Batch: 2,
			CreatedAt: at(2, 9, 55), StartedAt: at(2, 10, 0), FinishedAt: at(2, 10, 10), CommittedAt: at(2, 8, 0)},
		// Its canary failed at 10:05 and it was rolled back by 10:15.
		{ID: 2, Project: "api", Env: "prod", Kind: deploy, State: pipeline.StateRolledBack, Requester: "bob", Batches: 3, Batch: 0,
			CreatedAt: at(3, 10, 0), StartedAt: at(3, 10, 0), FinishedAt: at(3, 10, 15), FailedAt: at(3, 10, 5), CommittedAt: at(3, 9, 0)},
		// Staging: counts as a deploy, not for DORA.
		{ID: 3, Project: "api", Env: "staging", Kind: deploy, State: pipeline.StateSucceeded, Requester: "alice",
			CreatedAt: at(3, 12, 0), StartedAt: at(3, 12, 0), FinishedAt: at(3, 12, 4), CommittedAt: at(3, 11, 0)},
		// Succeeded, then a rollback was asked for 5h40m later: a failed change.
		{ID: 4, Project: "web", Env: "prod", Kind: deploy, State: pipeline.StateSucceeded, Requester: "carol",
			CreatedAt: at(4, 9, 0), StartedAt: at(4, 9, 0), FinishedAt: at(4, 9, 20), CommittedAt: at(3, 9, 0)},
		{ID: 5, Project: "web", Env: "prod", Kind: rollback, State: pipeline.StateSucceeded, Requester: "dave",
			CreatedAt: at(4, 15, 0), StartedAt: at(4, 15, 1), FinishedAt: at(4, 15, 3)},
		// Still running at the end of the week.
		{ID: 6, Project: "api", Env: "prod", Kind: deploy, State: pipeline.StateRunning, Requester: "alice",
			CreatedAt: at(8, 23, 50), StartedAt: at(8, 23, 50)},
		// Succeeded on Sunday, rolled back on Monday: a failed change of this
		// week, a rollback of the next.
		{ID: 7, Project: "api", Env: "prod", Kind: deploy, State: pipeline.StateSucceeded, Requester: "alice",
			CreatedAt: at(8, 20, 0), StartedAt: at(8, 20, 0), FinishedAt: at(8, 20, 30), CommittedAt: at(8, 19, 0)},
		{ID: 8, Project: "api", Env: "prod", Kind: rollback, State: pipeline.StateSucceeded, Requester: "bob",
			CreatedAt: at(9, 8, 0), StartedAt: at(9, 8, 1), FinishedAt: at(9, 8, 5)},
		// Failed outright at 10:02; the next deploy restored it at 11:30.
		{ID: 9, Project: "api", Env: "prod", Kind: deploy, State: pipeline.StateFailed, Requester: "bob",
			CreatedAt: at(5, 10, 0), StartedAt: at(5, 10, 0), FinishedAt: at(5, 10, 2), FailedAt: at(5, 10, 2)},
		{ID: 10, Project: "api", Env: "prod", Kind: deploy, State: pipeline.StateSucceeded, Requester: "alice",
			CreatedAt: at(5, 11, 0), StartedAt: at(5, 11, 0), FinishedAt: at(5, 11, 30), CommittedAt: at(5, 10, 30)},
		// Denied: never started, never counted.
		{ID: 11, Project: "api", Env: "prod", Kind: deploy, State: pipeline.StateDenied, Requester: "bob", CreatedAt: at(5, 12, 0)},
		// The week before: one deploy, lead 1h05m.
		{ID: 12, Project: "api", Env: "prod", Kind: deploy, State: pipeline.StateSucceeded, Requester: "alice",
			CreatedAt: time.Date(2026, 10, 28, 10, 0, 0, 0, time.UTC), StartedAt: time.Date(2026, 10, 28, 10, 0, 0, 0, time.UTC), FinishedAt: time.Date(2026, 10, 28, 10, 5, 0, 0, time.UTC), CommittedAt: time.Date(2026, 10, 28, 9, 0, 0, 0, time.UTC)},
	}
}

func newTest(t *testing.T, store Store, s Settings) *Dashboards {
	t.Helper()
	d, err := New(Config{Store: store, Directory: testDir, Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMetricsOfAHandCheckedWeek(t *testing.T) {
	d := newTest(t, weekFacts(), Settings{})
	r, err := d.Report(context.Background(), All, week)
	if err != nil {
		t.Fatal(err)
	}
	got := r.Current
	want := Metrics{
		Period:  week,
		Deploys: 8, Succeeded: 5, Failed: 1, RolledBack: 1, InProgress: 1,
		SuccessRate:       Rate{5, 7},
		Rollbacks:         2, // the rollback deploy 5, and deploy 2 rolled back in flight; 8 is next week's
		CanaryCatches:     1,
		Duration:          Stats{Count: 5, Median: 20 * time.Minute, P90: 30 * time.Minute},
		ProdDeploys:       6,
		ProdSucceeded:     4,
		Frequency:         4.0 / 7,
		LeadTime:          Stats{Count: 4, Median: 110 * time.Minute, P90: 24*time.Hour + 20*time.Minute},
		ChangeFailureRate: Rate{4, 6}, // 2 rolled back, 9 failed, 4 and 7 followed by a rollback
		Restore:           Stats{Count: 3, Median: 10 * time.Minute, P90: 88 * time.Minute},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("metrics of the week:\ngot  %+v\nwant %+v", got, want)
	}
	prev := r.Previous
	if prev.Deploys != 1 || prev.SuccessRate != (Rate{1, 1}) || prev.LeadTime.Median != 65*time.Minute || prev.Period != week.Previous() {
		t.Errorf("previous week = %+v; want deploy 12 alone", prev)
	}
}

// TestRollbackAcrossTheBoundary: deploy 7 succeeded on Sunday and was
// rolled back on Monday. Its week counts it a failed change; the next week
// counts the rollback and the time to restore.
func TestRollbackAcrossTheBoundary(t *testing.T) {
	d := newTest(t, weekFacts(), Settings{})
	next := Period{From: at(9, 0, 0), To: at(16, 0, 0)}
	r, err := d.Report(context.Background(), Scope{Kind: ScopeProject, Name: "api"}, next)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Current
	if m.Deploys != 0 || m.Rollbacks != 1 || m.Restore != (Stats{Count: 1, Median: 5 * time.Minute, P90: 5 * time.Minute}) {
		t.Errorf("the week after = %+v; want no deploy, one rollback, restored in 5m", m)
	}
	if cfr := r.Previous.ChangeFailureRate; cfr != (Rate{3, 5}) {
		t.Errorf("api's change failure rate of the week before = %+v; want 3 of 5 (2, 7 and 9)", cfr)
	}
	// Outside the window, the rollback blames nobody.
	d = newTest(t, weekFacts(), Settings{FailureWindow: 6 * time.Hour})
	r, err = d.Report(context.Background(), Scope{Kind: ScopeProject, Name: "api"}, week)
	if err != nil {
		t.Fatal(err)
	}
	if cfr := r.Current.ChangeFailureRate; cfr != (Rate{2, 5}) {
		t.Errorf("with a 6h window, change failure rate = %+v; want 2 of 5", cfr)
	}
}

func TestEmptyPeriod(t *testing.T) {
	d := newTest(t, memStore{}, Settings{})
	r, err := d.Report(context.Background(), All, week)
	if err != nil {
		t.Fatal(err)
	}
	if r.Current.Deploys != 0 || r.Current.SuccessRate.OK() || r.Current.LeadTime.OK() || r.Current.Frequency != 0 {
		t.Errorf("an empty week = %+v; want nothing", r.Current)
	}
	for _, row := range r.Rows() {
		switch row.Key {
		case "success_rate", "duration_median", "duration_p90", "lead_time", "change_failure_rate", "time_to_restore":
			if row.Value != "–" || row.Change != "" {
				t.Errorf("row %s of an empty week = %q (%q); want – and no change", row.Key, row.Value, row.Change)
			}
		}
	}
}

func TestScopes(t *testing.T) {
	d := newTest(t, weekFacts(), Settings{})
	ctx := context.Background()
	tests := []struct {
		scope             string
		deploys, rollback int
	}{
		{"all", 8, 2},
		{"  ", 8, 2},               // nothing is all
		{"person:bob", 2, 1},       // 2 and 9; 2 was rolled back, 8 is next week's
		{"PERSON:alice", 5, 0},     // kinds are case-insensitive
		{"person:dave", 0, 1},      // a rollback is not a deploy
		{"project:api", 7, 1},      // every api deploy but the denied one
		{"web", 1, 1},              // a bare project; the rollback 5
		{"env:staging", 1, 0},      //
		{"environment:prod", 7, 2}, // the long kind
		{"team:ops", 1, 1},         // carol's 4, dave's 5
		{"dev", 7, 1},              // a bare team: alice and bob
		{"carol", 1, 0},            // a bare person
	}
	for _, tt := range tests {
		s, err := d.ParseScope(tt.scope)
		if err != nil {
			t.Errorf("ParseScope(%q): %v", tt.scope, err)
			continue
		}
		r, err := d.Report(ctx, s, week)
		if err != nil {
			t.Fatal(err)
		}
		if r.Current.Deploys != tt.deploys || r.Current.Rollbacks != tt.rollback {
			t.Errorf("%s: %d deploys, %d rollbacks; want %d, %d", s, r.Current.Deploys, r.Current.Rollbacks, tt.deploys, tt.rollback)
		}
	}
}

func TestParseScopeErrors(t *testing.T) {
	dir := testDir
	dir.Teams = map[string][]string{"api": {"alice"}} // a team named like a project
	for in, want := range map[string]string{
		"nobody":       `scope "nobody": no project, team, environment or person is called that; write all, team:<name>, project:<name>, env:<name> or person:<name>`,
		"api":          `scope "api" names more than one thing; say which: team:api or project:api`,
		"project:nope": `scope "project:nope": no project is called "nope"; projects: api, web`,
		"colour:red":   `scope "colour:red": write all, team:<name>, project:<name>, env:<name> or person:<name>`,
		"team:":        `scope "team:": write all, team:<name>, project:<name>, env:<name> or person:<name>`,
	} {
		if _, err := dir.ParseScope(in); err == nil || err.Error() != want {
			t.Errorf("ParseScope(%q) = %v;\nwant %s", in, err, want)
		}
	}
}

func TestStats(t *testing.T) {
	m := time.Minute
	tests := []struct {
		in       []time.Duration
		med, p90 time.Duration
	}{
		{[]time.Duration{5 * m}, 5 * m, 5 * m},
		{[]time.Duration{1 * m, 3 * m}, 2 * m, 3 * m},
		{[]time.Duration{9 * m, 1 * m, 5 * m}, 5 * m, 9 * m},
		{[]time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5, 9},
		{[]time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 6, 10},
	}
	for _, tt := range tests {
		s := stats(tt.in)
		if s.Count != len(tt.in) || s.Median != tt.med || s.P90 != tt.p90 {
			t.Errorf("stats(%v) = %+v; want median %v, p90 %v", tt.in, s, tt.med, tt.p90)
		}
	}
	if stats(nil).OK() {
		t.Error("stats of nothing is OK")
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 300 * time.Millisecond: "<1s", 45 * time.Second: "45s", 12*time.Minute + 30*time.Second: "12m30s",
		12 * time.Minute: "12m", 5*time.Hour + 20*time.Minute: "5h20m", 5 * time.Hour: "5h", 47 * time.Hour: "47h",
		76 * time.Hour: "3d4h", 72 * time.Hour: "3d",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q; want %q", d, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0%", 0.973: "97%", 0.996: "99%", 1: "100%"} {
		if got := FormatPercent(v); got != want {
			t.Errorf("FormatPercent(%v) = %q; want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0/day", 2.34: "2.3/day", 1: "1/day", 4.0 / 7: "4/week", 0.1: "0.7/week"} {
		if got := FormatRate(v); got != want {
			t.Errorf("FormatRate(%v) = %q; want %q", v, got, want)
		}
	}
}
