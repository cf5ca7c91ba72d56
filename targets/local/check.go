package local

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	err = workspace.CheckWithin(ctx, health.Timeout, func(ctx context.Context) error {
		if health.Command != "" {
			return d.checkCommand(ctx, h, log)
		}
		return workspace.CheckURL(ctx, d.client, strings.ReplaceAll(health.URL, "{{host}}", url.PathEscape(h.name)), log)
	})
	if err != nil {
		return fmt.Errorf("local %s: health: %w", unit, err)
	}
	return nil
}

func (d *Driver) checkCommand(ctx context.Context, h host, log io.Writer) error {
	dir, err := h.current()
	if err != nil {
		return err
	}
	if dir == "" {
		return errors.New("no release is current")
	}
	m, err := h.meta(dir)
	if err != nil {
		return err
	}
	return workspace.Run(ctx, h.link(), []string{d.cfg.Health.Command}, d.hookEnv(h, dir, m), log)
}
