package github

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// postStatus sets ferry/<env> on the deploy's commit, saying its state now.
func (a *Adapter) postStatus(ctx context.Context, d pipeline.Deploy) error {
	fullName, ok := a.repoOfProject(d.Project)
	if !ok {
		return nil // its repository moved off this GitHub since
	}
	api, err := a.clientFor(ctx, fullName)
	if err != nil {
		return err
	}
	owner, repo, _ := strings.Cut(fullName, "/")
	st := gh.RepoStatus{
		State: gh.Ptr(statusState(d.State)), Context: gh.Ptr("ferry/" + d.Env),
		Description: gh.Ptr(statusDescription(d)),
	}
	if u := bot.DeployURL(a.baseURL, d.ID); u != "" {
		st.TargetURL = &u
	}
	return a.call(ctx, "repos.create_status", func() error {
		_, _, err := api.Repositories.CreateStatus(ctx, owner, repo, d.Commit, st)
		return err
	})
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
// this GitHub.
func (a *Adapter) repoOfProject(name string) (string, bool) {
	for _, p := range a.engine.Projects() {
		if p.Name == name {
			return repoOn(p.Repo, a.host)
		}
	}
	return "", false
}

// repoOn is owner/name of a repository when it is on the GitHub of host
// (github.com for ""), or is written owner/name.
func repoOn(repoURL, host string) (string, bool) {
	parts := strings.Split(repoPath(repoURL), "/")
	switch {
	case len(parts) == 2 && !strings.Contains(parts[0], "."):
		return parts[0] + "/" + parts[1], true
	case len(parts) == 3 && (strings.EqualFold(parts[0], host) || host == "" && strings.EqualFold(parts[0], "github.com")):
		return parts[1] + "/" + parts[2], true
	}
	return "", false
}

// apiHost is the Enterprise host of an API URL; "" for github.com.
func apiHost(apiURL string) string {
	if apiURL == "" {
		return ""
	}
	return strings.SplitN(repoKey(apiURL), "/", 2)[0]
}

// noteInstallation remembers which App installation a repository's
// deliveries come from, for calls that no delivery starts (statuses), in
// the store too, so that a restarted ferry knows it.
func (a *Adapter) noteInstallation(ctx context.Context, fullName string, id int64) {
	if id == 0 || fullName == "" || a.app == nil {
		return
	}
	key := strings.ToLower(fullName)
	a.instMu.Lock()
	known := a.installs[key] == id
	a.installs[key] = id
	a.instMu.Unlock()
	if !known {
		if err := a.store.PutNoticeRef(ctx, platform, "installation "+key, strconv.FormatInt(id, 10)); err != nil {
			a.log.ErrorContext(ctx, "github: remember an App installation", "platform", platform, "repo", fullName, "err", err)
		}
	}
}

// installationOf is the App installation of a repository: the one its
// deliveries came from, or, for a repository no delivery came from yet, the
// one GitHub names (GET /repos/{owner}/{repo}/installation, as the App); 0
// with a token.
func (a *Adapter) installationOf(ctx context.Context, fullName string) (int64, error) {
	if a.app == nil {
		return 0, nil
	}
	key := strings.ToLower(fullName)
	a.instMu.Lock()
	id, ok := a.installs[key]
	a.instMu.Unlock()
	if ok {
		return id, nil
	}
	ref, err := a.store.NoticeRef(ctx, platform, "installation "+key)
	if err != nil {
		return 0, err
	}
	if ref == "" {
		owner, repo, _ := strings.Cut(fullName, "/")
		var inst *gh.Installation
		if err := a.call(ctx, "apps.get_repo_installation", func() (err error) {
			inst, _, err = a.appAPI.Apps.GetRepositoryInstallation(ctx, owner, repo)
			return err
		}); err != nil {
			return 0, fmt.Errorf("the App's installation on %s: %w", fullName, err)
		}
		a.noteInstallation(ctx, fullName, inst.GetID())
		return inst.GetID(), nil
	}
	id, err = strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the App installation of %s: %w", fullName, err)
	}
	a.instMu.Lock()
	a.installs[key] = id
	a.instMu.Unlock()
	return id, nil
}

// statusNotDeployed marks a pushed commit ferry could not deploy to env
// (it cannot fetch it, or it no longer belongs to the ref) with a failure
// status saying why; a failure to set it is logged.
func (a *Adapter) statusNotDeployed(ctx context.Context, api *gh.Client, log *slog.Logger, fullName, sha, env string, why error) {
	if api == nil || sha == "" {
		return
	}
	owner, repo, _ := strings.Cut(fullName, "/")
	msg, _ := bot.Explain(why)
	st := gh.RepoStatus{State: gh.Ptr("failure"), Context: gh.Ptr("ferry/" + env), Description: gh.Ptr(clip("not deployed: "+msg, 140))}
	if err := a.call(ctx, "repos.create_status", func() error {
		_, _, err := api.Repositories.CreateStatus(ctx, owner, repo, sha, st)
		return err
	}); err != nil {
		log.ErrorContext(ctx, "github: commit status", "err", err)
	}
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
