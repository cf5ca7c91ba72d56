package main

import (
	"os"
	"testing"
)

func TestProcStatus(t *testing.T) {
	got, ok := rss(os.Getpid())
	if !ok || got < 1<<20 {
		t.Errorf("this test's own resident memory = %d, %v; want at least a MiB", got, ok)
	}
	if _, ok := status(os.Getpid(), "NoSuchKey:"); ok {
		t.Error("a key /proc/self/status does not have was read")
	}
}
