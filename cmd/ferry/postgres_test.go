package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage/pgtest"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// TestServeOnPostgres: with storage: postgres://…, ferry migrates the
// database and deploys, as on SQLite.
func TestServeOnPostgres(t *testing.T) {
	dsn := pgtest.Start(t)
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	yaml := "storage: " + dsn + "\nsession_secret: " + strings.Repeat("k", 32) + `
workspace: workspace
users:
  alice: {tokens: ["alice-token-0123456789"]}
projects:
  demo:
    repo: ` + repo.Path() + `
    environments:
      dev:
        branches: ['^main$']
        default_ref: main
        target: {type: local, hosts: [a, b], root: hosts/demo}
`
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, "http://ferry.test", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Go(func() { _ = a.engine.Run(ctx) })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() { srv.Close(); cancel(); running.Wait(); a.close() })
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/commands", strings.NewReader(`{"text":"deploy demo to dev"}`))
	req.Header.Set("Authorization", "Bearer alice-token-0123456789")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("deploy: %d %s", res.StatusCode, body)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		d, err := a.store.Deploy(context.Background(), 1)
		if err == nil && d.State == pipeline.StateSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deploy 1: %+v %v", d, err)
		}
	}
	if res, err := srv.Client().Get(srv.URL + "/readyz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz on PostgreSQL: %v %v", res, err)
	}
}
