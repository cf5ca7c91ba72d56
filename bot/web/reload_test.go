package web

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

// TestAPIReload: an admin's reload answers what was loaded, or 422 with
// the problems of a refused file; anyone else is refused before anything
// is read.
func TestAPIReload(t *testing.T) {
	var asked []string
	answers := []APIReload{
		{Loaded: true, SHA256: "0123456789ab", Users: 3, Teams: 1, Projects: 1, Environments: 2, Changes: "users +carol"},
		{SHA256: "ba9876543210", Problems: []string{"ferry.yaml:4: users.dave: unknown key admn"}},
	}
	f := newFixture(t, setup{reload: func(_ context.Context, actor string) APIReload {
		asked = append(asked, actor)
		r := answers[0]
		answers = answers[1:]
		return r
	}})
	f.users["carol"] = pipeline.User{Name: "carol", Admin: true, Tokens: []string{carolToken}}

	var refusal APIError
	if res := f.api(http.MethodPost, "/api/v1/reload", aliceToken, "", &refusal); res.StatusCode != http.StatusForbidden || refusal.Error == "" {
		t.Fatalf("alice's reload: %d %s", res.StatusCode, res.Body)
	}
	var got APIReload
	if res := f.api(http.MethodPost, "/api/v1/reload", carolToken, "", &got); res.StatusCode != http.StatusOK || !got.Loaded || got.Users != 3 || got.Changes != "users +carol" {
		t.Fatalf("carol's reload: %d %s", res.StatusCode, res.Body)
	}
	got = APIReload{}
	if res := f.api(http.MethodPost, "/api/v1/reload", carolToken, "", &got); res.StatusCode != http.StatusUnprocessableEntity || got.Loaded || len(got.Problems) != 1 || got.Error == "" {
		t.Fatalf("a refused reload: %d %s", res.StatusCode, res.Body)
	}
	if !slices.Equal(asked, []string{"carol", "carol"}) {
		t.Errorf("reloads asked by %v", asked)
	}
}

func TestAPIReloadWithoutAReloader(t *testing.T) {
	f := newFixture(t)
	f.users["carol"] = pipeline.User{Name: "carol", Admin: true, Tokens: []string{carolToken}}
	if res := f.api(http.MethodPost, "/api/v1/reload", carolToken, "", nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a reload without a reloader: %d %s", res.StatusCode, res.Body)
	}
}
