package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// ExitError is a command that ran and failed.
type ExitError struct {
	Command string // as configured
	Code    int    // exit status; -1 when a signal ended it
	Last    string // the last line it printed, to say why
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%q exited %d", short(e.Command), e.Code)
	if e.Code < 0 {
		msg = fmt.Sprintf("%q was killed", short(e.Command))
	}
	if e.Last != "" {
		msg += ": " + e.Last
	}
	return msg
}

// waitDelay is how long Run waits for output after a command exits: a
// process it left in the background that still holds the output is not
// waited for longer.
const waitDelay = 5 * time.Second

// Run runs each command with sh -c in dir, one after another, writing
// "$ command" and then its stdout and stderr to log. It stops at the first
// command that fails, returning an *ExitError. The commands see the
// environment of ferry, without ferry's own FERRY_* variables, plus env.
// When ctx ends, the command and everything it started (its process group)
// are killed.
//
// A command that starts a server in the background should send the
// server's output elsewhere (`./server >server.log 2>&1 &`); otherwise Run
// waits 5 seconds for it before going on.
func Run(ctx context.Context, dir string, commands, env []string, log io.Writer) error {
	all := append(inherited(), env...)
	for _, c := range commands {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(log, "$ %s\n", c)
		if err := run(ctx, dir, c, all, log); err != nil {
			return err
		}
	}
	return nil
}

func run(ctx context.Context, dir, command string, env []string, log io.Writer) error {
	out := &LastLine{W: log}
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole group
	}
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("%q stopped: %w", short(command), ctx.Err())
	}
	var exit *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		return nil
	case errors.As(err, &exit):
		return &ExitError{Command: command, Code: exit.ExitCode(), Last: out.Last()}
	default:
		return fmt.Errorf("%q: %w", short(command), err)
	}
}

// inherited is ferry's environment without its own FERRY_* settings, which
// may hold secrets the commands have no business with.
func inherited() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FERRY_") {
			env = append(env, kv)
		}
	}
	return env
}

func short(command string) string { return Clip(command, 80) }

// Clip cuts s to at most max bytes, on a character boundary, marking the
// cut with "…".
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max] + "…"
}

// LastLine passes output on to W and remembers its last non-empty line,
// which errors quote. Writes may come from several goroutines (a command's
// stdout and stderr).
type LastLine struct {
	W    io.Writer
	mu   sync.Mutex
	line []byte // the line being written
	done string // the last complete non-empty line
}

func (l *LastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range p {
		if b == '\n' {
			if s := strings.TrimSpace(string(l.line)); s != "" {
				l.done = s
			}
			l.line = l.line[:0]
		} else if len(l.line) < 4096 {
			l.line = append(l.line, b)
		}
	}
	return l.W.Write(p)
}

// Last is the last non-empty line written, cut to 200 bytes.
func (l *LastLine) Last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimSpace(string(l.line))
	if s == "" {
		s = l.done
	}
	return Clip(s, 200)
}
