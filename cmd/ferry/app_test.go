package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// startApp writes yaml as a ferry.yaml of its own, builds the server on
// it, runs its engine, its forges and what services says of it, and
// serves its routes; everything stops when the test ends. log nil:
// discard.
func startApp(t *testing.T, yaml string, log *slog.Logger, services ...func(*app) func(context.Context) error) (*app, *httptest.Server) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, src, err := readConfig(path, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a, err := newApp(context.Background(), cfg, src, "http://ferry.test", log, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	for _, run := range a.replicaServices(ctx) {
		running.Go(func() { _ = run(ctx) })
	}
	running.Go(func() { _ = a.engine.Run(ctx) })
	for _, f := range a.forges {
		running.Go(func() { _ = f.Run(ctx) })
	}
	for _, s := range services {
		run := s(a)
		running.Go(func() { _ = run(ctx) })
	}
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() { srv.Close(); cancel(); running.Wait(); a.close() })
	return a, srv
}
