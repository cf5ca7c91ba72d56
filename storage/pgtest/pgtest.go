// Package pgtest starts a throw-away PostgreSQL server for tests, from
// the PostgreSQL that is installed (Debian's postgresql package keeps its
// programs in /usr/lib/postgresql/<version>/bin): initdb in a temporary
// directory, the server on 127.0.0.1 and a free port, with trust
// authentication for the user ferry, stopped and removed when the test
// ends, however it ends. initdb refuses to run as root, so as root the
// server runs as the postgres user (runuser).
package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Start runs a new server for one test, with an empty database ferry,
// and returns its address as a connection string
// (postgres://ferry@127.0.0.1:<port>/ferry). A machine without PostgreSQL
// fails the test: CI installs it.
func Start(t testing.TB) string {
	t.Helper()
	srv, err := StartServer()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return srv.DSN()
}

// Server is a running throw-away server, for a test binary that makes a
// database per test (Database); Stop it when the tests end.
type Server struct {
	bin, dir, data, as string
	port               int
	mu                 sync.Mutex
	n                  int
}

// StartServer starts a server with an empty database ferry. It does not
// wait for the disk (fsync and synchronous_commit are off): tests need
// what PostgreSQL does, not that it survives a power cut.
func StartServer() (*Server, error) {
	return start("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
}

// StartDurableServer starts a server as it runs in production, every
// commit on disk before it returns, for benchmarks that compare it with
// SQLite's synchronous=FULL.
func StartDurableServer() (*Server, error) { return start("") }

// DSN is the connection string of the database ferry.
func (s *Server) DSN() string { return s.dsn("ferry") }

func start(settings string) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, fmt.Errorf("%w (install Debian's postgresql package)", err)
	}
	dir, err := os.MkdirTemp("", "ferry-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	if s.as, err = owner(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if s.port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=300 %s", s.port, dir, settings)
	for _, step := range [][]string{
		{"initdb", "-D", s.data, "-U", "ferry", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"},
		{"pg_ctl", "-D", s.data, "-l", filepath.Join(dir, "server.log"), "-o", opts, "-w", "-t", "60", "start"},
		{"createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "ferry", "ferry"},
	} {
		if err := s.run(step[0], step[1:]...); err != nil {
			if step[0] != "initdb" {
				s.Stop()
			} else {
				os.RemoveAll(dir)
			}
			return nil, err
		}
	}
	return s, nil
}

// Database makes a new empty database for one test and returns its
// connection string; the server drops it with everything else at Stop.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("test%d", s.n)
	s.mu.Unlock()
	if err := s.run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "ferry", name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return s.dsn(name)
}

// Stop stops the server and removes its files.
func (s *Server) Stop() error {
	defer os.RemoveAll(s.dir)
	return s.run("pg_ctl", "-D", s.data, "-m", "immediate", "-w", "stop")
}

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("postgres://ferry@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// run runs one of PostgreSQL's programs, as the postgres user when root.
func (s *Server) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	if s.as != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.as, "--", filepath.Join(s.bin, name)}, args...)...)
	}
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		return fmt.Errorf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, log)
	}
	return nil
}

// binDir is where PostgreSQL's programs are: Debian's newest
// /usr/lib/postgresql/<version>/bin, else the directory of initdb on the
// PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no initdb in /usr/lib/postgresql/*/bin or on the PATH")
}

// owner gives dir to the postgres user when the tests run as root, and
// returns that user's name ("" when they do not run as root).
func owner(dir string) (string, error) {
	if os.Geteuid() != 0 {
		return "", nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return "", fmt.Errorf("running as root needs the postgres user, which the postgresql package creates: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return "", err
	}
	return u.Username, nil
}

// freePort is a TCP port on 127.0.0.1 nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
