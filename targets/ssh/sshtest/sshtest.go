// Package sshtest runs real OpenSSH servers for tests: one sshd process
// (Debian's openssh-server, /usr/sbin/sshd) per host, listening on
// 127.0.0.1 with its own port, host key, authorized_keys and deploy root,
// and a client key and known_hosts file that reach them all. A host can be
// killed, with every session it serves, to play a machine that died, and
// started again.
//
// Tests that use it fail, never skip, when sshd is not installed.
package sshtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferrybot/ferry/internal/logtest"
)

// SSHD is the server the hosts run.
const SSHD = "/usr/sbin/sshd"

// Fleet is a set of hosts and the client credentials that reach them.
type Fleet struct {
	Hosts []*Host
	// Dir is the fleet's temporary directory; the hosts' roots are in it.
	Dir string
	// Key is the client's private key file (ed25519, no passphrase), and
	// Signer the same key.
	Key    string
	Signer xssh.Signer
	// KnownHosts is a known_hosts file with the key of every host.
	KnownHosts string
	// User is the user the hosts let in: the one the tests run as.
	User string
}

// Host is one sshd.
type Host struct {
	Name string // web1, web2, …
	Port int
	Addr string // 127.0.0.1:<port>
	// Root is an empty directory for the host's deploy root, Dir/<name>.
	Root string
	// Key is the host's public key.
	Key xssh.PublicKey
	// Bin is a directory first on the PATH of the host's sessions, where
	// a test can put commands that stand in for the system's.
	Bin string

	t      testing.TB
	config string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *logtest.Buffer
}

// Start starts n hosts, web1 to web<n>, and stops them when the test ends.
func Start(t testing.TB, n int) *Fleet {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		t.Fatalf("sshtest: %s is missing: install openssh-server (%v)", SSHD, err)
	}
	if os.Getuid() == 0 {
		// sshd's privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshtest: %v", err)
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	f := &Fleet{Dir: t.TempDir(), User: u.Username}
	private, signer, err := newKey()
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	f.Signer = signer
	f.Key = filepath.Join(f.Dir, ".client", "id_ed25519")
	write(t, f.Key, private, 0o600)
	authorized := filepath.Join(f.Dir, ".client", "authorized_keys")
	write(t, authorized, xssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644)

	for i := range n {
		f.Hosts = append(f.Hosts, &Host{Name: fmt.Sprintf("web%d", i+1), t: t})
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, h := range f.Hosts {
		wg.Go(func() { errs[i] = h.setup(f.Dir, authorized) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, h := range f.Hosts {
			h.Kill()
		}
	})
	var lines []string
	for i, h := range f.Hosts {
		if errs[i] != nil {
			t.Fatalf("sshtest: %s: %v", h.Name, errs[i])
		}
		lines = append(lines, h.KnownHostsLine())
	}
	f.KnownHosts = filepath.Join(f.Dir, ".client", "known_hosts")
	write(t, f.KnownHosts, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	return f
}

// Host returns the host called name; it fails the test if there is none.
func (f *Fleet) Host(name string) *Host {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h
		}
	}
	f.Hosts[0].t.Fatalf("sshtest: no host %s", name)
	return nil
}

// KnownHostsLine is the host's line in a known_hosts file.
func (h *Host) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(h.Addr)}, h.Key)
}

// setup writes the host's files and starts its sshd on a free port.
func (h *Host) setup(dir, authorized string) error {
	h.Root = filepath.Join(dir, h.Name)
	h.Bin = filepath.Join(dir, ".sshd", h.Name, "bin")
	for _, d := range []string{h.Root, h.Bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	private, signer, err := newKey()
	if err != nil {
		return err
	}
	h.Key = signer.PublicKey()
	hostKey := filepath.Join(dir, ".sshd", h.Name, "host_key")
	if err := os.WriteFile(hostKey, private, 0o600); err != nil {
		return err
	}
	h.config = filepath.Join(dir, ".sshd", h.Name, "sshd_config")
	for range 5 { // another process may take the port between probe and bind
		if h.Port, err = freePort(); err != nil {
			return err
		}
		h.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(h.Port))
		config := strings.Join([]string{
			"ListenAddress 127.0.0.1",
			"Port " + strconv.Itoa(h.Port),
			"HostKey " + hostKey,
			"AuthorizedKeysFile " + authorized,
			"PidFile " + filepath.Join(dir, ".sshd", h.Name, "sshd.pid"),
			"UsePAM no",
			"StrictModes no",
			"PermitRootLogin yes",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"MaxStartups 100",
			"MaxSessions 100",
			"Subsystem sftp internal-sftp",
			// SHLVL keeps bash, the login shell, from reading ~/.bashrc for
			// every command (Debian builds it with SSH_SOURCE_BASHRC): the
			// hosts act like fresh machines, whatever the tester's profile.
			"SetEnv PATH=" + h.Bin + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin SHLVL=1",
			"LogLevel ERROR",
		}, "\n") + "\n"
		if err := os.WriteFile(h.config, []byte(config), 0o644); err != nil {
			return err
		}
		if err = h.start(); err == nil {
			return nil
		}
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the host again after Kill, on the same port with the same
// key; it fails the test if sshd does not come up.
func (h *Host) Start() {
	h.t.Helper()
	if err := h.start(); err != nil {
		h.t.Fatalf("sshtest: %s: %v", h.Name, err)
	}
}

// start runs sshd and waits until it answers with its banner.
func (h *Host) start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd != nil && !closed(h.exited) {
		return nil
	}
	h.stderr = &logtest.Buffer{}
	cmd := exec.Command(SSHD, "-D", "-e", "-f", h.config)
	cmd.Stdout, cmd.Stderr = h.stderr, h.stderr
	// A test binary that dies, timed out, takes its servers along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", SSHD, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	h.cmd, h.exited = cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if closed(exited) {
			return fmt.Errorf("sshd exited: %s", strings.TrimSpace(h.stderr.String()))
		}
		if banner(h.Addr) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.kill()
	return fmt.Errorf("sshd did not answer on %s within 10s: %s", h.Addr, strings.TrimSpace(h.stderr.String()))
}

// banner reports whether an SSH server answers on addr.
func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 8)
	n, _ := c.Read(buf)
	return bytes.HasPrefix(buf[:n], []byte("SSH-"))
}

// Kill ends the host as a crash would: sshd and every session it serves
// are killed at once, connections drop, and the port closes.
func (h *Host) Kill() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.kill()
}

func (h *Host) kill() {
	if h.cmd == nil || closed(h.exited) {
		return
	}
	pid := h.cmd.Process.Pid
	// Freeze the tree first, so nothing forks while it is collected: the
	// sessions run in sessions of their own, out of sshd's process group.
	syscall.Kill(pid, syscall.SIGSTOP)
	for range 3 {
		for _, p := range descendants(pid) {
			syscall.Kill(p, syscall.SIGSTOP)
		}
	}
	for _, p := range descendants(pid) {
		syscall.Kill(p, syscall.SIGKILL)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	<-h.exited
}

// Running reports whether the host's sshd runs.
func (h *Host) Running() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cmd != nil && !closed(h.exited)
}

// descendants lists the processes below pid, read from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')') // the command may hold spaces
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, children[p]...)
		queue = append(queue, children[p]...)
	}
	return out
}

// newKey makes an ed25519 key: the private key file's content and a signer.
func newKey() ([]byte, xssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := xssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, nil, err
	}
	signer, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(block), signer, nil
}

func write(t testing.TB, file string, b []byte, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, perm); err != nil {
		t.Fatal(err)
	}
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
