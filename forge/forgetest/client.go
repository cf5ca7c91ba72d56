// Package forgetest has a fake forge.Client that records what the
// decisions of forge.Core ask of a forge, for forge's tests and the
// adapters'.
package forgetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ferrybot/ferry/forge"
)

// Client is a forge.Client over a forge in memory. Set its fields before
// the Core uses it; read what was done with its methods. Its methods are
// safe for concurrent use.
type Client struct {
	// Logins are each login's access; a login not there may not ask
	// (Has "none").
	Logins map[string]forge.Access
	// Files are the files of repositories, by "path@sha".
	Files map[string]string
	// PullRequests are the pull requests PullRequest reads, by number.
	PullRequests map[int]forge.PullRequest
	// Fail makes a method (named as in Calls: "SetStatus") answer an
	// error; ErrNotSupported makes it a forge that cannot.
	Fail map[string]error

	mu          sync.Mutex
	calls       []string
	comments    []Comment
	reactions   []Reaction
	statuses    []Status
	deployments []Deployment
}

var _ forge.Client = (*Client)(nil)

// Comment is a comment on a pull request.
type Comment struct {
	ID     int64
	Number int
	Body   string
	Edits  int // times it was edited
}

// Reaction is a reaction ferry put on a comment.
type Reaction struct {
	Comment  int64
	Reaction forge.Reaction
}

// Status is a commit status ferry set.
type Status struct {
	Repo, SHA string
	forge.Status
}

// Deployment is a call of Deployment: the ref it was given and the
// deployment's state.
type Deployment struct {
	Repo, Ref string
	forge.Deployment
}

// call records a call and returns its configured failure.
func (c *Client) call(name string, args ...any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, strings.TrimSpace(name+" "+fmt.Sprint(args...)))
	return c.Fail[name]
}

// Access implements forge.Client.
func (c *Client) Access(_ context.Context, repo forge.Repo, who forge.User) (forge.Access, error) {
	if err := c.call("Access", who.Login); err != nil {
		return forge.Access{}, err
	}
	if a, ok := c.Logins[who.Login]; ok {
		return a, nil
	}
	return forge.Access{Has: "none", Needs: "write permission"}, nil
}

// File implements forge.Client.
func (c *Client) File(_ context.Context, _ forge.Repo, path, sha string) ([]byte, error) {
	if err := c.call("File", path+"@"+sha); err != nil {
		return nil, err
	}
	if f, ok := c.Files[path+"@"+sha]; ok {
		return []byte(f), nil
	}
	return nil, nil
}

// PullRequest implements forge.Client.
func (c *Client) PullRequest(_ context.Context, _ forge.Repo, number int) (forge.PullRequest, error) {
	if err := c.call("PullRequest", number); err != nil {
		return forge.PullRequest{}, err
	}
	pr, ok := c.PullRequests[number]
	if !ok {
		return forge.PullRequest{}, fmt.Errorf("no pull request %d", number)
	}
	return pr, nil
}

// FindComment implements forge.Client.
func (c *Client) FindComment(_ context.Context, _ forge.Repo, number int, prefix string) (int64, error) {
	if err := c.call("FindComment", number); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cm := range c.comments {
		if cm.Number == number && strings.HasPrefix(cm.Body, prefix) {
			return cm.ID, nil
		}
	}
	return 0, nil
}

// CreateComment implements forge.Client.
func (c *Client) CreateComment(_ context.Context, _ forge.Repo, number int, body string) (int64, error) {
	if err := c.call("CreateComment", number); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id := int64(1000 + len(c.comments))
	c.comments = append(c.comments, Comment{ID: id, Number: number, Body: body})
	return id, nil
}

// EditComment implements forge.Client.
func (c *Client) EditComment(_ context.Context, _ forge.Repo, number int, id int64, body string) error {
	if err := c.call("EditComment", id); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.comments {
		if c.comments[i].ID == id && c.comments[i].Number == number {
			c.comments[i].Body = body
			c.comments[i].Edits++
			return nil
		}
	}
	return fmt.Errorf("no comment %d on %d", id, number)
}

// React implements forge.Client.
func (c *Client) React(_ context.Context, _ forge.Repo, _ int, comment int64, r forge.Reaction) error {
	if err := c.call("React", r); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reactions = append(c.reactions, Reaction{Comment: comment, Reaction: r})
	return nil
}

// SetStatus implements forge.Client.
func (c *Client) SetStatus(_ context.Context, repo forge.Repo, sha string, st forge.Status) error {
	if err := c.call("SetStatus", st.Context); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statuses = append(c.statuses, Status{Repo: repo.FullName, SHA: sha, Status: st})
	return nil
}

// Deployment implements forge.Client: the ref it returns is the deploy's
// ID, as a forge's deployment ID would be.
func (c *Client) Deployment(_ context.Context, repo forge.Repo, ref string, d forge.Deployment) (string, error) {
	if err := c.call("Deployment", d.Deploy.ID); err != nil {
		return ref, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deployments = append(c.deployments, Deployment{Repo: repo.FullName, Ref: ref, Deployment: d})
	return fmt.Sprint("deployment-", d.Deploy.ID), nil
}

// Calls are the calls made, in order: "Access alice", "SetStatus
// ferry/staging".
func (c *Client) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// Comments are the comments on pull requests, as they are now.
func (c *Client) Comments() []Comment {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.comments)
}

// Reactions are the reactions put on comments, in order.
func (c *Client) Reactions() []Reaction {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reactions)
}

// Statuses are the commit statuses set, in order.
func (c *Client) Statuses() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.statuses)
}

// Deployments are the calls of Deployment, in order.
func (c *Client) Deployments() []Deployment {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.deployments)
}
