package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// Limits of the client.
const (
	maxFile      = 1 << 20 // bytes of a .ferry.yaml read (config refuses one over 64 KiB, saying its size)
	notesPerPage = 100     // GitLab's largest page
	maxNotePages = 50      // of a merge request's notes searched for the sticky note: 5,000 notes
	maxRetryWait = time.Hour
)

// needs is what a user needs to give ferry commands, as GitLab says it.
const needs = "the Developer role or above"

// noRole is what a user has on a project they are not a member of.
const noRole = "no role"

// client is forge.Client over GitLab's REST API (v4), with a personal,
// project or group access token. Every call names the project by its path,
// URL-encoded by the SDK (group%2Fsub%2Fname), and takes its context.
// The SDK's own retries are off: the outbox retries, with backoff and
// GitLab's Retry-After, across restarts.
type client struct {
	api   *gitlab.Client
	log   *slog.Logger
	clock pipeline.Clock

	meMu sync.Mutex
	me   int64 // the token's user, once asked

	depMu   sync.Mutex
	pending map[int64]deploymentRef // deploy ID → its deployment, when a notice failed after creating it
}

var _ forge.Client = (*client)(nil)

// newClient is the client of cfg's Token; nil without one.
func newClient(cfg Config, log *slog.Logger, clock pipeline.Clock) (*client, error) {
	if cfg.Token == "" {
		return nil, nil
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: apiTimeout}
	}
	opts := []gitlab.ClientOptionFunc{gitlab.WithHTTPClient(hc), gitlab.WithoutRetries(), gitlab.WithURLWarningLogger(log)}
	if cfg.APIURL != "" {
		opts = append(opts, gitlab.WithBaseURL(cfg.APIURL)) // the SDK adds api/v4/ when it is not there
	}
	api, err := gitlab.NewClient(cfg.Token, opts...)
	if err != nil {
		return nil, fmt.Errorf("gitlab: API client: %w", err) // about the URL; the token is in no error
	}
	return &client{api: api, log: log, clock: clock, pending: map[int64]deploymentRef{}}, nil
}

// Access implements forge.Client: a member of the project, directly or
// through its groups, with the Developer role or above may ask. An event
// without the user's ID (a Note Hook's user has none) has it found by
// username first.
func (c *client) Access(ctx context.Context, r forge.Repo, who forge.User) (forge.Access, error) {
	none := forge.Access{Has: noRole, Needs: needs}
	id := who.ID
	if id == 0 {
		var err error
		if id, err = c.userID(ctx, who.Login); err != nil || id == 0 {
			return none, err
		}
	}
	m, _, err := c.api.ProjectMembers.GetInheritedProjectMember(r.FullName, id, gitlab.WithContext(ctx))
	switch {
	case notFound(err):
		return none, nil
	case err != nil:
		return forge.Access{}, c.apiError("get project member", err)
	}
	has := roleName(m.AccessLevel)
	active := m.State == "" || m.State == "active"
	if !active {
		has += " (" + m.State + ")"
	}
	return forge.Access{MayAsk: active && m.AccessLevel >= gitlab.DeveloperPermissions, Has: has, Needs: needs}, nil
}

// userID finds a user by username; 0 when there is none.
func (c *client) userID(ctx context.Context, login string) (int64, error) {
	if login == "" {
		return 0, nil
	}
	us, _, err := c.api.Users.ListUsers(&gitlab.ListUsersOptions{Username: &login}, gitlab.WithContext(ctx))
	if err != nil {
		return 0, c.apiError("find a user", err)
	}
	for _, u := range us {
		if strings.EqualFold(u.Username, login) {
			return u.ID, nil
		}
	}
	return 0, nil
}

// roleName is GitLab's name of an access level.
func roleName(l gitlab.AccessLevelValue) string {
	switch l {
	case gitlab.NoPermissions:
		return noRole
	case gitlab.MinimalAccessPermissions:
		return "Minimal Access"
	case gitlab.GuestPermissions:
		return "Guest"
	case gitlab.PlannerPermissions:
		return "Planner"
	case gitlab.ReporterPermissions:
		return "Reporter"
	case gitlab.SecurityManagerPermissions:
		return "Security Manager"
	case gitlab.DeveloperPermissions:
		return "Developer"
	case gitlab.MaintainerPermissions:
		return "Maintainer"
	case gitlab.OwnerPermissions:
		return "Owner"
	case gitlab.AdminPermissions:
		return "Admin"
	}
	return fmt.Sprintf("access level %d", l)
}

// File implements forge.Client with the raw file of the repository at
// the commit; a file larger than maxFile is an error, not read whole.
func (c *client) File(ctx context.Context, r forge.Repo, path, sha string) ([]byte, error) {
	rc, _, err := c.api.RepositoryFiles.GetRawFileReader(r.FullName, path, &gitlab.GetRawFileOptions{Ref: &sha}, gitlab.WithContext(ctx))
	switch {
	case notFound(err):
		return nil, nil
	case err != nil:
		return nil, c.apiError("get raw file", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxFile+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("gitlab get raw file: %w", err)
	case len(data) > maxFile:
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFile)
	}
	return data, nil
}

// PullRequest implements forge.Client with the merge request as GitLab
// has it now: its head is its source branch and that branch's commit, in
// the source project, which is another project's path for a fork.
func (c *client) PullRequest(ctx context.Context, r forge.Repo, number int) (forge.PullRequest, error) {
	mr, _, err := c.api.MergeRequests.GetMergeRequest(r.FullName, int64(number), nil, gitlab.WithContext(ctx))
	if err != nil {
		return forge.PullRequest{}, c.apiError("get merge request", err)
	}
	pr := forge.PullRequest{Repo: r, Number: number, Head: mr.SourceBranch, HeadSHA: mr.SHA, HeadRepo: r.FullName,
		Base: mr.TargetBranch, Labels: mr.Labels, Open: mr.State == stateOpened, Merged: mr.State == "merged"}
	if mr.SourceProjectID != 0 && mr.SourceProjectID != mr.TargetProjectID {
		if pr.HeadRepo, err = c.projectPath(ctx, mr.SourceProjectID, r.FullName); err != nil {
			return forge.PullRequest{}, err
		}
	}
	return pr, nil
}

// projectPath is the path of a merge request's source project, another
// than target; one ferry may not see is named by its ID, which is not
// target's path either, so that the fork is refused all the same.
func (c *client) projectPath(ctx context.Context, id int64, target string) (string, error) {
	named := fmt.Sprintf("project %d", id)
	p, _, err := c.api.Projects.GetProject(id, nil, gitlab.WithContext(ctx))
	var er *gitlab.ErrorResponse
	switch {
	case notFound(err) || errors.As(err, &er) && er.StatusCode == http.StatusForbidden:
		return named, nil
	case err != nil:
		return "", c.apiError("get project", err)
	case p.PathWithNamespace == "" || strings.EqualFold(p.PathWithNamespace, target):
		return named, nil
	}
	return p.PathWithNamespace, nil
}

// self is the ID of the token's user, asked once.
func (c *client) self(ctx context.Context) (int64, error) {
	c.meMu.Lock()
	defer c.meMu.Unlock()
	if c.me != 0 {
		return c.me, nil
	}
	u, _, err := c.api.Users.CurrentUser(gitlab.WithContext(ctx))
	if err != nil {
		return 0, c.apiError("get the current user", err)
	}
	c.me = u.ID
	return c.me, nil
}

// known is the token's user's ID when it was asked already; 0 otherwise.
func (c *client) known() int64 {
	c.meMu.Lock()
	defer c.meMu.Unlock()
	return c.me
}

// FindComment implements forge.Client, through the merge request's
// notes, oldest first, up to maxNotePages pages: only a note the token's
// user wrote counts, so that a note anyone else starts with the marker is
// never taken for ferry's (ferry could not edit it).
func (c *client) FindComment(ctx context.Context, r forge.Repo, number int, prefix string) (int64, error) {
	me, err := c.self(ctx)
	if err != nil {
		return 0, err
	}
	order, sort := "created_at", "asc"
	opt := &gitlab.ListMergeRequestNotesOptions{ListOptions: gitlab.ListOptions{PerPage: notesPerPage}, OrderBy: &order, Sort: &sort}
	for range maxNotePages {
		notes, res, err := c.api.Notes.ListMergeRequestNotes(r.FullName, int64(number), opt, gitlab.WithContext(ctx))
		if err != nil {
			return 0, c.apiError("list merge request notes", err)
		}
		for _, n := range notes {
			if !n.System && n.Author.ID == me && strings.HasPrefix(n.Body, prefix) {
				return n.ID, nil
			}
		}
		if res == nil || res.NextPage == 0 {
			return 0, nil
		}
		opt.Page = res.NextPage
	}
	return 0, nil
}

// CreateComment implements forge.Client with a note on the merge request.
func (c *client) CreateComment(ctx context.Context, r forge.Repo, number int, body string) (int64, error) {
	n, _, err := c.api.Notes.CreateMergeRequestNote(r.FullName, int64(number), &gitlab.CreateMergeRequestNoteOptions{Body: &body}, gitlab.WithContext(ctx))
	if err != nil {
		return 0, c.apiError("create merge request note", err)
	}
	return n.ID, nil
}

// EditComment implements forge.Client.
func (c *client) EditComment(ctx context.Context, r forge.Repo, number int, id int64, body string) error {
	_, _, err := c.api.Notes.UpdateMergeRequestNote(r.FullName, int64(number), id, &gitlab.UpdateMergeRequestNoteOptions{Body: &body}, gitlab.WithContext(ctx))
	return c.apiError("update merge request note", err)
}

// React implements forge.Client with an emoji reaction (award emoji) on
// the note; GitLab's eyes, rocket and confused are named as ferry's. An
// emoji ferry awarded already (a delivery handled again) is done: GitLab
// answers 404 "Award Emoji Name has already been taken" (400 on older
// versions), and a 404 is told from a note that is gone by the note's
// emoji.
func (c *client) React(ctx context.Context, r forge.Repo, number int, comment int64, re forge.Reaction) error {
	name := string(re)
	_, _, err := c.api.AwardEmoji.CreateMergeRequestAwardEmojiOnNote(r.FullName, int64(number), comment, &gitlab.CreateAwardEmojiOptions{Name: name}, gitlab.WithContext(ctx))
	var er *gitlab.ErrorResponse
	switch {
	case err == nil:
		return nil
	case errors.As(err, &er) && er.StatusCode == http.StatusBadRequest && strings.Contains(er.Message, "already been taken"):
		return nil
	case notFound(err) && c.awarded(ctx, r, number, comment, name):
		return nil
	}
	return c.apiError("award emoji", err)
}

// awarded reports whether a note has emoji name from the token's user
// (from anyone, when ferry has not asked who it is yet).
func (c *client) awarded(ctx context.Context, r forge.Repo, number int, note int64, name string) bool {
	as, _, err := c.api.AwardEmoji.ListMergeRequestAwardEmojiOnNote(r.FullName, int64(number), note,
		&gitlab.ListAwardEmojiOptions{ListOptions: gitlab.ListOptions{PerPage: notesPerPage}}, gitlab.WithContext(ctx))
	if err != nil {
		return false
	}
	me := c.known()
	for _, a := range as {
		if a.Name == name && (me == 0 || a.User.ID == me) {
			return true
		}
	}
	return false
}

// notFound reports whether err is GitLab's 404.
func notFound(err error) bool { return errors.Is(err, gitlab.ErrNotFound) }

// apiError says when a failed call may be tried again: after GitLab's
// Retry-After (or RateLimit-Reset) for a 429, never for a request GitLab
// refuses (400, 422), forbids the token (403) or a project it does not
// show ferry (404); others (5xx, the network) with the outbox's backoff.
// The message names the call and GitLab's answer, never the token, which
// is a header.
func (c *client) apiError(op string, err error) error {
	if err == nil {
		return nil
	}
	werr := fmt.Errorf("gitlab %s: %w", op, err)
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) {
		return werr
	}
	switch er.StatusCode {
	case http.StatusTooManyRequests:
		if er.Response != nil {
			if d, ok := retryAfter(er.Response.Header, c.clock.Now()); ok {
				return bot.RetryAfter(d, werr)
			}
		}
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity:
		return bot.Permanent(werr)
	}
	return werr
}

// retryAfter is how long a 429 asks to wait: its Retry-After, in seconds
// or as a date, or failing that until its RateLimit-Reset (Unix seconds),
// at least a second and at most maxRetryWait.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	var d time.Duration
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			d = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		} else {
			return 0, false
		}
	} else if v := h.Get("RateLimit-Reset"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		d = time.Unix(secs, 0).Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, time.Second), maxRetryWait), true
}
