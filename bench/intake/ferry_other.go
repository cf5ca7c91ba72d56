//go:build !linux

package main

import (
	"os/exec"
	"time"
)

// dieWithParent does nothing where the kernel cannot tie ferry's life to
// this program's: a run stopped by kill -9 leaves ferry running.
func dieWithParent(*exec.Cmd) {}

// processCPU and selfCPU are not read here: the table shows "-".
func processCPU(int) (time.Duration, bool) { return 0, false }
func selfCPU() (time.Duration, bool)       { return 0, false }
func rss(int) (int64, bool)                { return 0, false }
func status(int, string) (int64, bool)     { return 0, false }
