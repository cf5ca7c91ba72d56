package bot

import (
	"fmt"
	"strings"

	"github.com/ferrybot/ferry/dashboards"
)

// RenderDigest renders a digest as plain text: its title and period, the
// metrics beside the previous period's, the leaderboards, and the chart's
// address.
func RenderDigest(g dashboards.Digest) string {
	var b strings.Builder
	b.WriteString(g.Title() + "\n")
	b.WriteString(g.Period.About() + "\n")
	if g.Late {
		fmt.Fprintf(&b, "Sent late: ferry was not running at %s.\n", g.Scheduled.In(g.Period.Loc).Format("Mon 2 Jan 15:04 MST"))
	}
	b.WriteString("\n")
	t := Table{Columns: []string{"", "this period", "previous", "change"}}
	dora := false
	for _, r := range g.Report.Rows() {
		if r.DORA && !dora {
			t.Rows = append(t.Rows, []string{"DORA"})
			dora = true
		}
		v := r.Value
		if r.Detail != "" {
			v += " (" + r.Detail + ")"
		}
		t.Rows = append(t.Rows, []string{r.Name, v, r.Previous, r.Change})
	}
	b.WriteString(RenderTable(t))
	by := dashboards.Dimension("")
	for _, board := range g.Boards {
		if board.By != by {
			by = board.By
			fmt.Fprintf(&b, "\nLeaderboards by %s\n", by)
		}
		fmt.Fprintf(&b, "  %s: %s\n", board.Kind.Title(), BoardLine(board))
	}
	if g.ChartURL != "" {
		b.WriteString("\nChart: " + g.ChartURL + "\n")
	}
	return b.String()
}

// BoardLine writes the places of a leaderboard on one line: "1. alice 5 ·
// 2. bob 2", or why it is empty.
func BoardLine(b dashboards.Board) string {
	if len(b.Entries) == 0 {
		return b.Note
	}
	places := make([]string, len(b.Entries))
	for i, e := range b.Entries {
		places[i] = fmt.Sprintf("%d. %s %s", e.Rank, e.Name, e.Value)
		if e.Detail != "" {
			places[i] += " (" + e.Detail + ")"
		}
	}
	return strings.Join(places, " · ")
}
