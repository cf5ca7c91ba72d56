package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
)

// Check runs the health check of unit: the command in <host>/current, or a
// GET of the URL. Without a health check configured it passes.
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
		return fmt.Errorf("local %s: health: %w", unit, err)
	}
	return nil
}

func (d *Driver) checkCommand(ctx context.Context, h host, log io.Writer) error {
	id, err := h.current()
	if err != nil {
		return err
	}
	if id == "" {
		return errors.New("no release is current")
	}
	m, err := h.meta(id)
	if err != nil {
		return err
	}
	return workspace.Run(ctx, h.link(), []string{d.cfg.Health.Command}, d.hookEnv(h, id, m), log)
}

func (d *Driver) checkURL(ctx context.Context, h host, log io.Writer) error {
	raw := strings.ReplaceAll(d.cfg.Health.URL, "{{host}}", url.PathEscape(h.name))
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
