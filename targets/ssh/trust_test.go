package ssh_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferrybot/ferry/targets/ssh"
	"github.com/ferrybot/ferry/targets/ssh/sshtest"
)

func TestTrust(t *testing.T) {
	fleet := sshtest.Start(t, 2)
	web1, web2 := fleet.Host("web1"), fleet.Host("web2")
	ctx := testContext(t)
	known := filepath.Join(t.TempDir(), "ssh", "known_hosts")

	var asked []string
	yes := func(keyType, fingerprint string) bool {
		asked = append(asked, keyType+" "+fingerprint)
		return true
	}
	no := func(string, string) bool { return false }

	if err := ssh.Trust(ctx, web1.Addr, known, no); err == nil || err.Error() != "ssh trust "+web1.Addr+": not confirmed; nothing was recorded" {
		t.Errorf("trust, declined = %v", err)
	}
	if exists(known) {
		t.Error("a declined key was recorded")
	}
	for _, h := range []*sshtest.Host{web1, web2} {
		if err := ssh.Trust(ctx, h.Addr, known, yes); err != nil {
			t.Fatalf("trust %s: %v", h.Name, err)
		}
	}
	if want := "ssh-ed25519 " + xssh.FingerprintSHA256(web2.Key); len(asked) != 2 || asked[1] != want {
		t.Errorf("asked %q, want the second to be %q", asked, want)
	}
	assertFile(t, known, web1.KnownHostsLine()+"\n"+web2.KnownHostsLine()+"\n")

	// Trusted already: nothing to ask, nothing to add.
	if err := ssh.Trust(ctx, web1.Addr, known, no); err != nil {
		t.Errorf("trust a known host again: %v", err)
	}
	assertFile(t, known, web1.KnownHostsLine()+"\n"+web2.KnownHostsLine()+"\n")

	// The recorded key is not the host's: refuse, and say so loudly.
	_, impostor := newKey(t)
	line := knownhosts.Line([]string{knownhosts.Normalize(web1.Addr)}, impostor.PublicKey())
	os.WriteFile(known, []byte(line), 0o600) // no newline at the end
	err := ssh.Trust(ctx, web1.Addr, known, yes)
	if err == nil || !strings.Contains(err.Error(), "HOST KEY CHANGED: the host presents ssh-ed25519 "+xssh.FingerprintSHA256(web1.Key)) ||
		!strings.HasSuffix(err.Error(), "ferry will not replace a recorded key") {
		t.Errorf("trust a changed key = %v", err)
	}
	assertFile(t, known, line)
	if err := ssh.Trust(ctx, web2.Addr, known, yes); err != nil {
		t.Fatal(err)
	}
	assertFile(t, known, line+"\n"+web2.KnownHostsLine()+"\n")

	// A port of its own is 22.
	web2.Kill()
	if err := ssh.Trust(ctx, "127.0.0.1", known, yes); err == nil || !strings.HasPrefix(err.Error(), "ssh trust 127.0.0.1:22: ") {
		t.Errorf("trust 127.0.0.1 = %v", err)
	}
}
