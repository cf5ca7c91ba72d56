package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// forgesConfig is a ferry.yaml with gitlab: and gitee: sections (no API
// tokens) and a project on each forge's repository of the pushes in their
// packages' testdata.
const forgesConfig = `storage: ferry.db
workspace: workspace
users:
  alice: {tokens: ["alice-token-0123456789"]}
gitlab:
  webhook_secret: gitlab-hook-secret
gitee:
  webhook_secret: gitee-hook-password
projects:
  diaspora:
    repo: http://example.com/mike/diaspora.git
    environments:
      staging:
        branches: ['^master$']
        auto: true
        target: {type: local, hosts: [a], root: hosts/diaspora}
  drone:
    repo: https://gitee.com/kit101/drone-yml-test.git
    environments:
      dev:
        branches: ['^feat-']
        auto: true
        target: {type: local, hosts: [a], root: hosts/drone}
`

// TestForgeRoutes: with gitlab: and gitee: in ferry.yaml, ferry serves
// /hooks/gitlab and /hooks/gitee, refuses deliveries without their
// secret, and deploys the pushes that come with it; without API tokens
// the forges are owed nothing.
func TestForgeRoutes(t *testing.T) {
	// Both repositories are one local repository, through git's
	// insteadOf, and the pushes are of its commit.
	repo := gittest.NewRepo(t)
	sha := repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	repo.Branch(t, "master")
	repo.Branch(t, "feat-2-1")
	t.Setenv("GIT_CONFIG_COUNT", "2")
	for i, u := range []string{"http://example.com/mike/diaspora.git", "https://gitee.com/kit101/drone-yml-test.git"} {
		t.Setenv(fmt.Sprintf("GIT_CONFIG_KEY_%d", i), "url."+repo.Path()+".insteadOf")
		t.Setenv(fmt.Sprintf("GIT_CONFIG_VALUE_%d", i), u)
	}
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(path, []byte(forgesConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := runFerry(t, "check", "--config", path); err != nil {
		t.Fatalf("check: %v\n%s%s", err, out, errOut)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := newApp(context.Background(), cfg, source{}, "http://ferry.test", slog.New(slog.NewTextHandler(&logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	for _, f := range a.forges { // each handles what its ingress stored
		running.Go(func() { f.Run(ctx) })
	}
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() { srv.Close(); cancel(); running.Wait(); a.close() })
	sinks := a.sinks()
	for _, platform := range []string{"gitlab", "gitee"} {
		if sinks[platform] == nil {
			t.Errorf("no %s sink in %v", platform, slices.Collect(maps.Keys(sinks)))
		}
	}
	post := func(path, file string, headers map[string]string) int {
		t.Helper()
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, pushed := range []string{"da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "9921e45e570db8e57e544650baf837932fb2100f"} {
			body = bytes.ReplaceAll(body, []byte(pushed), []byte(sha))
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	gitlabPush, giteePush := "../../forge/gitlab/testdata/push.json", "../../forge/gitee/testdata/push_hooks.json"
	for _, c := range []struct {
		path, file string
		headers    map[string]string
	}{
		{"/hooks/gitlab", gitlabPush, map[string]string{"X-Gitlab-Event": "Push Hook", "Idempotency-Key": "k1"}},
		{"/hooks/gitlab", gitlabPush, map[string]string{"X-Gitlab-Event": "Push Hook", "Idempotency-Key": "k1", "X-Gitlab-Token": "wrong"}},
		{"/hooks/gitee", giteePush, map[string]string{"X-Gitee-Event": "Push Hook"}},
		{"/hooks/gitee", giteePush, map[string]string{"X-Gitee-Event": "Push Hook", "X-Gitee-Token": "wrong"}},
	} {
		if code := post(c.path, c.file, c.headers); code != http.StatusUnauthorized {
			t.Errorf("%s %v: %d, want 401", c.path, c.headers, code)
		}
	}
	if code := post("/hooks/gitlab", gitlabPush, map[string]string{"X-Gitlab-Event": "Push Hook", "Idempotency-Key": "k1",
		"X-Gitlab-Token": "gitlab-hook-secret"}); code != http.StatusOK {
		t.Errorf("the GitLab push: %d", code)
	}
	if code := post("/hooks/gitee", giteePush, map[string]string{"X-Gitee-Event": "Push Hook",
		"X-Gitee-Token": "gitee-hook-password"}); code != http.StatusOK {
		t.Errorf("the Gitee push: %d", code)
	}

	var ds []pipeline.Deploy
	for deadline := time.Now().Add(10 * time.Second); len(ds) < 2 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ds, err = a.engine.Deploys(context.Background(), pipeline.DeployFilter{}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.Project+"/"+d.Env+"@"+d.Commit[:7])
	}
	slices.Sort(got)
	if want := []string{"diaspora/staging@" + sha[:7], "drone/dev@" + sha[:7]}; !slices.Equal(got, want) {
		t.Errorf("deploys %v, want %v", got, want)
	}
	notices, err := a.store.Notices(context.Background(), pipeline.NoticeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notices {
		if n.Platform == "gitlab" || n.Platform == "gitee" {
			t.Errorf("a forge without an API token is owed %s %s", n.Platform, n.Dest)
		}
	}
	for _, secret := range []string{"gitlab-hook-secret", "gitee-hook-password"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log has %q", secret)
		}
	}
}
