package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

const freezesUsage = "usage: ferry freezes [--config ferry.yaml]   the freeze windows open now and the next of each\n"

// freezesCommand runs `ferry freezes`: each freeze of the configuration,
// open now (until when) or when it opens next, in its time zone.
func freezesCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := configFlags("freezes", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, freezesUsage) }
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprint(stderr, freezesUsage)
		return exitError(2)
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if len(cfg.Freezes) == 0 {
		fmt.Fprintln(stdout, "no freezes in "+*path)
		return nil
	}
	fmt.Fprint(stdout, describeFreezes(cfg.Freezes, time.Now()))
	return nil
}

// describeFreezes is a line per freeze: its name, what it covers, and its
// window open at now or the next one.
func describeFreezes(freezes []pipeline.Freeze, now time.Time) string {
	var b strings.Builder
	for i := range freezes {
		b.WriteString(freezes[i].Describe(now) + "\n")
	}
	return b.String()
}
