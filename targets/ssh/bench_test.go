package ssh_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/ssh"
	"github.com/ferrybot/ferry/targets/ssh/sshtest"
	"github.com/ferrybot/ferry/targets/workspace"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// build20MB is a build of about 20 MB: 200 files, 40% random bytes (as in
// images and binaries), 60% text that compresses about 4:1 (as in code).
func build20MB() map[string]string {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("function return const value release deploy ferry host batch canary health check index module export import")
	files := map[string]string{}
	for i := range 200 {
		var b strings.Builder
		if i%5 < 2 {
			raw := make([]byte, 100<<10)
			for j := range raw {
				raw[j] = byte(rng.Uint32())
			}
			b.Write(raw)
		} else {
			for b.Len() < 100<<10 {
				fmt.Fprintf(&b, "%s %s(%d) { %s %s; }\n", words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.IntN(1e6), words[rng.IntN(len(words))], words[rng.IntN(len(words))])
			}
		}
		files[fmt.Sprintf("assets/%02d/file%03d.bin", i/20, i)] = b.String()
	}
	return files
}

// BenchmarkDeploy builds a 20 MB release and installs it on every host in
// parallel, as a batch of the engine does. Warm: the driver's connections
// are there from the deploy before, as in a running ferry; cold: a new
// driver dials every host.
func BenchmarkDeploy(b *testing.B) {
	files := build20MB()
	for _, n := range []int{1, 10} {
		for _, cold := range []bool{false, true} {
			name := fmt.Sprintf("hosts=%d", n)
			if cold {
				name += "/cold"
			}
			b.Run(name, func(b *testing.B) { benchDeploy(b, n, cold, files) })
		}
	}
}

func benchDeploy(b *testing.B, n int, cold bool, files map[string]string) {
	fleet := sshtest.Start(b, n)
	repo := gittest.NewRepo(b)
	hash := repo.Commit(b, files, "20 MB")
	ws, err := workspace.New(workspace.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	var hosts []any
	for _, h := range fleet.Hosts {
		hosts = append(hosts, map[string]any{"name": h.Name, "address": "127.0.0.1", "port": h.Port})
	}
	cfg, err := ssh.ParseConfig(map[string]any{
		"hosts": hosts, "user": fleet.User, "key": fleet.Key, "known_hosts": fleet.KnownHosts,
		"root": fleet.Dir + "/{{host}}", "keep": 2,
	})
	if err != nil {
		b.Fatal(err)
	}
	newDriver := func() *ssh.Driver {
		d, err := ssh.New(cfg, workspace.Setup{Project: "demo", Env: "prod", Workspace: ws})
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d := newDriver()
	defer func() { d.Close() }()
	log := &stepLog{}
	deploy := func(id int) time.Duration {
		r := pipeline.Release{ID: strconv.Itoa(id), DeployID: int64(id), Project: "demo", Env: "prod", Repo: repo.Path(), Commit: hash, Version: "bench"}
		start := time.Now()
		if err := d.Build(ctx, r, log); err != nil {
			b.Fatal(err)
		}
		built := time.Since(start)
		var wg sync.WaitGroup
		for _, h := range fleet.Hosts {
			wg.Go(func() {
				if _, err := d.Install(ctx, h.Name, r, log); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		return built
	}
	deploy(0) // the checkout, and the connections of a warm driver
	var build time.Duration
	b.ResetTimer()
	for i := range b.N {
		if cold {
			b.StopTimer()
			d.Close()
			d = newDriver()
			b.StartTimer()
		}
		build += deploy(i + 1)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	b.ReportMetric(float64(build.Milliseconds())/float64(b.N), "build-ms/op")
}
