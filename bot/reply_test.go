package bot

import (
	"strings"
	"testing"
)

func statusTable() Table {
	return Table{
		Title:   "demo and 前端",
		Columns: []string{"project", "env", "version", "state", "deploy", "lock"},
		Rows: [][]string{
			{"demo", "staging", "main@1a2b3c4", "succeeded", "#11"},
			{"demo", "prod", "v1.1.0", "running", "#12 v1.2.0 (2/5)", "alice: release\nfreeze"},
			{"前端", "生产", "v3", "succeeded", "#7"},
			{"wide", "prod", "v1", "", "", "", "extra"},
		},
	}
}

func TestRenderTableGolden(t *testing.T) {
	var b strings.Builder
	b.WriteString(RenderTable(statusTable()))
	b.WriteString("\n==== empty\n")
	b.WriteString(RenderTable(Table{Title: "Locks", Columns: []string{"scope", "owner", "reason", "until"}}))
	b.WriteString("\n==== reply\n")
	tbl := Table{Columns: []string{"#", "env", "version", "state", "by"}, Rows: [][]string{{"12", "prod", "v1.2.0", "running", "alice"}, {"11", "staging", "main@1a2b3c4", "succeeded", "bob"}}}
	b.WriteString(RenderReply(Reply{Text: "History of demo:", Table: &tbl}))
	golden(t, "table_status.txt", b.String())
}

func TestTextWidth(t *testing.T) {
	for s, want := range map[string]int{"": 0, "demo": 4, "前端": 4, "生产环境": 8, "e\u0301": 1, "ｆｕｌｌ": 8, "한국": 4} {
		if got := textWidth(s); got != want {
			t.Errorf("textWidth(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestRenderReply(t *testing.T) {
	in := cardFixtures()["succeeded"]
	r := Reply{Text: "Deploy #12 succeeded.\n", Cards: []Card{NewCard(in)}}
	got := RenderReply(r)
	want := "Deploy #12 succeeded.\n\n" + RenderText(NewCard(in))
	if got != want {
		t.Errorf("RenderReply:\n%s\nwant:\n%s", got, want)
	}
	if got := RenderReply(Reply{}); got != "" {
		t.Errorf("empty reply renders %q", got)
	}
}
