package ssh

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
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
	err = workspace.CheckWithin(ctx, health.Timeout, func(ctx context.Context) error {
		if health.Command != "" {
			return d.checkCommand(ctx, h, log)
		}
		return workspace.CheckURL(ctx, d.client, d.healthURL(h), log)
	})
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

// healthURL is the health URL of h: {{host}} is its address, {{name}}
// its name.
func (d *Driver) healthURL(h host) string {
	address := h.address
	if strings.Contains(address, ":") {
		address = "[" + address + "]" // an IPv6 address
	}
	return strings.NewReplacer("{{host}}", address, "{{name}}", url.PathEscape(h.name)).Replace(d.cfg.Health.URL)
}
