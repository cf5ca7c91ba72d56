package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ferrybot/ferry/dashboards/gen"
	"github.com/ferrybot/ferry/storage"
)

// genDeploys runs `ferry gen-deploys`: it fills a new database with made-up
// deploys, to measure the dashboards at scale, and says how long it took
// and how big the file is.
func genDeploys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen-deploys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("db", "", "the database `file` to create; it must not exist")
	n := fs.Int("deploys", 1_000_000, "how many deploys")
	endFlag := fs.String("end", "", "the `date` (2006-01-02, UTC) the deploys stop before; default: today")
	seed := fs.Uint64("seed", 1, "the same seed makes the same deploys")
	if err := fs.Parse(args); err != nil || *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: ferry gen-deploys --db FILE [--deploys N] [--end 2006-01-02] [--seed N]")
		return exitError(2)
	}
	end := time.Now().UTC().Truncate(24 * time.Hour)
	if *endFlag != "" {
		t, err := time.Parse("2006-01-02", *endFlag)
		if err != nil {
			fmt.Fprintf(stderr, "ferry: --end %q is not a date like 2026-11-09\n", *endFlag)
			return exitError(2)
		}
		end = t
	}
	if _, err := os.Stat(*path); err == nil {
		fmt.Fprintf(stderr, "ferry: %s exists; gen-deploys makes a new database\n", *path)
		return exitError(1)
	}
	st, err := storage.Open(ctx, *path)
	if err != nil {
		return err
	}
	defer st.Close()
	began := time.Now()
	if err := gen.Generate(ctx, st, gen.Options{Deploys: *n, End: end, Seed: *seed}); err != nil {
		return err
	}
	took := time.Since(began)
	size := int64(0)
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(*path + suffix); err == nil {
			size += fi.Size()
		}
	}
	fmt.Fprintf(stdout, "generated %d deploys in %v into %s (%.0f MiB)\n", *n, took.Round(100*time.Millisecond), *path, float64(size)/(1<<20))
	return nil
}
