package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/kubernetes"
	"github.com/ferrybot/ferry/targets/local"
	"github.com/ferrybot/ferry/targets/ssh"
	"github.com/ferrybot/ferry/targets/workspace"
)

// drivers builds the target of each environment once for each target:
// the one it has in the configuration loaded now, and those deploys that
// started before a reload still run on.
type drivers struct {
	dir   string
	ws    *workspace.Workspace
	clock pipeline.Clock // nil: the system clock
	mu    sync.Mutex
	built map[string]pipeline.Target // by driverKey
}

// driverKey names the driver of an environment's target: its project,
// its environment, and a digest of its type and parameters, so that a
// target a reload changed is built anew.
func driverKey(p pipeline.Project, env pipeline.Environment) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%#v", env.Target.Type, env.Target.Params))
	return p.Name + "\x00" + env.Name + "\x00" + hex.EncodeToString(sum[:])
}

func (d *drivers) target(p pipeline.Project, env pipeline.Environment) (pipeline.Target, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := driverKey(p, env)
	if t, ok := d.built[key]; ok {
		return t, nil
	}
	var t pipeline.Target
	setup := workspace.Setup{Project: p.Name, Env: env.Name, BaseDir: d.dir, Workspace: d.ws}
	switch env.Target.Type {
	case "local":
		cfg, err := local.ParseConfig(env.Target.Params)
		if err != nil {
			return nil, err
		}
		if t, err = local.New(cfg, setup); err != nil {
			return nil, err
		}
	case "ssh":
		cfg, err := ssh.ParseConfig(env.Target.Params)
		if err != nil {
			return nil, err
		}
		if t, err = ssh.New(cfg, setup); err != nil {
			return nil, err
		}
	case "kubernetes":
		cfg, err := kubernetes.ParseConfig(env.Target.Params)
		if err != nil {
			return nil, err
		}
		if t, err = kubernetes.New(cfg, setup, kubernetes.Options{Clock: d.clock}); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("target type " + env.Target.Type + " is not built into this ferry; use type: local, ssh or kubernetes")
	}
	d.built[key] = t
	return t, nil
}

// prepare builds the target of an environment that is not built yet and
// runs its preflight; one built before was prepared then.
func (d *drivers) prepare(ctx context.Context, p pipeline.Project, env pipeline.Environment, log *slog.Logger) error {
	key := driverKey(p, env)
	d.mu.Lock()
	_, done := d.built[key]
	d.mu.Unlock()
	if done {
		return nil
	}
	t, err := d.target(p, env)
	if err != nil {
		return err
	}
	if err := preflight(ctx, t, log.With("project", p.Name, "env", env.Name)); err != nil {
		d.mu.Lock()
		delete(d.built, key) // checked again when it is asked for again
		d.mu.Unlock()
		if c, ok := t.(io.Closer); ok {
			c.Close()
		}
		return err
	}
	return nil
}

// preflight runs the start-up check of a target that has one (kubernetes
// asks the API server whether its credentials may do what deploys need).
// A missing permission stops ferry, naming it; a cluster ferry cannot reach
// now is logged, and its deploys will say so.
func preflight(ctx context.Context, t pipeline.Target, log *slog.Logger) error {
	p, ok := t.(interface {
		Preflight(ctx context.Context) ([]string, error)
	})
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	warnings, err := p.Preflight(ctx)
	for _, w := range warnings {
		log.Warn("target permission", "warning", w)
	}
	if errors.Is(err, pipeline.ErrForbidden) {
		return err
	}
	if err != nil {
		log.Error("target check", "err", err)
	}
	return nil
}

// close closes the targets that hold connections.
func (d *drivers) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range d.built {
		if c, ok := t.(io.Closer); ok {
			c.Close()
		}
	}
}
