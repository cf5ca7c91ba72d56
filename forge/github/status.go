package github

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// flushTimeout bounds the last posting of statuses when Run stops.
const flushTimeout = 5 * time.Second

var _ pipeline.Notifier = (*Adapter)(nil)

// DeployChanged implements pipeline.Notifier: it returns at once, and
// Run's worker sets the commit status ferry/<env> of the deploy's commit
// on GitHub. Changes of one deploy that arrive before the worker gets to it
// are coalesced: only the latest state is posted. Deploys of projects
// whose repo is not on this GitHub are skipped.
func (a *Adapter) DeployChanged(_ context.Context, d pipeline.Deploy) {
	if d.Commit == "" {
		return
	}
	if _, ok := a.repoOfProject(d.Project); !ok {
		return
	}
	a.outMu.Lock()
	a.outbox[d.ID] = d
	a.outMu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// statuses posts the outbox until stop is closed, then posts what is left
// once, within flushTimeout. Changes after that are not posted.
func (a *Adapter) statuses(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-a.wake:
			a.flush(ctx, jobTimeout)
		case <-stop:
			a.flush(ctx, flushTimeout)
			return
		}
	}
}

func (a *Adapter) flush(ctx context.Context, limit time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	a.outMu.Lock()
	batch := a.outbox
	a.outbox = map[int64]pipeline.Deploy{}
	a.outMu.Unlock()
	for _, d := range batch {
		a.postStatus(ctx, d)
		a.progress(ctx, d)
	}
}

// postStatus sets ferry/<env> on the deploy's commit; a failure is logged
// and never reaches the engine.
func (a *Adapter) postStatus(ctx context.Context, d pipeline.Deploy) {
	log := a.log.With("platform", platform, "deploy_id", d.ID, "project", d.Project, "env", d.Env)
	fullName, _ := a.repoOfProject(d.Project)
	api, err := a.client(a.installationOf(fullName))
	if err != nil {
		log.InfoContext(ctx, "github: no API access for a commit status", "err", err)
		return
	}
	owner, repo, _ := strings.Cut(fullName, "/")
	st := gh.RepoStatus{
		State: gh.Ptr(statusState(d.State)), Context: gh.Ptr("ferry/" + d.Env),
		Description: gh.Ptr(statusDescription(d)),
	}
	if u := bot.DeployURL(a.baseURL, d.ID); u != "" {
		st.TargetURL = &u
	}
	if err := a.call(ctx, "repos.create_status", func() error {
		_, _, err := api.Repositories.CreateStatus(ctx, owner, repo, d.Commit, st)
		return err
	}); err != nil {
		log.ErrorContext(ctx, "github: commit status", "err", err)
	}
	a.postDeployment(ctx, api, log, owner, repo, d)
}

// statusState maps a deploy's state to a commit status state.
func statusState(s pipeline.State) string {
	switch s {
	case pipeline.StateSucceeded:
		return "success"
	case pipeline.StateFailed, pipeline.StateRollingBack, pipeline.StateRolledBack:
		return "failure"
	case pipeline.StateDenied, pipeline.StateRejected, pipeline.StateExpired, pipeline.StateCancelled:
		return "error"
	}
	return "pending"
}

// statusDescription says where a deploy is in at most 140 characters,
// GitHub's limit.
func statusDescription(d pipeline.Deploy) string {
	s := fmt.Sprintf("#%d %s: %s", d.ID, d.Version, strings.ReplaceAll(string(d.State), "_", " "))
	if d.State == pipeline.StateAwaitingApproval {
		s += fmt.Sprintf(" (%d needed)", d.ApprovalsRequired)
	}
	if d.Reason != "" && statusState(d.State) != "pending" && statusState(d.State) != "success" {
		s += ": " + d.Reason
	}
	return clip(s, 140)
}

// repoOfProject is owner/name of a project's repository when it is on
// this GitHub (github.com, or the Enterprise host of APIURL), or is
// written owner/name.
func (a *Adapter) repoOfProject(name string) (string, bool) {
	for _, p := range a.engine.Projects() {
		if p.Name != name {
			continue
		}
		parts := strings.Split(repoPath(p.Repo), "/")
		switch {
		case len(parts) == 2 && !strings.Contains(parts[0], "."):
			return parts[0] + "/" + parts[1], true
		case len(parts) == 3 && (strings.EqualFold(parts[0], a.host) || a.host == "" && strings.EqualFold(parts[0], "github.com")):
			return parts[1] + "/" + parts[2], true
		}
		return "", false
	}
	return "", false
}

// noteInstallation remembers which App installation a repository's
// deliveries come from, for calls that no delivery starts (statuses).
func (a *Adapter) noteInstallation(fullName string, id int64) {
	if id == 0 || fullName == "" {
		return
	}
	a.outMu.Lock()
	a.installs[strings.ToLower(fullName)] = id
	a.outMu.Unlock()
}

func (a *Adapter) installationOf(fullName string) int64 {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	return a.installs[strings.ToLower(fullName)]
}

// configContext is the commit status of a commit whose .ferry.yaml ferry
// refused.
const configContext = "ferry/config"

// statusConfig marks a commit whose .ferry.yaml is refused with an error
// status saying its first problem; a failure is logged.
func (a *Adapter) statusConfig(ctx context.Context, api *gh.Client, log *slog.Logger, fullName string, r *refusedConfig) {
	if api == nil {
		return
	}
	owner, repo, _ := strings.Cut(fullName, "/")
	st := gh.RepoStatus{State: gh.Ptr("error"), Context: gh.Ptr(configContext), Description: gh.Ptr(configDescription(r))}
	if err := a.call(ctx, "repos.create_status", func() error {
		_, _, err := api.Repositories.CreateStatus(ctx, owner, repo, r.sha, st)
		return err
	}); err != nil {
		log.ErrorContext(ctx, "github: commit status", "err", err)
	}
}

// configDescription says why a .ferry.yaml is refused in at most 140
// characters: its first problem, and how many more there are.
func configDescription(r *refusedConfig) string {
	lines := strings.Split(r.problems.Error(), "\n")
	s := "refused: " + lines[0]
	if len(lines) > 1 {
		s = fmt.Sprintf("refused (%d problems): %s", len(lines), lines[0])
	}
	return clip(s, 140)
}

// clip cuts s to n characters, the last an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) > n {
		return string([]rune(s)[:n-1]) + "…"
	}
	return s
}
