package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// RenderText renders a card as plain text, for the CLI and for logs: a
// header, the batches and their units, the tail of the log, the commands
// that act on the deploy, and its address.
func RenderText(c Card) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s\n", c.DeployID, c.Title)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%-11s%s\n", name+":", value)
		}
	}
	state := words(string(c.State))
	if c.Stage != "" {
		state += ", " + c.Stage
	}
	field("state", state)
	field("reason", c.Reason)
	field("requested", c.Requester)
	field("version", c.VersionLine())
	if c.Progress.Total > 0 {
		field("progress", ProgressBar(c.Progress.Done, c.Progress.Total, 10))
	}
	field("approvals", c.ApprovalsLine())
	if !c.Updated.IsZero() {
		field("updated", stamp(c.Updated))
	}
	if len(c.Batches) > 0 {
		b.WriteString("\n")
		writeBatches(&b, c.Batches)
	}
	if len(c.LogTail) > 0 {
		b.WriteString("\nlog:\n")
		for _, l := range c.LogTail {
			b.WriteString("  " + l + "\n")
		}
	}
	if len(c.Actions) > 0 {
		cmds := make([]string, len(c.Actions))
		for i, a := range c.Actions {
			cmds[i] = a.Command
		}
		b.WriteString("\nactions: " + strings.Join(cmds, " | ") + "\n")
	}
	if c.URL != "" {
		b.WriteString(c.URL + "\n")
	}
	return b.String()
}

// ProgressBar draws done of total as a bar width cells wide followed by the
// counts: "[#####-----] 2/4". A width below 1 means 10.
func ProgressBar(done, total, width int) string {
	if width < 1 {
		width = 10
	}
	done = max(0, min(done, total))
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	return fmt.Sprintf("[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat("-", width-filled), done, max(total, 0))
}

// VersionLine is the card's versions in plain text: "new (commit) ←
// previous".
func (c Card) VersionLine() string {
	s := c.Version
	if c.Commit != "" && c.Commit != c.Version {
		s += " (" + c.Commit + ")"
	}
	if c.PreviousVersion != "" {
		s += " ← " + c.PreviousVersion
	}
	return s
}

// ApprovalsLine is the card's approvals in plain text: "1 of 2 (alice);
// expires …", "" when it needs none.
func (c Card) ApprovalsLine() string {
	a := c.Approvals
	if a.Required == 0 && a.Got == 0 {
		return ""
	}
	s := fmt.Sprintf("%d of %d", a.Got, a.Required)
	if len(a.By) > 0 {
		s += " (" + strings.Join(a.By, ", ") + ")"
	}
	if !a.Deadline.IsZero() && c.State == pipeline.StateAwaitingApproval {
		s += "; expires " + stamp(a.Deadline)
	}
	return s
}

// writeBatches writes each batch as a heading and its units in columns
// aligned across every batch.
func writeBatches(b *strings.Builder, batches []BatchRow) {
	var rows [][]string
	for _, br := range batches {
		for _, u := range br.Units {
			rows = append(rows, []string{u.Name, words(string(u.State)), u.Step, ShortDuration(u.Duration), firstLine(u.Error, 80)})
		}
	}
	lines := alignRows(rows)
	for _, br := range batches {
		fmt.Fprintf(b, "batch %d: %s\n", br.Index+1, words(br.State))
		for range br.Units {
			b.WriteString("  " + lines[0] + "\n")
			lines = lines[1:]
		}
	}
}

// words turns a state name into words: "rolled_back" → "rolled back".
func words(state string) string { return strings.ReplaceAll(state, "_", " ") }

// firstLine is the first line of s, cut to n characters.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return truncate(strings.TrimSpace(s), n)
}

// ShortDuration renders a duration to the second, or to the minute past an
// hour: "12s", "1m30s", "2h5m"; "" for none.
func ShortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return "<1s"
	case d < time.Hour:
		d = d.Round(time.Second)
	default:
		d = d.Round(time.Minute)
	}
	return trimZeroUnits(d.String())
}

// stamp writes a time people anywhere can read the same way.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// clock writes the time of day, for something due soon.
func clock(t time.Time) string { return t.UTC().Format("15:04:05 UTC") }
