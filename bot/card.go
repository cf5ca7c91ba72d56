package bot

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Card is everything ferry shows about one deploy: the message it keeps
// up to date in chat, the deploy's web page, the CLI's output.
type Card struct {
	DeployID        int64
	Title           string // "Deploy demo v1.0.0 to prod", "Roll back demo prod to v0.9.0"
	Project         string
	Env             string
	Kind            pipeline.Kind
	Requester       string
	Version         string
	PreviousVersion string // "" for the first deploy of the environment
	Commit          string // short hash; "" when unknown
	State           pipeline.State
	Reason          string // why it is in its state, from the engine
	Stage           string // where the rollout is: "batch 2 of 3", "before batch 2 of 3", "baking after batch 1 of 3 until 12:05:00 UTC"; "" when not in flight
	Progress        Progress
	Batches         []BatchRow
	Approvals       Approvals
	LogTail         []string // the last lines of output, "unit: text", oldest first
	Actions         []Action
	Updated         time.Time
	URL             string // the deploy's web page; "" without a base URL
}

// Progress counts units. For a deploy returning its units (rolling back or
// rolled back) Total is the units it touched and Done those rolled back;
// otherwise Total is every unit known and Done those updated.
type Progress struct {
	Done, Total int
}

// Percent is Done as a whole percentage of Total; 0 when Total is 0.
func (p Progress) Percent() int {
	if p.Total <= 0 {
		return 0
	}
	return p.Done * 100 / p.Total
}

// BatchRow is one batch of the rollout and its units.
type BatchRow struct {
	Index int // as the pipeline numbers batches, from 0; people read Index+1
	Units []UnitRow
	State string // a summary: pending, running, done, failed, rolled_back or partial
}

// UnitRow is one unit (host, pod, directory) of a deploy.
type UnitRow struct {
	Name     string
	State    pipeline.UnitState
	Step     string
	Duration time.Duration // how long it took, or has taken so far; 0 before it starts
	Error    string
}

// Approvals says who approved a deploy and how many it needs.
type Approvals struct {
	Got      int
	Required int
	By       []string  // approvers, in the order they approved
	Deadline time.Time // zero: approvals never expire
}

// CardInput is what a card is built from: a deploy and its rows.
type CardInput struct {
	Deploy    pipeline.Deploy
	Units     []pipeline.Unit
	Approvals []pipeline.Approval
	Logs      []pipeline.LogEntry // oldest first, as Store.Logs returns them
	BaseURL   string              // ferry's web address, like "https://ferry.example.com"; "": no URL
	Now       time.Time           // for how long running units have run, and bakes
	TailLines int                 // log lines to keep; 0: DefaultTailLines; negative: none
}

// DefaultTailLines is how many log lines a card keeps unless told.
const DefaultTailLines = 5

// maxLogLine is how many characters of a log line a card keeps.
const maxLogLine = 160

// NewCard builds the card of a deploy. It does no I/O.
func NewCard(in CardInput) Card {
	d := in.Deploy
	return Card{
		DeployID:        d.ID,
		Title:           title(d),
		Project:         d.Project,
		Env:             d.Env,
		Kind:            d.Kind,
		Requester:       d.Requester,
		Version:         version(d),
		PreviousVersion: d.PreviousVersion,
		Commit:          shortCommit(d.Commit),
		State:           d.State,
		Reason:          d.Reason,
		Stage:           stage(d, in.Units, in.Now),
		Progress:        progress(d, in.Units),
		Batches:         batches(in.Units, d.State == pipeline.StateRunning, in.Now),
		Approvals:       approvals(d, in.Approvals),
		LogTail:         logTail(in.Logs, in.TailLines),
		Actions:         Actions(d),
		Updated:         d.UpdatedAt,
		URL:             DeployURL(in.BaseURL, d.ID),
	}
}

// DeployURL is the address of a deploy's page on ferry's web console, or ""
// when base is "".
func DeployURL(base string, id int64) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/deploys/" + strconv.FormatInt(id, 10)
}

func title(d pipeline.Deploy) string {
	if d.Kind == pipeline.KindRollback {
		return fmt.Sprintf("Roll back %s %s to %s", d.Project, d.Env, version(d))
	}
	return fmt.Sprintf("Deploy %s %s to %s", d.Project, version(d), d.Env)
}

// version is what people call what a deploy installs: its version, else
// its ref, commit or release.
func version(d pipeline.Deploy) string {
	switch {
	case d.Version != "":
		return d.Version
	case d.Ref != "":
		return d.Ref
	case d.Commit != "":
		return shortCommit(d.Commit)
	case d.Release != "":
		return "release " + d.Release
	}
	return "(unknown version)"
}

func shortCommit(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

// stage says where the rollout of a deploy in flight is. A deploy stopped
// between batches is "before" the next one.
func stage(d pipeline.Deploy, units []pipeline.Unit, now time.Time) string {
	if d.Batches == 0 {
		return ""
	}
	switch d.State {
	case pipeline.StateRunning, pipeline.StatePaused, pipeline.StateInterrupted, pipeline.StateFailed:
	default:
		return ""
	}
	b := min(d.Batch, d.Batches-1) + 1
	if d.State == pipeline.StateRunning && d.BakeUntil.After(now) && b > 1 {
		return fmt.Sprintf("baking after batch %d of %d until %s", b-1, d.Batches, clock(d.BakeUntil))
	}
	if d.State != pipeline.StateRunning && !started(units, b-1) {
		return fmt.Sprintf("before batch %d of %d", b, d.Batches)
	}
	return fmt.Sprintf("batch %d of %d", b, d.Batches)
}

// started reports whether any unit of a batch has left pending.
func started(units []pipeline.Unit, batch int) bool {
	for _, u := range units {
		if u.Batch == batch && u.State != pipeline.UnitPending {
			return true
		}
	}
	return false
}

func progress(d pipeline.Deploy, units []pipeline.Unit) Progress {
	returning := d.State == pipeline.StateRollingBack || d.State == pipeline.StateRolledBack
	var p Progress
	for _, u := range units {
		switch {
		case !returning:
			p.Total++
			if u.State == pipeline.UnitDone {
				p.Done++
			}
		case u.State != pipeline.UnitPending:
			p.Total++
			if u.State == pipeline.UnitRolledBack {
				p.Done++
			}
		}
	}
	return p
}

// batches groups units by batch, in batch order, keeping the order of units
// within a batch. running says whether the deploy is running.
func batches(units []pipeline.Unit, running bool, now time.Time) []BatchRow {
	sorted := slices.Clone(units)
	slices.SortStableFunc(sorted, func(a, b pipeline.Unit) int { return a.Batch - b.Batch })
	var rows []BatchRow
	for _, u := range sorted {
		if len(rows) == 0 || rows[len(rows)-1].Index != u.Batch {
			rows = append(rows, BatchRow{Index: u.Batch})
		}
		r := &rows[len(rows)-1]
		r.Units = append(r.Units, UnitRow{Name: u.Name, State: u.State, Step: u.Step, Duration: unitDuration(u, now), Error: u.Error})
	}
	for i := range rows {
		rows[i].State = batchState(rows[i].Units, running)
	}
	return rows
}

func unitDuration(u pipeline.Unit, now time.Time) time.Duration {
	end := u.Finished
	if end.IsZero() && u.State == pipeline.UnitRunning {
		end = now
	}
	if u.Started.IsZero() || end.Before(u.Started) {
		return 0
	}
	return end.Sub(u.Started)
}

// batchState sums up the units of a batch in one word. A batch some of
// whose units are done and others not yet started is running while the
// deploy runs, and partial when it has stopped.
func batchState(units []UnitRow, running bool) string {
	n := map[pipeline.UnitState]int{}
	for _, u := range units {
		n[u.State]++
	}
	switch {
	case n[pipeline.UnitFailed] > 0:
		return string(pipeline.UnitFailed)
	case n[pipeline.UnitRunning] > 0:
		return string(pipeline.UnitRunning)
	}
	for _, s := range []pipeline.UnitState{pipeline.UnitPending, pipeline.UnitDone, pipeline.UnitRolledBack} {
		if n[s] == len(units) {
			return string(s)
		}
	}
	if running && n[pipeline.UnitRolledBack] == 0 {
		return string(pipeline.UnitRunning)
	}
	return "partial"
}

func approvals(d pipeline.Deploy, as []pipeline.Approval) Approvals {
	a := Approvals{Required: d.ApprovalsRequired, Deadline: d.ApprovalDeadline}
	for _, ap := range as {
		if !slices.Contains(a.By, ap.Approver) {
			a.By = append(a.By, ap.Approver)
		}
	}
	a.Got = len(a.By)
	return a
}

// ansi matches terminal escape sequences (colours, cursor moves) in output.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

// logTail keeps the last n lines of the logs, each led by its unit (or, for
// the deploy as a whole, its step).
func logTail(logs []pipeline.LogEntry, n int) []string {
	if n == 0 {
		n = DefaultTailLines
	}
	if n < 0 {
		return nil
	}
	var lines []string
	for _, e := range logs {
		who := e.Unit
		if who == "" {
			who = e.Step
		}
		for _, line := range strings.Split(ansi.ReplaceAllString(e.Text, ""), "\n") {
			line = strings.TrimRight(line, "\r")
			line = strings.TrimSpace(line[strings.LastIndexByte(line, '\r')+1:]) // what a terminal would show
			if line == "" {
				continue
			}
			if who != "" {
				line = who + ": " + line
			}
			lines = append(lines, truncate(line, maxLogLine))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
