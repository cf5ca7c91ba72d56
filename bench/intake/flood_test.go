package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/ferrybot/ferry/internal/golden"
)

func TestWriteFlood(t *testing.T) {
	var b bytes.Buffer
	err := writeFlood(&b, floodResult{conns: 50, answers: map[string]int{"503": 49, "408": 1},
		startRSS: 57_100_000, peakRSS: 85_300_000, consoleOf: 150, elapsed: 15 * time.Second,
		console: []time.Duration{2 * time.Millisecond, time.Millisecond, 3 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/flood.golden", b.Bytes())
}
