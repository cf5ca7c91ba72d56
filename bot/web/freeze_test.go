package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// TestBoardShowsFreeze: the board and GET /api/v1/board say which
// environment a freeze holds, why and until when.
func TestBoardShowsFreeze(t *testing.T) {
	f := newFixture(t, setup{freezes: []pipeline.Freeze{{Name: "year-end", Envs: []string{"prod"}, Reason: "year-end change freeze",
		From: t0.Add(-time.Hour), Until: t0.Add(48 * time.Hour)}}})
	page := f.get(f.signIn("alice", alicePassword), "/board")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, `<span class="badge tone-bad">frozen</span> by <b>year-end</b>: year-end change freeze`) {
		t.Fatalf("board: %d\n%s", page.StatusCode, page.Body)
	}
	if !strings.Contains(page.Body, `<li><span class="badge tone-bad">freeze</span> year-end [prod]: open until Wed 4 Nov 2026 10:00 UTC (year-end change freeze)</li>`) {
		t.Fatalf("the board lists no freeze:\n%s", page.Body)
	}
	var board APIBoard
	if res := f.api(http.MethodGet, "/api/v1/board", aliceToken, "", &board); res.StatusCode != http.StatusOK {
		t.Fatalf("api: %+v", res)
	}
	frozen := map[string]*APIFreeze{}
	for _, e := range board.Environments {
		frozen[e.Env] = e.Freeze
	}
	if fr := frozen["prod"]; fr == nil || fr.Name != "year-end" || !fr.End.Equal(t0.Add(48*time.Hour)) || frozen["staging"] != nil {
		t.Fatalf("api board freezes: %+v", frozen)
	}
}
