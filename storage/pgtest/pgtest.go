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
	"testing"
)

// Start runs a new server with an empty database ferry and returns its
// address as a connection string (postgres://ferry@127.0.0.1:<port>/ferry).
// A machine without PostgreSQL fails the test: CI installs it.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		t.Fatalf("pgtest: %v (install Debian's postgresql package)", err)
	}
	dir, err := os.MkdirTemp("", "ferry-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	as, err := owner(dir)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, name), args...)
		if as != "" {
			cmd = exec.Command("runuser", append([]string{"-u", as, "--", filepath.Join(bin, name)}, args...)...)
		}
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("pgtest: %s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, log)
		}
	}
	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-U", "ferry", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir)
	run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		if as != "" {
			cmd = exec.Command("runuser", "-u", as, "--", filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("pgtest: stop the server: %v\n%s", err, out)
		}
	})
	run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "ferry", "ferry")
	return fmt.Sprintf("postgres://ferry@127.0.0.1:%d/ferry?sslmode=disable", port)
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
