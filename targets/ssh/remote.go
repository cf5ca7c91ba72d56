package ssh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/ferrybot/ferry/targets/workspace"
)

// host is a configured unit, resolved.
type host struct {
	name    string
	address string // what to connect to, without the port
	addr    string // address:port
	user    string
	root    string // the deploy root on the host: absolute and clean
}

func (h host) release(dir string) string { return h.root + "/releases/" + dir }

// fail prefixes err with the host and the step. A connection error says
// which host it is about by itself.
func (h host) fail(step string, err error) error {
	var ce *connError
	if errors.As(err, &ce) {
		return ce
	}
	return fmt.Errorf("ssh %s: %s: %w", h.name, step, err)
}

// session is one command running on a host, bounded by the step timeout
// and by the context of the call. Its stderr goes to the log.
type session struct {
	s       *xssh.Session
	client  *xssh.Client
	out     *workspace.LastLine
	parent  context.Context
	ctx     context.Context
	cancel  context.CancelFunc
	stop    func() bool
	timeout time.Duration
	// waitDelay is how long a session told to end may take to close;
	// after it, the connection is dropped: a host that does not answer is
	// of no use.
	waitDelay time.Duration
}

// open starts a session on the connection to h. A connection that turns
// out to be broken is closed and dialed again, once: nothing ran yet.
func (d *Driver) open(ctx context.Context, h host, log io.Writer) (*session, error) {
	sctx, cancel := context.WithTimeout(ctx, d.cfg.StepTimeout)
	for attempt := 0; ; attempt++ {
		client, _, err := d.pool.get(sctx, h)
		if err != nil {
			cancel()
			return nil, err
		}
		s, err := newSession(sctx, client)
		if err == nil {
			ses := &session{s: s, client: client, out: &workspace.LastLine{W: log}, parent: ctx, ctx: sctx, cancel: cancel, timeout: d.cfg.StepTimeout, waitDelay: d.waitDelay}
			s.Stderr = ses.out
			// Closing the session closes the command's stdin, which ends
			// the upload and cuts a command's lifeline (see command). No
			// signal: sshd refuses them to root, and would only reach the
			// wrapper, not the command's own process group.
			ses.stop = context.AfterFunc(sctx, func() { s.Close() })
			return ses, nil
		}
		client.Close() // the pool dials again
		if attempt > 0 || sctx.Err() != nil {
			cancel()
			return nil, stepErr(ctx, sctx, d.cfg.StepTimeout, fmt.Errorf("open a session: %w", err))
		}
	}
}

// stepErr explains err, which ended a step: ferry stopping, or the step
// running out of time, tells more than a closed session does.
func stepErr(parent, ctx context.Context, timeout time.Duration, err error) error {
	if parent.Err() != nil {
		return parent.Err()
	}
	if ctx.Err() != nil {
		return fmt.Errorf("no answer within step_timeout %s", timeout)
	}
	return err
}

// newSession opens a session, giving up on the connection when ctx ends
// first: a connection that cannot open a channel is of no use.
func newSession(ctx context.Context, client *xssh.Client) (*xssh.Session, error) {
	type result struct {
		s   *xssh.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := client.NewSession()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		client.Close()
		if r := <-ch; r.s != nil {
			r.s.Close()
		}
		return nil, ctx.Err()
	}
}

// start runs script with sh on the host; the login shell only execs it.
func (ses *session) start(script string) error {
	if err := ses.s.Start("exec sh -c " + quote(script)); err != nil {
		return ses.end(fmt.Errorf("start: %w", err))
	}
	return nil
}

// wait waits for the command and ends the session. When the step's
// context ends first, the session is already closed (see open), which
// makes the host end the command.
func (ses *session) wait() error {
	done := make(chan error, 1)
	go func() { done <- ses.s.Wait() }()
	select {
	case err := <-done:
		return ses.end(err)
	case <-ses.ctx.Done():
		return ses.end(ses.await(done))
	}
}

// await waits for the result of Wait for waitDelay, then drops the
// connection, which ends Wait.
func (ses *session) await(done chan error) error {
	t := time.NewTimer(ses.waitDelay)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		ses.client.Close()
		return <-done
	}
}

// end closes the session and explains err, its outcome.
func (ses *session) end(err error) error {
	ses.stop()
	ses.s.Close()
	defer ses.cancel()
	if err == nil {
		return nil
	}
	if ses.ctx.Err() != nil {
		return stepErr(ses.parent, ses.ctx, ses.timeout, err)
	}
	var ee *xssh.ExitError
	var em *xssh.ExitMissingError
	switch {
	case errors.As(err, &ee):
		code := ee.ExitStatus()
		if ee.Signal() != "" {
			code = -1
		}
		return &exitError{code: code, last: ses.out.Last()}
	case errors.As(err, &em): // no exit status: the connection broke
		ses.client.Close() // the pool dials again
		return errors.New("the connection to the host was lost")
	}
	return err
}

// run runs script on h and returns what it printed on stdout.
func (d *Driver) run(ctx context.Context, h host, script string, log io.Writer) (string, error) {
	ses, err := d.open(ctx, h, log)
	if err != nil {
		return "", err
	}
	var stdout strings.Builder
	ses.s.Stdout = &stdout
	if err := ses.start(script); err != nil {
		return "", err
	}
	err = ses.wait()
	return stdout.String(), err
}

// exitError is a remote command that failed; it reads as the last thing
// the command said.
type exitError struct {
	code int // -1: killed by a signal
	last string
}

func (e *exitError) Error() string {
	switch {
	case e.last != "":
		return e.last
	case e.code < 0:
		return "killed"
	}
	return fmt.Sprintf("exited %d", e.code)
}

// quote makes s one word for sh.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// exports sets env (KEY=value entries) in a script; sshd is not trusted
// to pass variables on (AcceptEnv).
func exports(env []string) string {
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString("export " + k + "=" + quote(v) + "\n")
	}
	return b.String()
}

// expand fills the @NAME@ slots of a script with quoted values.
func expand(script string, kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		script = strings.ReplaceAll(script, "@"+kv[i]+"@", quote(kv[i+1]))
	}
	return script
}

// The scripts run on the hosts. Lines starting with "ferry:" on stdout are
// for the driver; anything else there (a chatty shell profile) is ignored.
const (
	// uploadScript says what is there, reads one line (the release's
	// record, empty to keep the one there), then unpacks the rest of
	// stdin unless the release is complete already.
	uploadScript = `set -e
mkdir -p -- @ROOT@/releases
cd -- @ROOT@
cur=$(readlink current 2>/dev/null || :)
printf 'ferry:current %s\n' "$cur"
if [ -f releases/@DIR@.json ]; then printf 'ferry:meta %s\n' "$(cat releases/@DIR@.json)"; fi
if [ -d releases/@DIR@ ]; then echo ferry:present; else echo ferry:upload; fi
IFS= read -r meta || meta=
if [ ! -d releases/@DIR@ ]; then
	rm -rf -- releases/@DIR@.tmp
	mkdir -- releases/@DIR@.tmp
	@TAR@ --no-same-owner -C releases/@DIR@.tmp || { s=$?; rm -rf -- releases/@DIR@.tmp; exit $s; }
	if [ ! -f releases/@DIR@.tmp/@COMPLETE@ ]; then
		rm -rf -- releases/@DIR@.tmp
		echo 'the upload ended before the whole release arrived' >&2
		exit 1
	fi
	rm -f -- releases/@DIR@.tmp/@COMPLETE@
	mv -- releases/@DIR@.tmp releases/@DIR@
fi
if [ -n "$meta" ] && [ ! -f releases/@DIR@.json ]; then
	printf '%s\n' "$meta" >releases/@DIR@.json.tmp
	mv -f -- releases/@DIR@.json.tmp releases/@DIR@.json
fi`

	// switchScript renames a new link over current, then says what is
	// there.
	switchScript = `set -e
cd -- @ROOT@
if [ -e current ] && [ ! -L current ]; then printf '%s/current is not a symbolic link: move it away and ferry will manage it\n' @ROOT@ >&2; exit 1; fi
[ -d releases/@DIR@ ] || { printf 'releases/%s is not there\n' @DIR@ >&2; exit 1; }
rm -f current.tmp-*
@TOUCH@
ln -s releases/@DIR@ current.tmp-@RAND@
mv -Tf current.tmp-@RAND@ current
printf 'ferry:current %s\n' "$(readlink current)"
if [ -f releases/@DIR@.json ]; then printf 'ferry:meta %s\n' "$(cat releases/@DIR@.json)"; fi
ls -1td -- releases/*/ 2>/dev/null | sed 's/^/ferry:release /'`

	// stateScript says what is current and which releases are there.
	stateScript = `cd -- @ROOT@ 2>/dev/null || exit 0
if [ -e current ] && [ ! -L current ]; then echo ferry:notlink; fi
cur=$(readlink current 2>/dev/null || :)
printf 'ferry:current %s\n' "$cur"
if [ -n "$cur" ] && [ -f "$cur.json" ]; then printf 'ferry:meta %s\n' "$(cat "$cur.json")"; fi
ls -1td -- releases/*/ 2>/dev/null | sed 's/^/ferry:release /'`

	// unlinkScript leaves no release current.
	unlinkScript = `cd -- @ROOT@ 2>/dev/null || exit 0
if [ -e current ] && [ ! -L current ]; then printf '%s/current is not a symbolic link: move it away and ferry will manage it\n' @ROOT@ >&2; exit 1; fi
rm -f current`
)

// state is what a script said about a host.
type state struct {
	link     string // what current points to; "" for nothing
	notLink  bool   // current is there but not a symbolic link
	meta     meta   // of the release the script looked at, if it has one
	hasMeta  bool
	ready    string   // upload: "present" or "upload"
	releases []string // directories of releases/, newest first, .tmp ones too
}

// parseState reads the ferry: lines of a script's output.
func parseState(out string) (state, error) {
	var st state
	for _, line := range strings.Split(out, "\n") {
		key, val, _ := strings.Cut(strings.TrimSuffix(line, "\r"), " ")
		switch key {
		case "ferry:current":
			st.link = val
		case "ferry:notlink":
			st.notLink = true
		case "ferry:meta":
			if err := json.Unmarshal([]byte(val), &st.meta); err != nil {
				return st, fmt.Errorf("the record of the release is damaged: %w", err)
			}
			st.hasMeta = true
		case "ferry:present", "ferry:upload":
			st.ready = strings.TrimPrefix(key, "ferry:")
		case "ferry:release":
			name := strings.TrimSuffix(strings.TrimPrefix(val, "releases/"), "/")
			if name != "" && !strings.Contains(name, "/") {
				st.releases = append(st.releases, name)
			}
		}
	}
	return st, nil
}

// current is the release directory current points to, "" for none.
func (st state) current(h host) (string, error) {
	if st.notLink {
		return "", fmt.Errorf("%s/current is not a symbolic link: move it away and ferry will manage it", h.root)
	}
	if st.link == "" {
		return "", nil
	}
	dir, ok := strings.CutPrefix(st.link, "releases/")
	if !ok || dir == "" || strings.Contains(dir, "/") {
		return "", fmt.Errorf("current points to %s, not into releases/", st.link)
	}
	return dir, nil
}

// complete lists the complete releases, newest first.
func (st state) complete() []string {
	var dirs []string
	for _, r := range st.releases {
		if !strings.HasSuffix(r, ".tmp") {
			dirs = append(dirs, r)
		}
	}
	return dirs
}
