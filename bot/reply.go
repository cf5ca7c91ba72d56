package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ferrybot/ferry/dashboards"
)

// Reply is what ferry answers to a command. Chat adapters render each part
// in their own way; RenderReply renders it as plain text.
type Reply struct {
	Text  string // a sentence or a few; "" for none
	Cards []Card // deploys the command created or acted on
	Table *Table // status, history, locks; nil for none
	// Digest is the digest that digest preview shows; nil for none.
	Digest    *dashboards.Digest
	Ephemeral bool // only the person who asked sees it, where the chat can do that
	Error     bool // the command failed; Text says why
	// Kind says what kind of failure it was, for adapters that answer with
	// a status (the web API); "" when the command did not fail.
	Kind ErrorKind
}

// ErrorKind classifies why a command failed.
type ErrorKind string

// The kinds of failure. ErrorKindOf maps errors to them.
const (
	KindInvalid   ErrorKind = "invalid"   // not a command, or a request that cannot be right
	KindForbidden ErrorKind = "forbidden" // policy refused the actor
	KindNotFound  ErrorKind = "not_found" // no such project, environment, deploy, ref or lock
	KindConflict  ErrorKind = "conflict"  // the deploy is not in a state for it, or it was done already
	KindLocked    ErrorKind = "locked"    // someone holds a lock on the environment
	KindInternal  ErrorKind = "internal"  // not the asker's fault; the details are in ferry's log
)

// Table is rows of text under named columns: status, history, boards.
type Table struct {
	Title   string // "" for none
	Columns []string
	Rows    [][]string // a row shorter than Columns leaves the last cells empty
}

// RenderReply renders a reply as plain text: its text, its cards and its
// table, separated by blank lines.
func RenderReply(r Reply) string {
	var parts []string
	if r.Text != "" {
		parts = append(parts, strings.TrimRight(r.Text, "\n")+"\n")
	}
	for _, c := range r.Cards {
		parts = append(parts, RenderText(c))
	}
	if r.Table != nil {
		parts = append(parts, RenderTable(*r.Table))
	}
	if r.Digest != nil {
		parts = append(parts, RenderDigest(*r.Digest))
	}
	return strings.Join(parts, "\n")
}

// RenderTable renders a table as aligned plain text: the title, the column
// names, a rule and the rows; "(none)" when there are no rows.
func RenderTable(t Table) string {
	var b strings.Builder
	if t.Title != "" {
		b.WriteString(t.Title + "\n")
	}
	rows := make([][]string, 0, len(t.Rows)+2)
	rule := make([]string, len(t.Columns))
	rows = append(rows, t.Columns, rule)
	for _, r := range t.Rows {
		rows = append(rows, cells(r, len(t.Columns)))
	}
	widths := columnWidths(rows)
	for i, w := range widths {
		if i < len(rule) {
			rule[i] = strings.Repeat("-", w)
		}
	}
	for _, line := range alignRows(rows) {
		b.WriteString(line + "\n")
	}
	if len(t.Rows) == 0 {
		b.WriteString("(none)\n")
	}
	return b.String()
}

// cells returns the cells of a row as n columns wide, flattening line breaks;
// a row with more cells than columns keeps them.
func cells(r []string, n int) []string {
	out := make([]string, max(n, len(r)))
	for i, c := range r {
		out[i] = strings.Join(strings.Fields(c), " ")
	}
	return out
}

func columnWidths(rows [][]string) []int {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], textWidth(c))
		}
	}
	return widths
}

// alignRows pads the cells of rows into columns two spaces apart and trims
// the end of each line.
func alignRows(rows [][]string) []string {
	widths := columnWidths(rows)
	lines := make([]string, len(rows))
	for i, r := range rows {
		var b strings.Builder
		for j, c := range r {
			b.WriteString(c)
			if j < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[j]-textWidth(c)+2))
			}
		}
		lines[i] = strings.TrimRight(b.String(), " ")
	}
	return lines
}

// textWidth is how many columns s takes in a monospaced font: two for the
// wide characters of Chinese, Japanese and Korean, none for marks.
func textWidth(s string) int {
	w := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r) || unicode.IsControl(r):
		case wide(r):
			w += 2
		default:
			w++
		}
	}
	return w
}

func wide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115f || // Hangul Jamo
		r >= 0x2e80 && r <= 0xa4cf && r != 0x303f || // CJK … Yi
		r >= 0xac00 && r <= 0xd7a3 || // Hangul syllables
		r >= 0xf900 && r <= 0xfaff || // CJK compatibility ideographs
		r >= 0xfe30 && r <= 0xfe4f || // CJK compatibility forms
		r >= 0xff00 && r <= 0xff60 || // fullwidth forms
		r >= 0xffe0 && r <= 0xffe6 ||
		r >= 0x1f300 && r <= 0x1f64f || // emoji
		r >= 0x20000 && r <= 0x3fffd)
}

// truncate cuts s to at most n runes, ending it with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
