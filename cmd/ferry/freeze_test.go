package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// TestFreezeEverySurface: while a freeze is open, a deploy asked through
// the API (as the CLI and the console do) and one a GitLab push asks for
// are refused with the window's name, reason and end; the refusal is
// audited, and nothing is deployed.
func TestFreezeEverySurface(t *testing.T) {
	repo := gittest.NewRepo(t)
	sha := repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	repo.Branch(t, "master")
	t.Setenv("GIT_CONFIG_COUNT", "1")
	t.Setenv("GIT_CONFIG_KEY_0", "url."+repo.Path()+".insteadOf")
	t.Setenv("GIT_CONFIG_VALUE_0", "http://example.com/mike/diaspora.git")
	yaml := `storage: ferry.db
workspace: workspace
users:
  alice: {tokens: ["alice-token-0123456789"], forge: {gitlab: jsmith}}
gitlab:
  webhook_secret: gitlab-hook-secret
freezes:
  - name: year-end
    envs: ["*"]
    from: "2026-01-01T00:00:00Z"
    until: "2099-01-04T00:00:00Z"
    reason: year-end change freeze
projects:
  diaspora:
    repo: http://example.com/mike/diaspora.git
    environments:
      staging:
        branches: ['^master$']
        default_ref: master
        auto: true
        target: {type: local, hosts: [a], root: hosts/diaspora}
`
	a, srv := startApp(t, yaml, nil)
	const why = "diaspora/staging is frozen by year-end until Sun 4 Jan 2099 00:00 UTC (year-end change freeze)"

	if code, body := command(t, srv.URL, aliceToken, "deploy diaspora to staging"); code != http.StatusForbidden || !strings.Contains(body, why) {
		t.Fatalf("the API: %d %s", code, body)
	}

	push, err := os.ReadFile("../../forge/gitlab/testdata/push.json")
	if err != nil {
		t.Fatal(err)
	}
	push = bytes.ReplaceAll(push, []byte("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"), []byte(sha))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/gitlab", bytes.NewReader(push))
	req.Header.Set("X-Gitlab-Event", "Push Hook")
	req.Header.Set("X-Gitlab-Token", "gitlab-hook-secret")
	req.Header.Set("Idempotency-Key", "freeze-push-1")
	res, err := srv.Client().Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the push: %v %v", res, err)
	}
	res.Body.Close()
	var denied []pipeline.AuditEntry
	for deadline := time.Now().Add(10 * time.Second); len(denied) < 2 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		log, err := a.store.AuditLog(context.Background(), 50)
		if err != nil {
			t.Fatal(err)
		}
		denied = denied[:0]
		for _, e := range log {
			if e.Action == "deploy denied" && strings.Contains(e.Detail, why) {
				denied = append(denied, e)
			}
		}
	}
	if len(denied) < 2 {
		t.Fatalf("refusals audited: %+v; want the API's and the push's", denied)
	}
	ds, err := a.engine.Deploys(context.Background(), pipeline.DeployFilter{States: []pipeline.State{pipeline.StateQueued, pipeline.StateRunning, pipeline.StateSucceeded}})
	if err != nil || len(ds) != 0 {
		t.Fatalf("deployed in a freeze: %+v %v", ds, err)
	}
}

func TestDescribeFreezes(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2026, 12, 21, 12, 0, 0, 0, time.UTC)
	fs := []pipeline.Freeze{
		{Name: "year-end", Envs: []string{"prod"}, From: time.Date(2026, 12, 20, 0, 0, 0, 0, berlin), Until: time.Date(2027, 1, 4, 0, 0, 0, 0, berlin), Loc: berlin, Reason: "year-end change freeze"},
		{Name: "old", Envs: []string{"*"}, From: now.Add(-48 * time.Hour), Until: now.Add(-24 * time.Hour), NoRollbacks: true},
	}
	want := "year-end [prod]: open until Mon 4 Jan 2027 00:00 CET (year-end change freeze)\nold [*]: no window to come; rollbacks refused too\n"
	if got := describeFreezes(fs, now); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
