package pipeline

import "fmt"

// configuration is what the engine deploys at one time: the projects, in
// configuration order, and the freezes. It is never changed once made:
// Reconfigure replaces it whole, every operation reads one, and a deploy
// keeps the one it started with (see Engine.started).
type configuration struct {
	projects map[string]Project
	order    []string
	freezes  []Freeze
}

// newConfiguration checks that no project is defined twice.
func newConfiguration(projects []Project, freezes []Freeze) (*configuration, error) {
	c := &configuration{projects: map[string]Project{}, freezes: freezes}
	for _, p := range projects {
		if _, dup := c.projects[p.Name]; dup {
			return nil, fmt.Errorf("pipeline: project %s is defined twice", p.Name)
		}
		c.projects[p.Name] = p
		c.order = append(c.order, p.Name)
	}
	return c, nil
}

// list is the projects in configuration order.
func (c *configuration) list() []Project {
	ps := make([]Project, len(c.order))
	for i, n := range c.order {
		ps[i] = c.projects[n]
	}
	return ps
}

func (c *configuration) lookup(project, env string) (Project, Environment, error) {
	p, ok := c.projects[project]
	if !ok {
		return Project{}, Environment{}, fmt.Errorf("%w: project %q does not exist; projects: %s", ErrNotFound, project, joinNames(c.order))
	}
	en, ok := p.Env(env)
	if !ok {
		return p, Environment{}, fmt.Errorf("%w: project %s has no environment %q; environments: %s", ErrNotFound, project, env, joinNames(p.EnvNames()))
	}
	return p, en, nil
}

// Reconfigure replaces the projects and freezes the engine deploys, as New
// takes them: a project may not be defined twice. It takes effect for
// every request, command and view that starts after it returns; a deploy
// that started before runs to its end with the project and environment it
// started with (its strategy, target and hooks), even when its project is
// gone from projects.
func (e *Engine) Reconfigure(projects []Project, freezes []Freeze) error {
	c, err := newConfiguration(projects, freezes)
	if err != nil {
		return err
	}
	e.conf.Store(c)
	e.Kick() // a freeze may have ended: queued deploys may start
	return nil
}

// config is the configuration loaded now.
func (e *Engine) config() *configuration { return e.conf.Load() }

// pin is the configuration a deploy of this replica started with.
type pin struct {
	conf         *configuration
	project, env string
}

// started is the configuration deploy d runs with: the one loaded when a
// worker of this replica first drove it (or adopted it), kept while the
// deploy may still change its units — until it is final, or a newer
// deploy of its environment starts — so that a reload changes neither its
// batches, bake and strategy nor the target it installs on, and a rollback
// of it returns the units it touched.
func (e *Engine) started(d Deploy) *configuration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.pinned[d.ID]; ok {
		return p.conf
	}
	c := e.config()
	e.pinned[d.ID] = pin{conf: c, project: d.Project, env: d.Env}
	return c
}

// pinnedConfig is what deploy id started with, if it runs on this replica
// or may still roll back.
func (e *Engine) pinnedConfig(id int64) (*configuration, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.pinned[id]
	return p.conf, ok
}

// unpin forgets what d started with once nothing more runs of it: it is
// final, or it starts and the deploys of its environment before it can no
// longer be rolled back on their own.
func (e *Engine) unpin(d Deploy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d.State.Final() {
		delete(e.pinned, d.ID)
	}
	if d.State != StateRunning {
		return
	}
	for id, p := range e.pinned {
		if id != d.ID && p.project == d.Project && p.env == d.Env {
			delete(e.pinned, id)
		}
	}
}
