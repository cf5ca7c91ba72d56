package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/pipeline"
)

// repoFile is the repository's own configuration, which RepoConfig reads
// (config.RepoFile).
const repoFile = ".ferry.yaml"

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
	problems error // one a line
}

func (r *refusedConfig) Error() string {
	return fmt.Sprintf("%s at %s is refused: %v", repoFile, short(r.sha), r.problems)
}

// markdown says why, as a list, after what it means: that nothing was
// done, or that nothing will be.
func (r *refusedConfig) markdown(asked bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ferry cannot use this repository's `%s` at %s", repoFile, short(r.sha))
	if asked {
		b.WriteString(", so nothing was done:\n")
	} else {
		b.WriteString(", and deploys this pull request asks for will be refused until it is fixed:\n")
	}
	for _, line := range strings.Split(r.problems.Error(), "\n") {
		fmt.Fprintf(&b, "- %s\n", line)
	}
	b.WriteString("\nferry's configuration (`github.repo_config`) says what a repository may change; the rest is ferry's to set.")
	return b.String()
}

// projectAt is project p as the repository's .ferry.yaml at commit sha
// makes it for the repository's events. The error is a *refusedConfig
// when the file asks for what it may not, and another when it could not
// be read.
func (a *Adapter) projectAt(ctx context.Context, api *gh.Client, p pipeline.Project, fullName, sha string) (pipeline.Project, error) {
	if a.repoConfig == nil {
		return p.WithoutOptional(), nil
	}
	data, err := a.repoFileAt(ctx, api, fullName, sha)
	if err != nil {
		return pipeline.Project{}, err
	}
	eff, err := a.repoConfig.RepoProject(p, repoFile, data)
	if err != nil {
		return pipeline.Project{}, &refusedConfig{sha: sha, problems: err}
	}
	return eff, nil
}

// repoFileAt returns the .ferry.yaml of repository fullName at commit
// sha; nil when it has none.
func (a *Adapter) repoFileAt(ctx context.Context, api *gh.Client, fullName, sha string) ([]byte, error) {
	if api == nil || sha == "" {
		return nil, fmt.Errorf("read %s of %s: no API access or no commit", repoFile, fullName)
	}
	return a.repoFiles.read(ctx, strings.ToLower(fullName)+"@"+sha, func() ([]byte, error) {
		return a.getRepoFile(ctx, api, fullName, sha)
	})
}

// getRepoFile reads the .ferry.yaml of repository fullName at commit sha
// from the API.
func (a *Adapter) getRepoFile(ctx context.Context, api *gh.Client, fullName, sha string) ([]byte, error) {
	owner, repo, _ := strings.Cut(fullName, "/")
	var fc *gh.RepositoryContent
	err := a.call(ctx, "repos.get_contents", func() (err error) {
		fc, _, _, err = api.Repositories.GetContents(ctx, owner, repo, repoFile, &gh.RepositoryContentGetOptions{Ref: sha})
		return err
	})
	var notFound *gh.ErrorResponse
	switch {
	case errors.As(err, &notFound) && notFound.Response != nil && notFound.Response.StatusCode == http.StatusNotFound:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read %s of %s at %s: %w", repoFile, fullName, short(sha), err)
	case fc == nil:
		return nil, fmt.Errorf("read %s of %s at %s: it is a directory", repoFile, fullName, short(sha))
	}
	text, err := fc.GetContent()
	if err != nil {
		return nil, fmt.Errorf("read %s of %s at %s: %w", repoFile, fullName, short(sha), err)
	}
	return []byte(text), nil
}

// envAt is the environment env of the project as a repository's
// .ferry.yaml at sha makes it, to request a deploy with; a refusal says
// why not.
func (a *Adapter) envAt(ctx context.Context, api *gh.Client, log *slog.Logger, p pipeline.Project, fullName, sha, env string) (*pipeline.Environment, error) {
	eff, err := a.projectAt(ctx, api, p, fullName, sha)
	var refused *refusedConfig
	switch {
	case errors.As(err, &refused):
		return nil, refusal(refused.markdown(true))
	case err != nil:
		log.ErrorContext(ctx, "github: read the repository's configuration", "err", err)
		return nil, refusal(fmt.Sprintf("ferry could not read this repository's `%s` because of an error; it is in ferry's log. Nothing was done.", repoFile))
	}
	if e, ok := eff.Env(env); ok {
		return &e, nil
	}
	if e, ok := p.Env(env); ok && e.Optional {
		return nil, refusal(fmt.Sprintf("%s is an optional environment of %s, and this repository's `%s` at %s does not add it (environments: {%s: {}}). Nothing was done.",
			env, p.Name, repoFile, short(sha), env))
	}
	return nil, nil // not an environment at all: the engine says so
}

// checkRepoConfig tells a pull request when the .ferry.yaml at its head is
// refused, so that its author knows before anything is asked of ferry.
func (a *Adapter) checkRepoConfig(ctx context.Context, api *gh.Client, pr prRef, projects []pipeline.Project, sha string) {
	log := a.log.With("platform", platform, "repo", pr.repo, "pr", pr.number)
	for _, p := range projects {
		_, err := a.projectAt(ctx, api, p, pr.repo, sha)
		var refused *refusedConfig
		switch {
		case errors.As(err, &refused):
			a.answer(ctx, api, log, pr.repo, pr.number, pr.login, refused.markdown(false))
			return
		case err != nil:
			log.ErrorContext(ctx, "github: read the repository's configuration", "err", err)
			return
		}
	}
}

// short is a commit's first seven characters.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
