package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ferrybot/ferry/pipeline"
)

// Check runs the health check of unit: the command on the host in
// <root>/current, or a GET of the URL from the ferry host. Without a
// health check configured it passes.
func (d *Driver) Check(ctx context.Context, unit string, log pipeline.StepLog) error {
	h, err := d.host(unit)
	if err != nil {
		return err
	}
	health := d.cfg.Health
	if !health.set() {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, health.Timeout)
	defer cancel()
	if health.Command != "" {
		err = d.checkCommand(cctx, h, log)
	} else {
		err = d.checkURL(cctx, h, log)
	}
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s", health.Timeout)
	}
	if err != nil {
		return h.fail("health", err)
	}
	return nil
}

// checkCommand runs the health command in <root>/current, with the
// variables of the release this driver last saw there, asking the host
// when it has not seen it yet.
func (d *Driver) checkCommand(ctx context.Context, h host, log io.Writer) error {
	l, ok := d.recall(h.name)
	if !ok {
		st, err := d.state(ctx, h, log)
		if err != nil {
			return err
		}
		if l.dir, err = st.current(h); err != nil {
			return err
		}
		l.m = st.meta
		d.remember(h.name, l)
	}
	if l.dir == "" {
		return errors.New("no release is current")
	}
	return d.command(ctx, h, h.root+"/current", d.cfg.Health.Command, d.hookEnv(h, l.dir, l.m), log)
}

func (d *Driver) checkURL(ctx context.Context, h host, log io.Writer) error {
	address := h.address
	if strings.Contains(address, ":") {
		address = "[" + address + "]" // an IPv6 address
	}
	raw := strings.NewReplacer("{{host}}", address, "{{name}}", url.PathEscape(h.name)).Replace(d.cfg.Health.URL)
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	shown := u.Redacted() // a password in the URL stays out of logs and errors
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", shown, err)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, password and all
		}
		return fmt.Errorf("GET %s: %w", shown, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintf(log, "GET %s: %s\n", shown, resp.Status)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", shown, resp.Status)
	}
	return nil
}
