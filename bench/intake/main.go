// Command intake measures ferry's webhook intake from outside, the way a
// forge meets it: it starts a built ferry (`make bench-intake` builds
// bin/ferry first) on a free port of 127.0.0.1 with a throw-away
// configuration and SQLite database, sends it real deliveries of one
// forge (--forge: GitHub's pull_request by default, GitLab's or Gitee's
// Merge Request Hook) over HTTP and prints one table:
//
//	go run ./bench/intake --ferry bin/ferry [--forge github|gitlab|gitee] [--duration 5s] [--warmup 1s] [--workers 32] [--rate 500] [--keep]
//
// Four loads run in turn, each bounded in time and in count:
//
//  1. accepted, closed loop: --workers senders, each sending its next
//     delivery when the last is answered, for --duration after --warmup:
//     deliveries answered 2xx per second, p50 and p99 latency;
//  2. accepted, open loop: --rate deliveries per second for --duration on
//     a fixed schedule, whatever the answers; latency is measured from each
//     delivery's scheduled time, so a stall counts against every delivery it
//     delayed (no coordinated omission);
//  3. and 4. the same with a forged token, which ferry must answer 401:
//     for GitHub a signature of 64 hex digits that is not the HMAC, for
//     GitLab a wrong secret token of the right length, for Gitee a
//     well-formed Base64 X-Gitee-Token that is not the HMAC;
//
// then the ratio of the closed loops' throughputs and a line naming the
// forge, the machine and the flags. Each load's row also shows the CPU
// ferry and the generator used while it was measured (as top shows it:
// 100% is one core, read on Linux) and what ferry logged meanwhile.
//
// Every delivery is the forge's real payload with a number of its own
// (same width, so same size, valid JSON): GitHub's 28 KB pull_request
// "opened" with its own pull_request.id under its own X-GitHub-Delivery;
// GitLab's 6 KB "open" with its own last commit SHA under its own
// Idempotency-Key and X-Gitlab-Event-UUID; Gitee's 21 KB "open" with its
// own pull_request.id under its own X-Gitee-Timestamp, one millisecond
// after the last from half an hour before the run (ferry knows a signed
// Gitee delivery by its timestamp, and accepts one within the hour). So
// none is a redelivery or a replay of another. The tokens of accepted
// deliveries are computed before their loads, on every CPU; bodies are
// not copied: each is sent from the shared payload with its digits in
// between. A forged token costs one SHA-256 of the delivery ID, in the
// sender. ferry's configuration has one project whose repository is not
// the payload's: every delivery is verified and stored, none acted on.
//
// With --flood N (`make bench-flood`: 50; GitHub only) it runs none of
// those and floods ferry instead, as an attacker would: N connections
// each declare a 25 MiB body under a well-formed signature that is not
// the HMAC, send it slowly and stop one byte short, for --flood-for; it
// prints what the posts were answered, ferry's resident memory at the
// start and at its peak, and how the console's sign-in page, asked every
// 100 ms meanwhile, answered.
//
// ferry is stopped with SIGTERM, then SIGKILL 10 s later, however the run
// ends, and the temporary directory is removed unless --keep. intake
// exits 1 when more than 0.1% of a load's deliveries got another answer
// than expected. The generator shares the machine with ferry: on a
// 2-core machine it takes CPU ferry would otherwise have.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/ferrybot/ferry/storage/pgtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "intake:", err)
		os.Exit(1)
	}
}

// errUsage is a command line the flag package has already explained.
var errUsage = errors.New("usage")

// run starts ferry, runs the loads against it, prints the table on stdout
// and progress on stderr, and stops ferry.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("intake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("ferry", "", "the ferry `binary` to start, e.g. bin/ferry (required)")
	forge := fs.String("forge", forgeGitHub, "whose webhook to measure: github (/hooks/github), gitlab or gitee")
	var o options
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured `time` of each load")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured sending before each closed loop (`time`; 0: none)")
	fs.IntVar(&o.workers, "workers", 32, "concurrent senders of the closed loops")
	fs.Float64Var(&o.rate, "rate", 500, "deliveries per second of the open loops")
	floodConns := fs.Int("flood", 0, "instead of the loads, flood /hooks/github from this many `connections`, each posting 25 MiB slowly, and report ferry's memory and the console's answers")
	floodFor := fs.Duration("flood-for", 15*time.Second, "how long the flood lasts (`time`)")
	fs.BoolVar(&o.postgres, "postgres", false, "store in a throw-away PostgreSQL server (Debian's postgresql package, every commit on disk) instead of SQLite")
	keep := fs.Bool("keep", false, "keep the temporary directory (configuration, database, ferry.log) and print its path")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	switch {
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *bin == "":
		err = errors.New("--ferry is required: the binary to start, e.g. bin/ferry")
	case o.duration <= 0 || o.warmup < 0:
		err = errors.New("--duration must be positive and --warmup not negative")
	case o.workers < 1 || o.rate <= 0:
		err = errors.New("--workers and --rate must be positive")
	case *floodConns < 0 || *floodConns > 1000 || *floodFor <= 0 || *floodFor > 10*time.Minute:
		err = errors.New("--flood must be from 0 to 1000 connections, and --flood-for positive and at most 10m")
	case *floodConns > 0 && *forge != forgeGitHub:
		err = errors.New("--flood floods /hooks/github only: leave out --forge")
	}
	var hook webhook
	if err == nil {
		hook, err = webhookOf(*forge)
	}
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		fs.Usage()
		return errUsage
	}

	// ferry runs in the temporary directory: a relative path is not.
	if *bin, err = filepath.Abs(*bin); err != nil {
		return fmt.Errorf("--ferry: %w", err)
	}
	if _, err := os.Stat(*bin); err != nil {
		return fmt.Errorf("--ferry: %w (make bench-intake builds bin/ferry)", err)
	}
	dir, err := os.MkdirTemp("", "ferry-bench-intake-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer func() {
		if *keep {
			fmt.Fprintf(stderr, "kept %s\n", dir)
		} else if rmErr := os.RemoveAll(dir); rmErr != nil && err == nil {
			err = fmt.Errorf("remove %s: %w", dir, rmErr)
		}
	}()
	secret, session := randomHex(32), randomHex(32)
	var storage string
	if o.postgres {
		pg, err := pgtest.StartDurableServer()
		if err != nil {
			return fmt.Errorf("--postgres: %w", err)
		}
		defer pg.Stop()
		storage = pg.DSN()
	}
	config, err := writeConfig(dir, hook.forge, secret, session, storage)
	if err != nil {
		return err
	}
	d, err := newDeliveries(hook, []byte(secret), time.Now())
	if err != nil {
		return err
	}
	f, err := startFerry(ctx, *bin, dir, config)
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := f.stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	fmt.Fprintf(stderr, "ferry ready at %s (%s)\n", f.url, dir)
	if *floodConns > 0 {
		fmt.Fprintf(stderr, "flood: %d connections for %s\n", *floodConns, *floodFor)
		return writeFlood(stdout, flood(ctx, f, *floodConns, *floodFor))
	}

	s := newSender(f.url+hook.route(), d, o.workers)
	defer s.client.CloseIdleConnections()
	rows, err := bench(ctx, s, o, f.meter(), stderr)
	if err != nil {
		return err
	}
	if err := writeTable(stdout, rows, footer(hook, o)); err != nil {
		return err
	}
	return failures(rows)
}

// footer names the forge, the machine and the flags of a run.
func footer(w webhook, o options) string {
	return fmt.Sprintf("%s\nmachine: %d CPUs (runtime.NumCPU), GOMAXPROCS %d, %s/%s, shared by ferry, its database and the generator; flags: --forge %s --duration %s --warmup %s --workers %d --rate %g --postgres=%t",
		w.footer(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, w.forge, o.duration, o.warmup, o.workers, o.rate, o.postgres)
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
