package ssh_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferrybot/ferry/targets/ssh"
	"github.com/ferrybot/ferry/targets/workspace"
)

func TestUnknownHostKey(t *testing.T) {
	f := newFixture(t, 2, map[string]any{})
	web1, web2 := f.fleet.Host("web1"), f.fleet.Host("web2")
	known := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(known, []byte(web1.KnownHostsLine()+"\n"), 0o644)
	for _, file := range []string{known, filepath.Join(t.TempDir(), "missing")} {
		d := f.driver(t, map[string]any{"known_hosts": file})
		r := f.release(t, "1", map[string]string{"index.html": "one"})
		_, err := d.Install(testContext(t), "web2", r, &stepLog{})
		want := "ssh web2 (" + web2.Addr + "): host key is not in " + file + ": run ferry ssh trust " + web2.Addr
		if err == nil || err.Error() != want {
			t.Errorf("install on an unknown host = %v\nwant %s", err, want)
		}
		if entries, _ := os.ReadDir(web2.Root); len(entries) > 0 {
			t.Errorf("ferry wrote to the unknown host: %v", entries)
		}
	}
	d := f.driver(t, map[string]any{"known_hosts": known})
	if _, err := d.Install(testContext(t), "web1", f.release(t, "2", nil), &stepLog{}); err != nil {
		t.Errorf("install on the known host: %v", err)
	}
}

func TestChangedHostKey(t *testing.T) {
	f := newFixture(t, 1, map[string]any{})
	h := f.fleet.Host("web1")
	_, impostor := newKey(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(known, []byte(knownhosts.Line([]string{knownhosts.Normalize(h.Addr)}, impostor.PublicKey())+"\n"), 0o644)
	d := f.driver(t, map[string]any{"known_hosts": known})
	_, err := d.Install(testContext(t), "web1", f.release(t, "1", nil), &stepLog{})
	want := "ssh web1 (" + h.Addr + "): HOST KEY CHANGED: the host presents ssh-ed25519 " + xssh.FingerprintSHA256(h.Key) +
		", but known_hosts records ssh-ed25519 " + xssh.FingerprintSHA256(impostor.PublicKey()) + " (" + known + ":1): " +
		"someone may be intercepting the connection, or the host was reinstalled; check with its owner before you edit known_hosts; refusing to connect"
	if err == nil || err.Error() != want {
		t.Errorf("install = %v\nwant %s", err, want)
	}
	if entries, _ := os.ReadDir(h.Root); len(entries) > 0 {
		t.Errorf("ferry wrote to the host: %v", entries)
	}
}

func TestHostDown(t *testing.T) {
	f := newFixture(t, 2, map[string]any{})
	web2 := f.fleet.Host("web2")
	web2.Kill()
	r := f.release(t, "1", map[string]string{"index.html": "one"})
	ctx := testContext(t)
	if err := f.d.Build(ctx, r, &stepLog{}); err != nil {
		t.Fatal(err)
	}
	log := &stepLog{}
	_, err := f.d.Install(ctx, "web2", r, log)
	if err == nil || !strings.HasPrefix(err.Error(), "ssh web2 ("+web2.Addr+"): ") || !strings.HasSuffix(err.Error(), "connection refused") {
		t.Errorf("install on a host that is down = %v", err)
	}
	if steps := log.Steps(); len(steps) != 1 || steps[0] != "connect" {
		t.Errorf("steps = %v, want [connect]", steps)
	}
	if _, err := f.d.Install(ctx, "web1", r, &stepLog{}); err != nil {
		t.Errorf("install on web1 while web2 is down: %v", err)
	}

	// The host comes back; so does the connection to web1 after a crash.
	web2.Start()
	f.fleet.Host("web1").Kill()
	f.fleet.Host("web1").Start()
	for _, h := range f.fleet.Hosts {
		log := &stepLog{}
		if _, err := f.d.Install(ctx, h.Name, r, log); err != nil {
			t.Fatalf("install on %s after it came back: %v\n%s", h.Name, err, log)
		}
		if !strings.Contains(log.String(), "connected to") {
			t.Errorf("%s: no new connection:\n%s", h.Name, log)
		}
	}
}

// TestKilledDuringUpload kills a host while its tar reads the release:
// the install fails, current does not move, and a retry once the host is
// back completes the release.
func TestKilledDuringUpload(t *testing.T) {
	f := newFixture(t, 2, map[string]any{})
	web1 := f.fleet.Host("web1")
	r1 := f.release(t, "1", map[string]string{"index.html": "one"})
	f.deploy(t, r1)
	big := make([]byte, 4<<20)
	rand.Read(big)
	r2 := f.release(t, "2", map[string]string{"index.html": "two", "blob": string(big)})
	gate := filepath.Join(web1.Bin, "tar")
	os.WriteFile(gate, []byte("#!/bin/sh\nhead -c 100000 >/dev/null\ntouch \"$0.started\"\nwhile [ ! -f \"$0.go\" ]; do sleep 0.01; done\nexec /usr/bin/tar \"$@\"\n"), 0o755)

	ctx := testContext(t)
	if err := f.d.Build(ctx, r2, &stepLog{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.d.Install(ctx, "web1", r2, &stepLog{})
		done <- err
	}()
	waitFile(t, gate+".started")
	web1.Kill()
	err := <-done
	if want := "ssh web1: upload: the connection to the host was lost"; err == nil || err.Error() != want {
		t.Errorf("install on a host that died = %v, want %s", err, want)
	}
	if got := link(t, web1); got != "releases/"+dir(r1) {
		t.Errorf("web1 runs %q after dying in the upload, want release 1", got)
	}
	if exists(filepath.Join(web1.Root, "releases", dir(r2))) {
		t.Error("the half upload looks complete")
	}
	if _, err := f.d.Install(ctx, "web2", r2, &stepLog{}); err != nil {
		t.Errorf("web2 suffered from web1's death: %v", err)
	}

	os.Remove(gate)
	web1.Start()
	if prev, err := f.d.Install(ctx, "web1", r2, &stepLog{}); err != nil || prev != "1" {
		t.Fatalf("install once web1 is back = %q, %v", prev, err)
	}
	assertFile(t, filepath.Join(web1.Root, "current/blob"), string(big))
	if exists(filepath.Join(web1.Root, "releases", dir(r2)+".tmp")) {
		t.Error("the half upload was left behind")
	}
}

func TestKeys(t *testing.T) {
	f := newFixture(t, 1, map[string]any{})
	dir := t.TempDir()
	stranger, _ := newKey(t)
	strangerFile := filepath.Join(dir, "stranger")
	os.WriteFile(strangerFile, stranger, 0o600)
	r := f.release(t, "1", nil)
	_, err := f.driver(t, map[string]any{"key": strangerFile}).Install(testContext(t), "web1", r, &stepLog{})
	if err == nil || !strings.Contains(err.Error(), "the host refused the key(s) offered for user "+f.fleet.User) {
		t.Errorf("install with a key the host does not know = %v", err)
	}

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := xssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	locked := filepath.Join(dir, "locked")
	os.WriteFile(locked, pem.EncodeToMemory(block), 0o600)
	for file, want := range map[string]string{
		locked:                       "ssh: key " + locked + " is protected by a passphrase, which ferry cannot type: add it to ssh-agent and set agent: true, or use a key without one",
		filepath.Join(dir, "absent"): "ssh: key: open " + filepath.Join(dir, "absent") + ": no such file or directory",
		f.fleet.KnownHosts:           "ssh: key " + f.fleet.KnownHosts + " is not a private key ferry can read: ssh: no key found",
	} {
		cfg, err := ssh.ParseConfig(fleetParams(f.fleet, map[string]any{"key": file}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ssh.New(cfg, workspace.Setup{Project: "demo", Env: "prod", Workspace: f.ws}); err == nil || err.Error() != want {
			t.Errorf("New with key %s = %v\nwant %s", filepath.Base(file), err, want)
		}
	}
}

func TestAgent(t *testing.T) {
	f := newFixture(t, 1, map[string]any{})
	keyring := agent.NewKeyring()
	_, priv, _ := ed25519.GenerateKey(rand.Reader) // a key the host does not know comes first
	keyring.Add(agent.AddedKey{PrivateKey: priv})
	raw, err := xssh.ParseRawPrivateKey(mustRead(t, filepath.Join(f.fleet.Dir, ".client/id_ed25519")))
	if err != nil {
		t.Fatal(err)
	}
	keyring.Add(agent.AddedKey{PrivateKey: raw})
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			}()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	d := f.driver(t, map[string]any{"key": nil, "agent": true})
	if _, err := d.Install(testContext(t), "web1", f.release(t, "1", nil), &stepLog{}); err != nil {
		t.Errorf("install with the agent's key: %v", err)
	}

	t.Setenv("SSH_AUTH_SOCK", "")
	d = f.driver(t, map[string]any{"key": nil, "agent": true})
	_, err = d.Install(testContext(t), "web1", f.release(t, "2", nil), &stepLog{})
	if err == nil || !strings.HasSuffix(err.Error(), "agent: SSH_AUTH_SOCK is not set: start ssh-agent for ferry, or give a key") {
		t.Errorf("install without an agent = %v", err)
	}
}

// newKey makes an ed25519 key: the private key file's content and a signer.
func newKey(t *testing.T) ([]byte, xssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := xssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), signer
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTruncatedUpload cuts the tar stream between two members, which tar
// takes for a whole archive: the missing last member gives it away.
func TestTruncatedUpload(t *testing.T) {
	f := newFixture(t, 1, map[string]any{})
	h := f.fleet.Host("web1")
	os.WriteFile(filepath.Join(h.Bin, "tar"), []byte("#!/bin/sh\nhead -c 1024 | /usr/bin/tar \"$@\"\n"), 0o755)
	r := f.release(t, "1", map[string]string{"a.txt": "a", "b.txt": "b"})
	ctx := testContext(t)
	if err := f.d.Build(ctx, r, &stepLog{}); err != nil {
		t.Fatal(err)
	}
	_, err := f.d.Install(ctx, "web1", r, &stepLog{})
	if want := "ssh web1: upload: the upload ended before the whole release arrived"; err == nil || err.Error() != want {
		t.Errorf("install = %v, want %s", err, want)
	}
	if entries, _ := os.ReadDir(filepath.Join(h.Root, "releases")); len(entries) > 0 {
		t.Errorf("the cut upload left %v", entries)
	}
	os.Remove(filepath.Join(h.Bin, "tar"))
	if _, err := f.d.Install(ctx, "web1", r, &stepLog{}); err != nil {
		t.Fatal(err)
	}
	assertFile(t, filepath.Join(h.Root, "current/b.txt"), "b")
	if exists(filepath.Join(h.Root, "current/.ferry-complete")) {
		t.Error("the end marker stays in the release")
	}
}

func TestCompress(t *testing.T) {
	f := newFixture(t, 2, map[string]any{"compress": true, "exclude": "*.log"})
	r := f.release(t, "1", map[string]string{"index.html": "one", "x.log": "x", "bin/run.sh": "echo run"})
	f.deploy(t, r)
	for _, h := range f.fleet.Hosts {
		assertFile(t, filepath.Join(h.Root, "current/index.html"), "one")
		if exists(filepath.Join(h.Root, "current/x.log")) || exists(filepath.Join(h.Root, "current/.ferry-complete")) {
			t.Errorf("%s has files it should not", h.Name)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(f.ws.Dir(), "*", "builds", "demo", "prod", "1."+r.Commit+".tar.gz"))
	if len(matches) != 1 {
		t.Errorf("tarballs: %v", matches)
	}
}
