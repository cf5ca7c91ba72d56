package forge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/ferrybot/ferry/pipeline"
)

// RepoFile is the repository's own configuration, which RepoConfig reads
// (config.RepoFile).
const RepoFile = ".ferry.yaml"

// maxRepoFiles bounds the .ferry.yaml files kept, by repository and
// commit.
const maxRepoFiles = 256

// repoFiles keeps the .ferry.yaml of repositories at commits (a commit's
// file never changes), each read once even when several events of one
// commit arrive together.
type repoFiles struct {
	mu    sync.Mutex
	files map[string]*repoFileRead // by owner/name@sha, lower case
	order []string                 // keys, oldest first
}

// repoFileRead is one read of a file: done closes when data and err are
// set. data is nil when there is no file.
type repoFileRead struct {
	done chan struct{}
	data []byte
	err  error
}

// read returns the file under key, calling fetch unless the file is kept
// or being read; a failed read is not kept.
func (c *repoFiles) read(ctx context.Context, key string, fetch func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if c.files == nil {
		c.files = map[string]*repoFileRead{}
	}
	r, ok := c.files[key]
	if !ok {
		r = &repoFileRead{done: make(chan struct{})}
		if len(c.order) == maxRepoFiles {
			delete(c.files, c.order[0])
			c.order = c.order[1:]
		}
		c.files[key] = r
		c.order = append(c.order, key)
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-r.done:
			return r.data, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.data, r.err = fetch()
	if r.err != nil {
		c.mu.Lock()
		if c.files[key] == r {
			delete(c.files, key)
			c.order = slices.DeleteFunc(c.order, func(k string) bool { return k == key })
		}
		c.mu.Unlock()
	}
	close(r.done)
	return r.data, r.err
}

// refusedConfig is a .ferry.yaml ferry will not use.
type refusedConfig struct {
	sha      string
	problems error  // one a line
	setting  string // the setting that says what a repository may change: github.repo_config
}

func (r *refusedConfig) Error() string {
	return fmt.Sprintf("%s at %s is refused: %v", RepoFile, short(r.sha), r.problems)
}

// markdown says why, as a list, after what it means: that nothing was
// done, or that nothing will be.
func (r *refusedConfig) markdown(asked bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ferry cannot use this repository's `%s` at %s", RepoFile, short(r.sha))
	if asked {
		b.WriteString(", so nothing was done:\n")
	} else {
		b.WriteString(", and deploys this pull request asks for will be refused until it is fixed:\n")
	}
	for _, line := range strings.Split(r.problems.Error(), "\n") {
		fmt.Fprintf(&b, "- %s\n", line)
	}
	fmt.Fprintf(&b, "\nferry's configuration (`%s`) says what a repository may change; the rest is ferry's to set.", r.setting)
	return b.String()
}

// projectAt is project p as the repository's .ferry.yaml at commit sha
// makes it for the repository's events. The error is a *refusedConfig
// when the file asks for what it may not, and another when it could not
// be read.
func (c *Core) projectAt(ctx context.Context, p pipeline.Project, repo Repo, sha string) (pipeline.Project, error) {
	if c.repoConfig == nil {
		return p.WithoutOptional(), nil
	}
	data, err := c.repoFileAt(ctx, repo, sha)
	if err != nil {
		return pipeline.Project{}, err
	}
	eff, err := c.repoConfig.RepoProject(p, RepoFile, data)
	if err != nil {
		return pipeline.Project{}, &refusedConfig{sha: sha, problems: err, setting: c.platform + ".repo_config"}
	}
	return eff, nil
}

// repoFileAt returns the .ferry.yaml of a repository at commit sha; nil
// when it has none.
func (c *Core) repoFileAt(ctx context.Context, repo Repo, sha string) ([]byte, error) {
	if c.client == nil || sha == "" {
		return nil, fmt.Errorf("read %s of %s: no API access or no commit", RepoFile, repo.FullName)
	}
	return c.files.read(ctx, strings.ToLower(repo.FullName)+"@"+sha, func() ([]byte, error) {
		data, err := c.client.File(ctx, repo, RepoFile, sha)
		if err != nil {
			return nil, fmt.Errorf("read %s of %s at %s: %w", RepoFile, repo.FullName, short(sha), err)
		}
		return data, nil
	})
}

// envAt is the environment env of the project as a repository's
// .ferry.yaml at sha makes it, to request a deploy with; a refusal says
// why not.
func (c *Core) envAt(ctx context.Context, log *slog.Logger, p pipeline.Project, repo Repo, sha, env string) (*pipeline.Environment, error) {
	eff, err := c.projectAt(ctx, p, repo, sha)
	var refused *refusedConfig
	switch {
	case errors.As(err, &refused):
		return nil, refusal(refused.markdown(true))
	case err != nil:
		log.ErrorContext(ctx, c.platform+": read the repository's configuration", "err", err)
		return nil, refusal(fmt.Sprintf("ferry could not read this repository's `%s` because of an error; it is in ferry's log. Nothing was done.", RepoFile))
	}
	if e, ok := eff.Env(env); ok {
		return &e, nil
	}
	if e, ok := p.Env(env); ok && e.Optional {
		return nil, refusal(fmt.Sprintf("%s is an optional environment of %s, and this repository's `%s` at %s does not add it (environments: {%s: {}}). Nothing was done.",
			env, p.Name, RepoFile, short(sha), env))
	}
	return nil, nil // not an environment at all: the engine says so
}

// checkRepoConfig tells a pull request when the .ferry.yaml at its head is
// refused, so that its author knows before anything is asked of ferry.
func (c *Core) checkRepoConfig(ctx context.Context, pr prRef, projects []pipeline.Project, sha string) {
	log := c.log.With("platform", c.platform, "repo", pr.repo, "pr", pr.number)
	for _, p := range projects {
		_, err := c.projectAt(ctx, p, Repo{FullName: pr.repo}, sha)
		var refused *refusedConfig
		switch {
		case errors.As(err, &refused):
			c.answer(ctx, log, pr, refused.markdown(false))
			return
		case err != nil:
			log.ErrorContext(ctx, c.platform+": read the repository's configuration", "err", err)
			return
		}
	}
}
