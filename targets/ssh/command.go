package ssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
)

// hook runs one hook's commands on h in dir, as a step; a hook with no
// commands is no step at all.
func (d *Driver) hook(ctx context.Context, h host, name, dir string, commands, env []string, log pipeline.StepLog) error {
	if len(commands) == 0 {
		return nil
	}
	log.Step(name)
	for _, c := range commands {
		fmt.Fprintf(log, "$ %s\n", c)
		if err := d.command(ctx, h, dir, c, env, log); err != nil {
			return h.fail(name, err)
		}
	}
	return nil
}

// commandScript runs a configured command on a host as workspace.Run does
// on the ferry host: with sh, in its own process group, stdin from
// /dev/null. The session's stdin is a lifeline: when it closes (ferry
// stopped, the step timed out, the connection dropped) the command's group
// is killed. The last line on stdout is the exit status, after a nonce, so
// the driver need not wait for background processes that hold the output.
const commandScript = `cd -- @DIR@ || exit 1
exec 3<&0
if command -v setsid >/dev/null 2>&1; then
	setsid sh -c @CMD@ </dev/null 3<&- &
else
	sh -c @CMD@ </dev/null 3<&- &
fi
pid=$!
{ while IFS= read -r _; do :; done; kill -KILL -$pid 2>/dev/null || kill -KILL $pid; } <&3 >/dev/null 2>&1 &
watch=$!
exec 3<&-
wait $pid
status=$?
kill $watch 2>/dev/null
printf 'ferry:exit:%s %d\n' @NONCE@ $status
exit $status`

// command runs one configured command with sh on h in dir, in a session of
// its own; it fails as a *workspace.ExitError, like a command on the ferry
// host. A command that leaves something behind holding its output is
// waited for waitDelay, as workspace.Run does.
func (d *Driver) command(ctx context.Context, h host, dir, command string, env []string, log io.Writer) error {
	ses, err := d.open(ctx, h, log)
	if err != nil {
		return err
	}
	nonce := rand.Text()
	watch := &exitWatch{w: ses.out, marker: []byte("ferry:exit:" + nonce + " "), exited: make(chan struct{})}
	ses.s.Stdout = watch
	lifeline, err := ses.s.StdinPipe()
	if err != nil {
		return ses.end(err)
	}
	if err := ses.start(exports(env) + expand(commandScript, "DIR", dir, "CMD", command, "NONCE", nonce)); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- ses.s.Wait() }()
	select {
	case err = <-done:
	case <-ses.ctx.Done(): // open closed the session: the lifeline is cut
		err = ses.await(done)
	case <-watch.exited:
		lifeline.Close()
		t := time.NewTimer(d.waitDelay)
		select {
		case err = <-done:
		case <-t.C:
			fmt.Fprintf(log, "ferry: %q left something running that holds its output; not waiting for it\n", workspace.Clip(command, 80))
			ses.s.Close()
			if err = ses.await(done); err != nil && ses.ctx.Err() == nil {
				err = nil
				if code := watch.status(); code != 0 {
					err = &exitError{code: code, last: ses.out.Last()}
				}
			}
		}
		t.Stop()
	}
	watch.flush()
	err = ses.end(err)
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return &workspace.ExitError{Command: command, Code: ee.code, Last: ee.last}
	case err != nil:
		return fmt.Errorf("%q: %w", workspace.Clip(command, 80), err)
	}
	return nil
}

// exitWatch passes a command's stdout on, line by line, and takes out the
// line the command script ends with: the exit status, after a nonce no
// command prints by chance.
type exitWatch struct {
	mu     sync.Mutex
	w      io.Writer
	marker []byte
	buf    []byte
	code   int
	exited chan struct{} // closed when the status came
	seen   bool
}

func (e *exitWatch) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = append(e.buf, p...)
	for {
		i := bytes.IndexByte(e.buf, '\n')
		if i < 0 {
			break
		}
		line := e.buf[:i+1]
		if j := bytes.Index(line, e.marker); j >= 0 && !e.seen {
			if j > 0 {
				e.w.Write(append(line[:j:j], '\n'))
			}
			e.code, _ = strconv.Atoi(strings.TrimSpace(string(line[j+len(e.marker):])))
			e.seen = true
			close(e.exited)
		} else {
			e.w.Write(line)
		}
		e.buf = e.buf[i+1:]
	}
	if len(e.buf) > 64<<10 { // a very long line goes on in pieces
		e.w.Write(e.buf)
		e.buf = e.buf[:0]
	}
	return len(p), nil
}

// flush passes on what is left of an unfinished last line.
func (e *exitWatch) flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.buf) > 0 {
		e.w.Write(e.buf)
		e.buf = nil
	}
}

// status is the exit status the command script reported.
func (e *exitWatch) status() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.code
}
