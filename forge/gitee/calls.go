package gitee

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/forge"
)

// needs is what Gitee calls the permission ferry takes commands from.
const needs = "write (push) permission"

// Access implements forge.Client: admin, write or push permission may ask.
// Someone who is not a member of the repository (404) has none.
func (c *client) Access(ctx context.Context, r forge.Repo, who forge.User) (forge.Access, error) {
	var perm struct {
		Permission string `json:"permission"`
	}
	_, err := c.do(ctx, http.MethodGet, repoPath(r)+"/collaborators/"+url.PathEscape(who.Login)+"/permission", nil, nil, &perm)
	switch {
	case statusOf(err) == http.StatusNotFound:
		return forge.Access{Has: "none", Needs: needs}, nil
	case err != nil:
		return forge.Access{}, err
	}
	p := strings.ToLower(perm.Permission)
	if p == "" {
		p = "none"
	}
	return forge.Access{MayAsk: p == "admin" || p == "write" || p == "push", Has: p, Needs: needs}, nil
}

// File implements forge.Client with the contents API. Gitee answers a
// path the commit does not have with 404 or with an empty list; either is
// no file.
func (c *client) File(ctx context.Context, r forge.Repo, path, sha string) ([]byte, error) {
	var raw json.RawMessage
	_, err := c.do(ctx, http.MethodGet, repoPath(r)+"/contents/"+escapePath(path), url.Values{"ref": {sha}}, nil, &raw)
	switch {
	case statusOf(err) == http.StatusNotFound:
		return nil, nil
	case err != nil:
		return nil, err
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null" || string(raw) == "[]" || string(raw) == "{}":
		return nil, nil
	case raw[0] == '[':
		return nil, fmt.Errorf("gitee: %s is a directory", path)
	}
	var f struct {
		Type     string `json:"type"`
		Encoding string `json:"encoding"`
		Content  string `json:"content"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("gitee: contents of %s: %w", path, err)
	}
	if f.Type != "" && f.Type != "file" {
		return nil, fmt.Errorf("gitee: %s is a %s, not a file", path, f.Type)
	}
	if f.Encoding != "" && f.Encoding != "base64" {
		return nil, fmt.Errorf("gitee: contents of %s in %q, not base64", path, f.Encoding)
	}
	data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(f.Content), ""))
	if err != nil {
		return nil, fmt.Errorf("gitee: contents of %s: %w", path, err)
	}
	return data, nil
}

// escapePath escapes each segment of a path in a repository.
func escapePath(p string) string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// PullRequest implements forge.Client.
func (c *client) PullRequest(ctx context.Context, r forge.Repo, number int) (forge.PullRequest, error) {
	var pr hookPR
	if _, err := c.do(ctx, http.MethodGet, repoPath(r)+"/pulls/"+strconv.Itoa(number), nil, nil, &pr); err != nil {
		return forge.PullRequest{}, err
	}
	if pr.Number == 0 {
		pr.Number = number
	}
	return pullRequestOf(r, &pr, "", forge.User{}), nil
}

// perPage is how many comments ferry asks for at once, Gitee's most.
const perPage = 100

// FindComment implements forge.Client, through the pages of the pull
// request's comments (Gitee says how many in total_page), at most
// maxPages.
func (c *client) FindComment(ctx context.Context, r forge.Repo, number int, prefix string) (int64, error) {
	path := repoPath(r) + "/pulls/" + strconv.Itoa(number) + "/comments"
	for page := 1; page <= maxPages; page++ {
		var cs []struct {
			ID   int64  `json:"id"`
			Body string `json:"body"`
		}
		h, err := c.do(ctx, http.MethodGet, path, url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}, nil, &cs)
		if err != nil {
			return 0, err
		}
		for _, cm := range cs {
			if strings.HasPrefix(cm.Body, prefix) {
				return cm.ID, nil
			}
		}
		total, err := strconv.Atoi(h.Get("total_page"))
		if len(cs) == 0 || err == nil && page >= total || err != nil && len(cs) < perPage {
			return 0, nil
		}
	}
	return 0, nil
}

// CreateComment implements forge.Client.
func (c *client) CreateComment(ctx context.Context, r forge.Repo, number int, body string) (int64, error) {
	var cm struct {
		ID int64 `json:"id"`
	}
	if _, err := c.do(ctx, http.MethodPost, repoPath(r)+"/pulls/"+strconv.Itoa(number)+"/comments", nil, map[string]any{"body": body}, &cm); err != nil {
		return 0, err
	}
	if cm.ID == 0 {
		return 0, errors.New("gitee: a new comment without an id")
	}
	return cm.ID, nil
}

// EditComment implements forge.Client.
func (c *client) EditComment(ctx context.Context, r forge.Repo, _ int, id int64, body string) error {
	_, err := c.do(ctx, http.MethodPatch, repoPath(r)+"/pulls/comments/"+strconv.FormatInt(id, 10), nil, map[string]any{"body": body}, nil)
	return err
}

// React implements forge.Client: Gitee's API has no reactions on comments,
// so a refused command is not marked at all.
func (c *client) React(context.Context, forge.Repo, int, int64, forge.Reaction) error {
	return forge.ErrNotSupported
}

// Deployment implements forge.Client: Gitee keeps no deployments.
func (c *client) Deployment(_ context.Context, _ forge.Repo, ref string, _ forge.Deployment) (string, error) {
	return ref, forge.ErrNotSupported
}

// checkOf is a commit status as a Gitee check run: its status and, once
// completed, its conclusion. An error (a deploy denied, cancelled,
// rejected or expired; a refused .ferry.yaml) is a cancelled check: nothing
// was done.
func checkOf(s forge.StatusState) (status, conclusion string) {
	switch s {
	case forge.StatusRunning:
		return "in_progress", ""
	case forge.StatusSuccess:
		return "completed", "success"
	case forge.StatusFailure:
		return "completed", "failure"
	case forge.StatusError:
		return "completed", "cancelled"
	}
	return "queued", ""
}

// SetStatus implements forge.Client with a check run named as the status
// (ferry/<env>) on the commit: the one ferry created for it, updated
// while it is not completed, or a new one (a completed check run's
// conclusion cannot change); nothing when the check run says the same. Its
// ID, status and a digest of what it says are kept in the store. Creating check
// runs takes the repository's admin permission: when Gitee refuses it
// (403), or has no check runs (404), SetStatus is forge.ErrNotSupported
// for that repository for noChecksFor, and the sticky comment alone says
// how a deploy goes.
func (c *client) SetStatus(ctx context.Context, r forge.Repo, sha string, st forge.Status) error {
	key := strings.ToLower(r.FullName)
	c.checkMu.Lock()
	defer c.checkMu.Unlock()
	now := c.clock.Now()
	if until, ok := c.noChecks[key]; ok && now.Before(until) {
		return forge.ErrNotSupported
	}
	status, conclusion := checkOf(st.State)
	run := map[string]any{"name": st.Context, "status": status,
		"output": map[string]any{"title": st.Description, "summary": summary(st)}}
	if conclusion != "" {
		run["conclusion"], run["completed_at"] = conclusion, now.UTC().Format(time.RFC3339)
	}
	if status == "in_progress" {
		run["started_at"] = now.UTC().Format(time.RFC3339)
	}
	if st.TargetURL != "" {
		run["details_url"] = st.TargetURL
	}
	dest := "check " + key + "@" + sha + " " + st.Context
	ref, err := c.store.NoticeRef(ctx, platform, dest)
	if err != nil {
		return err
	}
	says := checkSays(status, conclusion, st)
	fields := strings.Fields(ref) // id, status, what it says
	id, _ := strconv.ParseInt(first(fields...), 10, 64)
	switch {
	case id != 0 && len(fields) == 3 && fields[2] == says:
		return nil // it says so already (a deploy's notices come at each unit's progress, in one state)
	case id != 0 && (len(fields) < 2 || fields[1] != "completed"):
		_, err := c.do(ctx, http.MethodPatch, repoPath(r)+"/check-runs/"+strconv.FormatInt(id, 10), nil, run, nil)
		if statusOf(err) != http.StatusNotFound { // gone: a new one
			if err == nil {
				err = c.store.PutNoticeRef(ctx, platform, dest, fmt.Sprint(id, " ", status, " ", says))
			}
			return err
		}
	}
	run["head_sha"] = sha
	var created struct {
		ID int64 `json:"id"`
	}
	_, err = c.do(ctx, http.MethodPost, repoPath(r)+"/check-runs", nil, run, &created)
	switch s := statusOf(err); {
	case s == http.StatusForbidden || s == http.StatusNotFound:
		c.noChecks[key] = now.Add(noChecksFor)
		return fmt.Errorf("%w: check runs on %s: %w", forge.ErrNotSupported, r.FullName, err)
	case err != nil:
		return err
	case created.ID == 0:
		return errors.New("gitee: a new check run without an id")
	}
	return c.store.PutNoticeRef(ctx, platform, dest, fmt.Sprint(created.ID, " ", status, " ", says))
}

// checkSays is a short digest of what a check run says, to tell whether a
// completed one says what is to be set.
func checkSays(status, conclusion string, st forge.Status) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{status, conclusion, st.Description, st.TargetURL}, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// summary is the Markdown of a check run's report, whose title is the
// status's description: a link to the deploy's page, or the description
// again (Gitee wants a summary).
func summary(st forge.Status) string {
	if st.TargetURL == "" {
		return st.Description
	}
	return "[The deploy in ferry](" + st.TargetURL + ")"
}
