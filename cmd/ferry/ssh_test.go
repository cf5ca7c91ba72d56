package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/targets/ssh/sshtest"
)

// TestSSHTrust records a host key after the person says yes, and writes
// nothing when they say no.
func TestSSHTrust(t *testing.T) {
	fleet := sshtest.Start(t, 1)
	host := fleet.Hosts[0]
	file := filepath.Join(t.TempDir(), "known_hosts")
	trust := func(answer string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"ssh", "trust", "--known-hosts", file, host.Addr}, strings.NewReader(answer), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	out, err := trust("n\n")
	if err == nil || !strings.Contains(out, "SHA256:") {
		t.Fatalf("declined: %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(file); len(data) != 0 {
		t.Fatalf("a declined key was written: %s", data)
	}
	if out, err = trust("y\n"); err != nil || !strings.Contains(out, "knows the key of "+host.Addr) {
		t.Fatalf("accepted: %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(file); !strings.Contains(string(data), host.KnownHostsLine()[strings.Index(host.KnownHostsLine(), " ")+1:]) {
		t.Errorf("known_hosts lacks the host's key:\n%s", data)
	}
}

func TestCheckSSHTarget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	os.WriteFile(path, []byte(`projects:
  demo:
    repo: ./demo
    environments:
      prod:
        target: {type: ssh, hosts: [web1], root: /srv/demo, key: id_ed25519}
`), 0o644)
	_, errOut, err := runFerry(t, "check", "--config", path)
	if err != exitError(1) || !strings.Contains(errOut, "environment prod: target: ") || !strings.Contains(errOut, "known_hosts") {
		t.Fatalf("check of an ssh target without known_hosts: %v\n%s", err, errOut)
	}
}
