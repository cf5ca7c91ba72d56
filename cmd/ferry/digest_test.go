package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDigestAndGenCommands(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(path, []byte("storage: ferry.db\nprojects:\n  demo:\n    repo: ./demo\n    environments:\n      prod:\n        target: {type: local, hosts: [a], root: hosts}\n"), 0o644)
	if _, errOut, err := runFerry(t, "digest", "--send", "--config", path); err != exitError(1) || !strings.Contains(errOut, "no digest to send: add dashboards.digest.channels") {
		t.Errorf("digest --send without channels: %v %s", err, errOut)
	}
	if _, errOut, err := runFerry(t, "digest", "--send", "now"); err != exitError(2) || !strings.Contains(errOut, "usage: ferry digest --send") {
		t.Errorf("digest --send with a word: %v %s", err, errOut)
	}
	// digest preview goes to the server, like any command.
	if _, errOut, err := runFerry(t, "digest", "preview", "--token", ""); err != exitError(1) || !strings.Contains(errOut, "no API token") {
		t.Errorf("digest preview without a token: %v %s", err, errOut)
	}
	db := filepath.Join(dir, "gen.db")
	out, errOut, err := runFerry(t, "gen-deploys", "--db", db, "--deploys", "300", "--end", "2026-11-09")
	if err != nil || !strings.Contains(out, "generated 300 deploys in") {
		t.Fatalf("gen-deploys: %v %s %s", err, out, errOut)
	}
	if _, errOut, err := runFerry(t, "gen-deploys", "--db", db); err != exitError(1) || !strings.Contains(errOut, "exists") {
		t.Errorf("gen-deploys into an existing file: %v %s", err, errOut)
	}
}
