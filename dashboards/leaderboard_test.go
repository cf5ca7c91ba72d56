package dashboards

import (
	"context"
	"reflect"
	"testing"
)

func TestRankSharesPlaces(t *testing.T) {
	es := []Entry{{Name: "d", score: 5}, {Name: "a", score: 9}, {Name: "c", score: 5}, {Name: "b", score: 9}, {Name: "e", score: 1}, {Name: "f", score: 5}}
	got := rank(es, 3)
	var names []string
	var ranks []int
	for _, e := range got {
		names, ranks = append(names, e.Name), append(ranks, e.Rank)
	}
	// a and b share first place; c, d and f share third, and all three
	// are shown although the board has three places; e is fifth.
	if want := []string{"a", "b", "c", "d", "f"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names = %v; want %v", names, want)
	}
	if want := []int{1, 1, 3, 3, 3}; !reflect.DeepEqual(ranks, want) {
		t.Errorf("ranks = %v; want %v", ranks, want)
	}
	if got := rank(nil, 3); len(got) != 0 {
		t.Errorf("rank of nothing = %v", got)
	}
}

// board finds one leaderboard and renders its places as "rank name value".
func board(t *testing.T, bs []Board, by Dimension, kind BoardKind) ([]string, string) {
	t.Helper()
	for _, b := range bs {
		if b.By == by && b.Kind == kind {
			var out []string
			for _, e := range b.Entries {
				out = append(out, string(rune('0'+e.Rank))+" "+e.Name+" "+e.Value)
			}
			return out, b.Note
		}
	}
	t.Fatalf("no board %s by %s", kind, by)
	return nil, ""
}

func TestLeaderboardsOfTheWeek(t *testing.T) {
	d := newTest(t, weekFacts(), Settings{OptOut: []string{"carol"}, MinDeploys: 2})
	bs, err := d.Leaderboards(context.Background(), All, week)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		by   Dimension
		kind BoardKind
		want []string
	}{
		{ByPerson, MostDeploys, []string{"1 alice 5", "2 bob 2"}}, // carol opted out
		{ByPerson, BestSuccessRate, []string{"1 alice 100%", "2 bob 0%"}},
		{ByPerson, FastestLeadTime, []string{"1 alice 1h30m"}}, // 2h10m, 1h30m, 1h: bob has none
		{ByPerson, CanaryCatches, []string{"1 bob 1"}},
		{ByTeam, MostDeploys, []string{"1 dev 7", "2 ops 1"}}, // carol counts for ops
		{ByTeam, BestSuccessRate, []string{"1 dev 67%"}},      // 4 of 6; ops has 1
		{ByProject, MostDeploys, []string{"1 api 7", "2 web 1"}},
		{ByProject, FastestLeadTime, []string{"1 api 1h30m"}}, // 2h10m, 1h30m, 1h
	}
	for _, tt := range tests {
		got, _ := board(t, bs, tt.by, tt.kind)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s by %s = %q; want %q", tt.kind, tt.by, got, tt.want)
		}
	}
	if got, note := board(t, bs, ByProject, CanaryCatches); len(got) != 1 || note != "" {
		t.Errorf("canary catches by project = %q, %q", got, note)
	}
	d = newTest(t, weekFacts(), Settings{MinDeploys: 10})
	bs, _ = d.Leaderboards(context.Background(), All, week, ByPerson)
	if got, note := board(t, bs, ByPerson, BestSuccessRate); len(got) != 0 || note != "nobody yet: a place needs 10 deploys with a verdict" {
		t.Errorf("success rate with 10 needed = %q, note %q", got, note)
	}
}
