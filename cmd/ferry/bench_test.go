package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
)

// benchApp serves a whole ferry in-process over the e2e configuration.
func benchApp(b *testing.B) (*app, *httptest.Server) {
	b.Helper()
	cfgPath, _, _ := e2eConfig(b, "")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, source{}, "http://ferry.test", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.engine.Run(ctx); close(done) }()
	srv := httptest.NewServer(a.handler)
	b.Cleanup(func() { srv.Close(); cancel(); <-done; a.close() })
	return a, srv
}

func postCommand(b *testing.B, client *http.Client, url, token, text string) int {
	req, _ := http.NewRequest("POST", url+"/api/v1/commands", strings.NewReader(`{"text":`+strconv.Quote(text)+`}`))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return 0
	}
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	res.Body.Close()
	return res.StatusCode
}

func benchCommand(b *testing.B, text string) {
	_, srv := benchApp(b)
	client := srv.Client()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code := postCommand(b, client, srv.URL, "alice-token-0123456789", text); code != http.StatusOK {
				b.Errorf("%s: HTTP %d", text, code)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commands/s")
}

// BenchmarkCommandStatus measures POST /api/v1/commands with "status".
func BenchmarkCommandStatus(b *testing.B) { benchCommand(b, "status") }

// BenchmarkCommandDeploy measures deploy requests against the local target;
// each request queues a deploy (superseding the queued one before it) while
// the engine runs them.
func BenchmarkCommandDeploy(b *testing.B) { benchCommand(b, "deploy demo to staging") }

// BenchmarkApprovalToFirstUnit measures, on the engine's own clock, the time
// from an approval to the build starting and to the first unit starting,
// with the local target building a real checkout.
func BenchmarkApprovalToFirstUnit(b *testing.B) {
	a, srv := benchApp(b)
	ctx := context.Background()
	var toBuild, toUnit time.Duration
	for i := 0; i < b.N; i++ {
		code := postCommand(b, srv.Client(), srv.URL, "alice-token-0123456789", "deploy demo v1.0.0 to prod")
		if code != http.StatusOK {
			b.Fatalf("request: HTTP %d", code)
		}
		ds, _ := a.store.Deploys(ctx, pipeline.DeployFilter{Limit: 1})
		id := ds[0].ID
		postCommand(b, srv.Client(), srv.URL, "bob-token-0123456789", fmt.Sprintf("approve %d", id))
		var approved, built, first time.Time
		for deadline := time.Now().Add(30 * time.Second); first.IsZero(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("no unit started")
			}
			as, _ := a.store.Approvals(ctx, id)
			logs, _ := a.store.Logs(ctx, id, 0)
			units, _ := a.store.Units(ctx, id)
			for _, u := range units {
				if !u.Started.IsZero() && (first.IsZero() || u.Started.Before(first)) {
					first = u.Started
				}
			}
			if len(as) > 0 {
				approved = as[0].At
			}
			if len(logs) > 0 {
				built = logs[0].At
			}
		}
		toBuild += built.Sub(approved)
		toUnit += first.Sub(approved)
		for d, _ := a.store.Deploy(ctx, id); !d.State.Done(); d, _ = a.store.Deploy(ctx, id) {
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(float64(toBuild.Microseconds())/float64(b.N)/1000, "ms-to-build")
	b.ReportMetric(float64(toUnit.Microseconds())/float64(b.N)/1000, "ms-to-first-unit")
}

// BenchmarkServeReady starts the ferry binary and measures the time until it
// says it is ready, and its resident memory idle and after serving the
// board, the status and a page of deploys with 10,000 deploys in the store.
func BenchmarkServeReady(b *testing.B) {
	cfgPath, dir, _ := e2eConfig(b, "")
	buildFerry(b)
	b.ResetTimer()
	var total time.Duration
	var idle, loaded int
	for i := 0; i < b.N; i++ {
		start := time.Now()
		cmd, _ := startServer(b, cfgPath)
		total += time.Since(start)
		idle = rss(b, cmd.Process.Pid)
		cmd.Process.Kill()
		cmd.Wait()
	}
	b.StopTimer()
	seedDeploys(b, dir+"/ferry.db", 10000)
	cmd, url := startServer(b, cfgPath)
	client := &http.Client{}
	for _, path := range []string{"/api/v1/board", "/api/v1/deploys?limit=100", "/api/v1/deploys?project=demo&env=prod&limit=1000"} {
		req, _ := http.NewRequest("GET", url+path, nil)
		req.Header.Set("Authorization", "Bearer alice-token-0123456789")
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
		}
	}
	postCommand(b, client, url, "alice-token-0123456789", "status")
	postCommand(b, client, url, "alice-token-0123456789", "history demo")
	loaded = rss(b, cmd.Process.Pid)
	cmd.Process.Kill()
	cmd.Wait()
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms-to-ready")
	b.ReportMetric(float64(idle)/1024, "MB-rss-idle")
	b.ReportMetric(float64(loaded)/1024, "MB-rss-10k-deploys")
}

// rss reads a process's resident set size in KiB.
func rss(b testing.TB, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// seedDeploys stores n finished deploys, as months of history would.
func seedDeploys(b *testing.B, path string, n int) {
	ctx := context.Background()
	st, err := storage.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	envs := []string{"staging", "prod"}
	for i := 0; i < n; i++ {
		d := pipeline.Deploy{Project: "demo", Env: envs[i%2], Kind: pipeline.KindDeploy, Ref: "main", Commit: "1111111aaaa", Version: "main@1111111", Requester: "alice"}
		if err := st.CreateDeploy(ctx, &d); err != nil {
			b.Fatal(err)
		}
		d.Release = strconv.FormatInt(d.ID, 10)
		now := time.Now()
		for _, tr := range [][2]pipeline.State{{pipeline.StateRequested, pipeline.StateQueued}, {pipeline.StateQueued, pipeline.StateRunning}, {pipeline.StateRunning, pipeline.StateSucceeded}} {
			if _, err := st.Transition(ctx, pipeline.Transition{DeployID: d.ID, From: tr[0], To: tr[1], Actor: "ferry", At: now}, func(x *pipeline.Deploy) {
				x.Release, x.StartedAt, x.FinishedAt = d.Release, now, now
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
