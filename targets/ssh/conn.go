package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// connError is a failure to reach or log in to a host. It names the
// address, so a person can tell which machine to look at.
type connError struct {
	host, addr string
	err        error
}

func (e *connError) Error() string { return fmt.Sprintf("ssh %s (%s): %v", e.host, e.addr, e.err) }
func (e *connError) Unwrap() error { return e.err }

// hostKeyError is a host key known_hosts does not vouch for.
type hostKeyError struct {
	addr, file string
	got        xssh.PublicKey
	want       []knownhosts.KnownKey // empty: the host is unknown
	revoked    *knownhosts.KnownKey
}

func (e *hostKeyError) Error() string {
	switch {
	case e.revoked != nil:
		return fmt.Sprintf("host key %s is marked @revoked in %s:%d; refusing to connect", xssh.FingerprintSHA256(e.got), e.revoked.Filename, e.revoked.Line)
	case len(e.want) == 0:
		return fmt.Sprintf("host key is not in %s: run ferry ssh trust %s", e.file, e.addr)
	}
	return changed(e.got, e.want) + "; refusing to connect"
}

// changed says, loudly, that a host presents a key other than the ones
// recorded for it.
func changed(got xssh.PublicKey, want []knownhosts.KnownKey) string {
	var recorded []string
	for _, k := range want {
		recorded = append(recorded, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), xssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
	}
	return fmt.Sprintf("HOST KEY CHANGED: the host presents %s %s, but known_hosts records %s: someone may be intercepting the connection, or the host was reinstalled; check with its owner before you edit known_hosts",
		got.Type(), xssh.FingerprintSHA256(got), strings.Join(recorded, ", "))
}

// readKnownHosts parses the known_hosts file and returns its callback
// (nil when the file does not exist yet) and the keys it records for addr.
func readKnownHosts(file, addr string) (xssh.HostKeyCallback, []knownhosts.KnownKey, error) {
	cb, err := knownhosts.New(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err // knownhosts names the file and line
	}
	// A key no host has makes the callback list the keys it knows.
	probe, _ := xssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	var ke *knownhosts.KeyError
	if err := cb(addr, &net.TCPAddr{IP: net.IPv4zero}, probe); errors.As(err, &ke) {
		return cb, ke.Want, nil
	}
	return cb, nil, nil
}

// verifier checks a host's key against known_hosts. It also returns the
// host key algorithms to ask for: those of the recorded keys, so a host
// with several keys presents one that can be compared.
func verifier(file, addr string) (xssh.HostKeyCallback, []string, error) {
	cb, known, err := readKnownHosts(file, addr)
	if err != nil {
		return nil, nil, err
	}
	verify := func(hostname string, remote net.Addr, key xssh.PublicKey) error {
		if cb == nil {
			return &hostKeyError{addr: addr, file: file, got: key}
		}
		err := cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &ke):
			return &hostKeyError{addr: addr, file: file, got: key, want: ke.Want}
		case errors.As(err, &re):
			return &hostKeyError{addr: addr, file: file, got: key, revoked: &re.Revoked}
		}
		return err
	}
	return verify, algorithms(known), nil
}

// algorithms lists the host key algorithms that produce the known keys.
func algorithms(known []knownhosts.KnownKey) []string {
	var algos []string
	add := func(a ...string) {
		for _, x := range a {
			if !slices.Contains(algos, x) {
				algos = append(algos, x)
			}
		}
	}
	for _, k := range known {
		switch t := k.Key.Type(); t {
		case xssh.KeyAlgoRSA:
			add(xssh.KeyAlgoRSASHA512, xssh.KeyAlgoRSASHA256, xssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

func sameKey(a, b xssh.PublicKey) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

// loadKey reads an unencrypted private key file.
func loadKey(file string) (xssh.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ssh: key: %w", err)
	}
	signer, err := xssh.ParsePrivateKey(b)
	var pm *xssh.PassphraseMissingError
	switch {
	case errors.As(err, &pm):
		return nil, fmt.Errorf("ssh: key %s is protected by a passphrase, which ferry cannot type: add it to ssh-agent and set agent: true, or use a key without one", file)
	case err != nil:
		return nil, fmt.Errorf("ssh: key %s is not a private key ferry can read: %w", file, err)
	}
	return signer, nil
}

// signers are the keys offered to hosts: the key file's, then the agent's.
// done closes the connection to the agent once the handshake is over.
func (d *Driver) signers() (signers []xssh.Signer, done func(), err error) {
	done = func() {}
	if d.signer != nil {
		signers = append(signers, d.signer)
	}
	if !d.cfg.Agent {
		return signers, done, nil
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		if len(signers) > 0 {
			return signers, done, nil
		}
		return nil, done, errors.New("agent: SSH_AUTH_SOCK is not set: start ssh-agent for ferry, or give a key")
	}
	c, err := net.Dial("unix", sock)
	if err == nil {
		var more []xssh.Signer
		if more, err = agent.NewClient(c).Signers(); err == nil {
			return append(signers, more...), func() { c.Close() }, nil
		}
		c.Close()
	}
	if len(signers) > 0 {
		return signers, done, nil
	}
	return nil, done, fmt.Errorf("agent: %w", err)
}

// dial connects to h, checks its host key and logs in.
func (d *Driver) dial(ctx context.Context, h host) (*xssh.Client, error) {
	fail := func(err error) error { return &connError{host: h.name, addr: h.addr, err: err} }
	verify, algos, err := verifier(d.knownHosts, h.addr)
	if err != nil {
		return nil, fail(err)
	}
	signers, done, err := d.signers()
	if err != nil {
		return nil, fail(err)
	}
	defer done()
	cfg := &xssh.ClientConfig{
		User:              h.user,
		Auth:              []xssh.AuthMethod{xssh.PublicKeys(signers...)},
		HostKeyCallback:   verify,
		HostKeyAlgorithms: algos,
		Timeout:           d.cfg.ConnectTimeout,
	}
	dctx, cancel := context.WithTimeout(ctx, d.cfg.ConnectTimeout)
	defer cancel()
	nc, err := (&net.Dialer{KeepAlive: d.cfg.KeepAlive}).DialContext(dctx, "tcp", h.addr)
	if err != nil {
		return nil, fail(d.timedOut(ctx, dctx, err))
	}
	stop := context.AfterFunc(dctx, func() { nc.Close() }) // a handshake that hangs
	c, chans, reqs, err := xssh.NewClientConn(nc, h.addr, cfg)
	if !stop() && err == nil {
		c.Close()
		err = dctx.Err()
	}
	if err != nil {
		nc.Close()
		var hke *hostKeyError
		switch {
		case errors.As(err, &hke):
			err = hke
		case strings.Contains(err.Error(), "unable to authenticate"):
			err = fmt.Errorf("the host refused the key(s) offered for user %s: %w", h.user, err)
		default:
			err = d.timedOut(ctx, dctx, err)
		}
		return nil, fail(err)
	}
	return xssh.NewClient(c, chans, reqs), nil
}

// timedOut names the connect timeout when it is what ended a dial.
func (d *Driver) timedOut(ctx, dctx context.Context, err error) error {
	if ctx.Err() == nil && dctx.Err() != nil {
		return fmt.Errorf("no answer within connect_timeout %s", d.cfg.ConnectTimeout)
	}
	return err
}

// pool keeps one connection per host for every step of every deploy, and
// dials again when one broke.
type pool struct {
	dial      func(ctx context.Context, h host) (*xssh.Client, error)
	keepAlive time.Duration
	dials     atomic.Int64 // connections made, for tests

	mu    sync.Mutex
	conns map[string]*conn
}

type conn struct {
	mu     sync.Mutex // held while dialing
	client *xssh.Client
	done   chan struct{} // closed when the connection ended
}

// get returns the connection to h, dialing when there is none; reused
// reports a connection made before.
func (p *pool) get(ctx context.Context, h host) (client *xssh.Client, reused bool, err error) {
	p.mu.Lock()
	if p.conns == nil {
		p.conns = map[string]*conn{}
	}
	c := p.conns[h.name]
	if c == nil {
		c = &conn{}
		p.conns[h.name] = c
	}
	p.mu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil && !closed(c.done) {
		return c.client, true, nil
	}
	p.dials.Add(1)
	client, err = p.dial(ctx, h)
	if err != nil {
		return nil, false, err
	}
	c.client, c.done = client, keepAlive(client, p.keepAlive)
	return client, false, nil
}

// close ends every connection.
func (p *pool) close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	var errs []error
	for _, c := range conns {
		c.mu.Lock()
		if c.client != nil {
			if err := c.client.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
			<-c.done
		}
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// keepAlive asks the host for a sign of life every interval and closes the
// connection when none comes within another interval. The channel it
// returns is closed when the connection has ended, for whatever reason.
func keepAlive(client *xssh.Client, interval time.Duration) chan struct{} {
	done := make(chan struct{})
	go func() {
		client.Wait()
		close(done)
	}()
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			answer := make(chan error, 1)
			go func() {
				_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
				answer <- err
			}()
			timer := time.NewTimer(interval)
			select {
			case err := <-answer:
				if err != nil {
					client.Close()
				}
			case <-timer.C:
				client.Close()
			case <-done:
			}
			timer.Stop()
		}
	}()
	return done
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
