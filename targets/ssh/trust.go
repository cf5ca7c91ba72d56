package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Trust is `ferry ssh trust`: it connects to address (host or host:port,
// port 22 when none), has confirm show the key type and SHA256 fingerprint
// of the host key to a person and, when confirm says yes, appends the key
// to the known_hosts file, creating it if need be. A key the file already
// records for the address is left as it is, without asking. When the file
// records a different key, Trust refuses, loudly: the host may be an
// impostor, and only a person who checked may delete the old line.
func Trust(ctx context.Context, address, knownHostsPath string, confirm func(keyType, fingerprint string) bool) error {
	addr := address
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "22")
	}
	_, known, err := readKnownHosts(knownHostsPath, addr)
	if err != nil {
		return fmt.Errorf("ssh trust %s: %w", addr, err)
	}
	key, err := hostKey(ctx, addr, algorithms(known))
	if err != nil {
		return fmt.Errorf("ssh trust %s: %w", addr, err)
	}
	for _, k := range known {
		if sameKey(k.Key, key) {
			return nil
		}
	}
	if len(known) > 0 {
		return fmt.Errorf("ssh trust %s: %s; ferry will not replace a recorded key", addr, changed(key, known))
	}
	if !confirm(key.Type(), xssh.FingerprintSHA256(key)) {
		return fmt.Errorf("ssh trust %s: not confirmed; nothing was recorded", addr)
	}
	if err := appendLine(knownHostsPath, knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)); err != nil {
		return fmt.Errorf("ssh trust %s: %w", addr, err)
	}
	return nil
}

// errGotKey stops a handshake once the host key is known.
var errGotKey = errors.New("got the host key")

// hostKey returns the key addr presents, of one of algos (any when empty).
func hostKey(ctx context.Context, addr string, algos []string) (xssh.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	var key xssh.PublicKey
	cfg := &xssh.ClientConfig{
		User:              "ferry",
		HostKeyAlgorithms: algos,
		HostKeyCallback: func(_ string, _ net.Addr, k xssh.PublicKey) error {
			key = k
			return errGotKey
		},
	}
	_, _, _, err = xssh.NewClientConn(nc, addr, cfg)
	if key != nil {
		return key, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("no ssh handshake: %w", ctx.Err())
	}
	return nil, err
}

// appendLine adds line to the known_hosts file, on a line of its own.
func appendLine(file, line string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err == nil && info.Size() > 0 {
		last := make([]byte, 1)
		if _, err = f.ReadAt(last, info.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if err == nil {
		_, err = f.WriteString(line + "\n")
	}
	return errors.Join(err, f.Close())
}
