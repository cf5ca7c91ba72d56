package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// client is forge.Client over GitHub's REST API, as a token or as an App,
// which calls about each repository with a token of the App's installation
// on it (ghinstallation, which renews it before it expires).
type client struct {
	token  *gh.Client                    // with a Token; nil otherwise
	app    *ghinstallation.AppsTransport // with an App; nil otherwise
	appAPI *gh.Client                    // calls as the App itself (its JWT); nil without an App
	newAPI func(http.RoundTripper) (*gh.Client, error)
	store  Store
	log    *slog.Logger
	clock  pipeline.Clock

	apiMu sync.Mutex
	apis  map[int64]*gh.Client // an App's clients, by installation

	instMu   sync.Mutex
	installs map[string]int64 // owner/name, lower case → App installation
}

var _ forge.Client = (*client)(nil)

// newClient is the client of cfg's token or App; nil without either.
func newClient(cfg Config, log *slog.Logger, clock pipeline.Clock) (*client, error) {
	if cfg.Token == "" && cfg.AppID == 0 {
		return nil, nil
	}
	if cfg.Token != "" && cfg.AppID != 0 {
		return nil, errors.New("github: a Token or an App (AppID, PrivateKey), not both")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: apiTimeout}
	}
	c := &client{store: cfg.Store, log: log, clock: clock, apis: map[int64]*gh.Client{}, installs: map[string]int64{}}
	c.newAPI = func(tr http.RoundTripper) (*gh.Client, error) {
		h := *hc
		if tr != nil {
			h.Transport = tr
		}
		opts := []gh.ClientOptionsFunc{gh.WithHTTPClient(&h)}
		if cfg.APIURL != "" {
			opts = append(opts, gh.WithEnterpriseURLs(cfg.APIURL, cfg.APIURL))
		}
		if tr == nil {
			opts = append(opts, gh.WithAuthToken(cfg.Token))
		}
		return gh.NewClient(opts...)
	}
	if cfg.Token != "" {
		api, err := c.newAPI(nil)
		if err != nil {
			return nil, fmt.Errorf("github: API client: %w", err)
		}
		c.token = api
		return c, nil
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	atr, err := ghinstallation.NewAppsTransport(base, cfg.AppID, cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("github: App %d: %w", cfg.AppID, err) // the error names no part of the key
	}
	probe, err := c.newAPI(base)
	if err != nil {
		return nil, fmt.Errorf("github: API client: %w", err)
	}
	atr.BaseURL = strings.TrimRight(probe.BaseURL(), "/")
	c.app = atr
	if c.appAPI, err = c.newAPI(atr); err != nil {
		return nil, fmt.Errorf("github: API client: %w", err)
	}
	return c, nil
}

// forInstallation returns the API client of an App's installation, or the
// token's.
func (c *client) forInstallation(installation int64) (*gh.Client, error) {
	if c.token != nil {
		return c.token, nil
	}
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	if api, ok := c.apis[installation]; ok {
		return api, nil
	}
	itr := ghinstallation.NewFromAppsTransport(c.app, installation)
	itr.BaseURL = c.app.BaseURL
	api, err := c.newAPI(itr)
	if err != nil {
		return nil, err
	}
	c.apis[installation] = api
	return api, nil
}

// repo returns the API client for calls about a repository and its owner
// and name.
func (c *client) repo(ctx context.Context, r forge.Repo) (api *gh.Client, owner, name string, err error) {
	owner, name, _ = strings.Cut(r.FullName, "/")
	id, err := c.installationOf(ctx, r.FullName)
	if err != nil {
		return nil, owner, name, err
	}
	api, err = c.forInstallation(id)
	return api, owner, name, err
}

// noteInstallation remembers which App installation a repository's
// deliveries come from, in the store too, so that a restarted ferry knows
// it.
func (c *client) noteInstallation(ctx context.Context, fullName string, id int64) {
	if id == 0 || fullName == "" || c.app == nil {
		return
	}
	key := strings.ToLower(fullName)
	c.instMu.Lock()
	known := c.installs[key] == id
	c.installs[key] = id
	c.instMu.Unlock()
	if !known {
		if err := c.store.PutNoticeRef(ctx, platform, "installation "+key, strconv.FormatInt(id, 10)); err != nil {
			c.log.ErrorContext(ctx, "github: remember an App installation", "platform", platform, "repo", fullName, "err", err)
		}
	}
}

// installationOf is the App installation of a repository: the one its
// deliveries came from, or, for a repository no delivery came from yet, the
// one GitHub names (GET /repos/{owner}/{repo}/installation, as the App); 0
// with a token.
func (c *client) installationOf(ctx context.Context, fullName string) (int64, error) {
	if c.app == nil {
		return 0, nil
	}
	key := strings.ToLower(fullName)
	c.instMu.Lock()
	id, ok := c.installs[key]
	c.instMu.Unlock()
	if ok {
		return id, nil
	}
	ref, err := c.store.NoticeRef(ctx, platform, "installation "+key)
	if err != nil {
		return 0, err
	}
	if ref == "" {
		owner, repo, _ := strings.Cut(fullName, "/")
		var inst *gh.Installation
		if err := c.call(ctx, "apps.get_repo_installation", func() (err error) {
			inst, _, err = c.appAPI.Apps.GetRepositoryInstallation(ctx, owner, repo)
			return err
		}); err != nil {
			return 0, fmt.Errorf("the App's installation on %s: %w", fullName, err)
		}
		c.noteInstallation(ctx, fullName, inst.GetID())
		return inst.GetID(), nil
	}
	id, err = strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the App installation of %s: %w", fullName, err)
	}
	c.instMu.Lock()
	c.installs[key] = id
	c.instMu.Unlock()
	return id, nil
}

// Access implements forge.Client: write or admin permission may ask.
func (c *client) Access(ctx context.Context, r forge.Repo, who forge.User) (forge.Access, error) {
	api, owner, name, err := c.repo(ctx, r)
	if err != nil {
		return forge.Access{}, err
	}
	var perm *gh.RepositoryPermissionLevel
	err = c.call(ctx, "repos.get_permission", func() (err error) {
		perm, _, err = api.Repositories.GetPermissionLevel(ctx, owner, name, who.Login)
		return err
	})
	if err != nil {
		return forge.Access{}, apiError(err)
	}
	p := perm.GetPermission()
	return forge.Access{MayAsk: p == "admin" || p == "write", Has: p, Needs: "write permission"}, nil
}

// File implements forge.Client with the contents API.
func (c *client) File(ctx context.Context, r forge.Repo, path, sha string) ([]byte, error) {
	api, owner, name, err := c.repo(ctx, r)
	if err != nil {
		return nil, err
	}
	var fc *gh.RepositoryContent
	err = c.call(ctx, "repos.get_contents", func() (err error) {
		fc, _, _, err = api.Repositories.GetContents(ctx, owner, name, path, &gh.RepositoryContentGetOptions{Ref: sha})
		return err
	})
	var notFound *gh.ErrorResponse
	switch {
	case errors.As(err, &notFound) && notFound.Response != nil && notFound.Response.StatusCode == http.StatusNotFound:
		return nil, nil
	case err != nil:
		return nil, apiError(err)
	case fc == nil:
		return nil, errors.New("it is a directory")
	}
	text, err := fc.GetContent()
	if err != nil {
		return nil, err
	}
	return []byte(text), nil
}

// PullRequest implements forge.Client.
func (c *client) PullRequest(ctx context.Context, r forge.Repo, number int) (forge.PullRequest, error) {
	api, owner, name, err := c.repo(ctx, r)
	if err != nil {
		return forge.PullRequest{}, err
	}
	var pr *gh.PullRequest
	if err := c.call(ctx, "pulls.get", func() (err error) {
		pr, _, err = api.PullRequests.Get(ctx, owner, name, number)
		return err
	}); err != nil {
		return forge.PullRequest{}, apiError(err)
	}
	return pullRequestOf(&gh.PullRequestEvent{Repo: &gh.Repository{FullName: &r.FullName}, Number: &number, PullRequest: pr}), nil
}

// FindComment implements forge.Client, through every page of the pull
// request's comments.
func (c *client) FindComment(ctx context.Context, r forge.Repo, number int, prefix string) (int64, error) {
	api, owner, name, err := c.repo(ctx, r)
	if err != nil {
		return 0, err
	}
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		var cs []*gh.IssueComment
		var res *gh.Response
		if err := c.call(ctx, "issues.list_comments", func() (err error) {
			cs, res, err = api.Issues.ListComments(ctx, owner, name, number, opts)
			return err
		}); err != nil {
			return 0, apiError(err)
		}
		for _, cm := range cs {
			if strings.HasPrefix(cm.GetBody(), prefix) {
				return cm.GetID(), nil
			}
		}
		if res == nil || res.NextPage == 0 {
			return 0, nil
		}
		opts.Page = res.NextPage
	}
}

// CreateComment implements forge.Client.
func (c *client) CreateComment(ctx context.Context, r forge.Repo, number int, body string) (int64, error) {
	api, owner, name, err := c.repo(ctx, r)
	if err != nil {
		return 0, err
	}
	var cm *gh.IssueComment
	if err := c.call(ctx, "issues.create_comment", func() (err error) {
		cm, _, err = api.Issues.CreateComment(ctx, owner, name, number, &gh.IssueComment{Body: &body})
		return err
	}); err != nil {
		return 0, apiError(err)
	}
	return cm.GetID(), nil
}

// EditComment implements forge.Client.
func (c *client) EditComment(ctx context.Context, r forge.Repo, _ int, id int64, body string) error {
	api, owner, name, err := c.repo(ctx, r)
	if err != nil {
		return err
	}
	return apiError(c.call(ctx, "issues.edit_comment", func() error {
		_, _, err := api.Issues.EditComment(ctx, owner, name, id, &gh.IssueComment{Body: &body})
		return err
	}))
}

// React implements forge.Client; GitHub's reactions are named as ferry's.
func (c *client) React(ctx context.Context, r forge.Repo, _ int, comment int64, re forge.Reaction) error {
	api, owner, name, err := c.repo(ctx, r)
	if err != nil {
		return err
	}
	return apiError(c.call(ctx, "reactions", func() error {
		_, _, err := api.Reactions.CreateIssueCommentReaction(ctx, owner, name, comment, string(re))
		return err
	}))
}

// SetStatus implements forge.Client with a commit status; GitHub has no
// running state, so a running deploy is pending.
func (c *client) SetStatus(ctx context.Context, r forge.Repo, sha string, st forge.Status) error {
	api, owner, name, err := c.repo(ctx, r)
	if err != nil {
		return err
	}
	state := string(st.State)
	if st.State == forge.StatusRunning {
		state = string(forge.StatusPending)
	}
	rs := gh.RepoStatus{State: &state, Context: &st.Context, Description: &st.Description}
	if st.TargetURL != "" {
		rs.TargetURL = &st.TargetURL
	}
	return apiError(c.call(ctx, "repos.create_status", func() error {
		_, _, err := api.Repositories.CreateStatus(ctx, owner, name, sha, rs)
		return err
	}))
}

// deploymentTask marks the GitHub Deployments ferry creates.
const deploymentTask = "deploy:ferry"

// deploymentState maps a deploy's state to a GitHub deployment status.
func deploymentState(s pipeline.State) string {
	switch s {
	case pipeline.StateQueued:
		return "queued"
	case pipeline.StateRunning, pipeline.StatePaused, pipeline.StateRollingBack:
		return "in_progress"
	case pipeline.StateSucceeded:
		return "success"
	case pipeline.StateFailed, pipeline.StateRolledBack:
		return "failure"
	case pipeline.StateRejected, pipeline.StateExpired, pipeline.StateCancelled:
		return "error"
	}
	return "pending"
}

// Deployment implements forge.Client with a GitHub Deployment of the
// deploy's commit in its environment — ref is "<ID> <status>", "" until
// it is created the first time (a denied request gets none) — and a
// status saying the deploy's state, unless the last one says it already
// (a deploy's notices come at each unit's progress too, in one state). A
// success makes GitHub mark the environment's earlier deployments
// inactive.
func (c *client) Deployment(ctx context.Context, r forge.Repo, ref string, dep forge.Deployment) (string, error) {
	d := dep.Deploy
	state := deploymentState(d.State)
	idText, last, _ := strings.Cut(ref, " ")
	id, _ := strconv.ParseInt(idText, 10, 64)
	if id != 0 && last == state {
		return ref, nil
	}
	api, owner, name, err := c.repo(ctx, r)
	if err != nil {
		return ref, err
	}
	if id == 0 {
		if id, err = c.deploymentOf(ctx, api, owner, name, dep); err != nil || id == 0 {
			return ref, apiError(err)
		}
		ref = strconv.FormatInt(id, 10)
	}
	req := &gh.DeploymentStatusRequest{
		State: &state, Description: &dep.Description,
		Environment: gh.Ptr(d.Env), AutoInactive: gh.Ptr(true),
	}
	if dep.LogURL != "" {
		req.LogURL = &dep.LogURL
	}
	if dep.EnvURL != "" {
		req.EnvironmentURL = &dep.EnvURL
	}
	err = apiError(c.call(ctx, "repos.create_deployment_status", func() error {
		_, _, err := api.Repositories.CreateDeploymentStatus(ctx, owner, name, id, req)
		return err
	}))
	if err != nil {
		return ref, err
	}
	return strconv.FormatInt(id, 10) + " " + state, nil
}

// deploymentOf finds the GitHub Deployment of a deploy among the commit's
// deployments by the ferry_deploy of its payload (one a ferry made before
// it could keep its ID), or creates it; 0 for a denied deploy, which has
// none.
func (c *client) deploymentOf(ctx context.Context, api *gh.Client, owner, repo string, dep forge.Deployment) (int64, error) {
	d := dep.Deploy
	var found []*gh.Deployment
	if err := c.call(ctx, "repos.list_deployments", func() (err error) {
		found, _, err = api.Repositories.ListDeployments(ctx, owner, repo, &gh.DeploymentsListOptions{SHA: d.Commit, Environment: d.Env, Task: deploymentTask})
		return err
	}); err != nil {
		return 0, err
	}
	var id int64
	for _, g := range found {
		var p struct {
			FerryDeploy int64 `json:"ferry_deploy"`
		}
		if json.Unmarshal(g.Payload, &p) == nil && p.FerryDeploy == d.ID {
			id = g.GetID()
		}
	}
	if id != 0 || d.State == pipeline.StateDenied {
		return id, nil
	}
	var g *gh.Deployment
	err := c.call(ctx, "repos.create_deployment", func() (err error) {
		g, _, err = api.Repositories.CreateDeployment(ctx, owner, repo, &gh.DeploymentRequest{
			Ref: gh.Ptr(d.Commit), Task: gh.Ptr(deploymentTask), AutoMerge: gh.Ptr(false), RequiredContexts: &[]string{},
			Payload: map[string]any{"ferry_deploy": d.ID}, Environment: gh.Ptr(d.Env),
			Description:           gh.Ptr(fmt.Sprintf("%s %s to %s", strings.ToLower(string(d.Kind)), d.Version, d.Env)),
			ProductionEnvironment: gh.Ptr(dep.Production), TransientEnvironment: gh.Ptr(dep.Transient),
		})
		return err
	})
	return g.GetID(), err
}

// apiError says when a failed call may be tried again: after GitHub's
// Retry-After or rate limit reset, never for a request GitHub refuses
// (422) or a repository it does not show ferry (404).
func apiError(err error) error {
	var limited *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	var refused *gh.ErrorResponse
	switch {
	case err == nil:
		return nil
	case errors.As(err, &abuse) && abuse.RetryAfter != nil:
		return bot.RetryAfter(*abuse.RetryAfter, err)
	case errors.As(err, &limited):
		return bot.RetryAfter(time.Until(limited.Rate.Reset.Time), err)
	case errors.As(err, &refused) && refused.Response != nil &&
		(refused.Response.StatusCode == http.StatusUnprocessableEntity || refused.Response.StatusCode == http.StatusNotFound):
		return bot.Permanent(err)
	}
	return err
}

// repoOn is owner/name of a repository when it is on the GitHub of host
// (github.com for ""), or is written owner/name.
func repoOn(repoURL, host string) (string, bool) {
	parts := strings.Split(forge.RepoPath(repoURL), "/")
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
	return strings.SplitN(forge.RepoKey(apiURL), "/", 2)[0]
}
