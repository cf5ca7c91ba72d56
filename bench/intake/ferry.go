package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

const (
	// readyTimeout bounds the wait for GET /readyz to answer 200.
	readyTimeout = 20 * time.Second
	// stopGrace is how long ferry has to stop after SIGTERM before it is
	// killed.
	stopGrace = 10 * time.Second
)

// configFile is the ferry.yaml of a run: the forge's webhook with the
// run's secret, storage in the run's directory, and one project on the
// forge whose repository is not the payload's, so that every delivery is
// verified and stored but none is acted on. Without a token or an App
// ferry makes no call to the forge.
const configFile = `# ferry.yaml of bench/intake: %[1]s webhook intake only.
storage: %[4]s
workspace: workspace
session_secret: %[2]q
%[1]s:
  webhook_secret: %[3]q
projects:
  bench:
    repo: https://%[1]s.com/ferry-bench/not-the-payload-repo.git
    environments:
      staging:
        branches: ['^main$']
        target: {type: local, hosts: [h1], root: hosts}
`

// writeConfig writes the run's ferry.yaml for forge into dir and returns
// its path. storage "" is ferry.db in dir.
func writeConfig(dir, forge, secret, sessionSecret, storage string) (string, error) {
	path := filepath.Join(dir, "ferry.yaml")
	if storage == "" {
		storage = "ferry.db"
	}
	if err := os.WriteFile(path, fmt.Appendf(nil, configFile, forge, sessionSecret, secret, storage), 0o600); err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return path, nil
}

// ferry is a running `ferry serve`.
type ferry struct {
	url     string // http://127.0.0.1:port
	logPath string // its stdout and stderr
	pid     int
	cancel  context.CancelFunc
	exited  chan struct{}
	err     error // of Wait, once exited is closed
}

// startFerry starts bin serve with config on a free port of 127.0.0.1,
// writing its output to dir/ferry.log, and returns once GET /readyz
// answers 200. Stop it with stop, whatever happens next.
func startFerry(ctx context.Context, bin, dir, config string) (*ferry, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	f := &ferry{url: "http://" + addr, logPath: filepath.Join(dir, "ferry.log"), exited: make(chan struct{})}
	out, err := os.Create(f.logPath)
	if err != nil {
		return nil, fmt.Errorf("ferry log: %w", err)
	}
	defer out.Close() // ferry has its own descriptor
	// Cancelling the command's context sends SIGTERM; WaitDelay later,
	// Wait kills it.
	cmdCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd := exec.CommandContext(cmdCtx, bin, "serve", "--config", config, "--listen", addr)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start ferry: %w", err)
	}
	f.cancel, f.pid = cancel, cmd.Process.Pid
	go func() {
		f.err = cmd.Wait()
		close(f.exited)
	}()
	if err := f.waitReady(ctx); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

// waitReady polls GET /readyz until it answers 200, ferry exits, ctx ends
// or readyTimeout passes.
func (f *ferry) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/readyz", nil)
		if err != nil {
			return err
		}
		if res, err := client.Do(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-f.exited:
			return fmt.Errorf("ferry exited before it was ready (%v):\n%s", f.err, f.logTail())
		case <-ctx.Done():
			return fmt.Errorf("ferry not ready at %s/readyz within %s: %w\n%s", f.url, readyTimeout, ctx.Err(), f.logTail())
		case <-tick.C:
		}
	}
}

// stop sends ferry SIGTERM, kills it stopGrace later if it is still
// running, and says how it ended when that was not a clean exit.
func (f *ferry) stop() error {
	select {
	case <-f.exited:
		if f.err != nil {
			return fmt.Errorf("ferry exited during the run: %v\n%s", f.err, f.logTail())
		}
		return errors.New("ferry exited during the run")
	default:
	}
	f.cancel()
	<-f.exited
	if f.err != nil && !errors.Is(f.err, context.Canceled) {
		return fmt.Errorf("ferry did not stop cleanly after SIGTERM: %w", f.err)
	}
	return nil
}

// logTail is the end of ferry's output, for error messages.
func (f *ferry) logTail() string {
	b, err := os.ReadFile(f.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const most = 4000
	if len(b) > most {
		b = b[len(b)-most:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// meter measures ferry's output (its lines and bytes) and the CPU time
// of ferry and of this program.
func (f *ferry) meter() meter {
	var u usage
	buf := make([]byte, 64<<10)
	return func() usage {
		u.ferryCPU, u.cpu = processCPU(f.pid)
		var selfOK bool
		u.selfCPU, selfOK = selfCPU()
		u.cpu = u.cpu && selfOK
		r, err := os.Open(f.logPath)
		if err != nil {
			return u
		}
		defer r.Close()
		if _, err := r.Seek(u.logBytes, io.SeekStart); err != nil {
			return u
		}
		for {
			n, err := r.Read(buf)
			u.logLines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			u.logBytes += int64(n)
			if err != nil {
				return u
			}
		}
	}
}

// freeAddr is an address of 127.0.0.1 no one listens on, for now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
