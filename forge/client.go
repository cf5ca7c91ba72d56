package forge

import (
	"context"
	"errors"

	"github.com/ferrybot/ferry/pipeline"
)

// ErrNotSupported is what a Client answers for what its forge cannot do
// (Gitee has no deployments, and no reactions on comments); the decisions
// go on without it.
var ErrNotSupported = errors.New("not supported by this forge")

// Client is the few calls the decisions make of a forge's API, each about
// one repository, named as its events name it (Repo.FullName). A forge's
// package implements it over its SDK or its HTTP API; the errors it returns
// for the outbox say whether a call may be tried again (bot.Permanent,
// bot.RetryAfter).
type Client interface {
	// Access is a user's standing on the repository: whether it may give
	// ferry commands, and how the forge names what it has and what it
	// needs.
	Access(ctx context.Context, repo Repo, who User) (Access, error)
	// File is the file at path in the repository at commit sha; nil and
	// no error when there is none.
	File(ctx context.Context, repo Repo, path, sha string) ([]byte, error)
	// PullRequest reads a pull (merge) request as the forge has it now.
	PullRequest(ctx context.Context, repo Repo, number int) (PullRequest, error)
	// FindComment returns the ID of the first comment on a pull request
	// whose body starts with prefix; 0 when there is none.
	FindComment(ctx context.Context, repo Repo, number int, prefix string) (int64, error)
	// CreateComment adds a comment to a pull request and returns its ID.
	CreateComment(ctx context.Context, repo Repo, number int, body string) (int64, error)
	// EditComment sets the body of a comment of a pull request.
	EditComment(ctx context.Context, repo Repo, number int, id int64, body string) error
	// React adds a reaction to a comment of a pull request.
	React(ctx context.Context, repo Repo, number int, comment int64, r Reaction) error
	// SetStatus sets a commit status (or check) of commit sha.
	SetStatus(ctx context.Context, repo Repo, sha string, st Status) error
	// Deployment keeps the forge's record of a deploy and sets its state:
	// ref is what it returned the last time for this deploy ("" the first
	// time), and it returns what to keep.
	Deployment(ctx context.Context, repo Repo, ref string, d Deployment) (string, error)
}

// User is a person on a forge, as an event names them.
type User struct {
	Login string
	ID    int64 // the forge's numeric ID; 0 when the event gave none
}

// Access is what a user has on a repository.
type Access struct {
	MayAsk bool   // may give ferry commands
	Has    string // what they have, in the forge's words: "read", "Reporter"
	Needs  string // what commands need, to say so: "write permission"
}

// Reaction is a mark ferry puts on a command's comment.
type Reaction string

// The reactions ferry uses.
const (
	ReactionSeen    Reaction = "eyes"     // read, being done
	ReactionDone    Reaction = "rocket"   // done
	ReactionRefused Reaction = "confused" // nothing was done
)

// StatusState is a commit status's state; each forge names it its way.
type StatusState string

// The states of a commit status.
const (
	StatusPending StatusState = "pending"
	StatusRunning StatusState = "running"
	StatusSuccess StatusState = "success"
	StatusFailure StatusState = "failure"
	StatusError   StatusState = "error"
)

// Status is a commit status ferry sets.
type Status struct {
	Context     string // ferry/<env>, ferry/config
	State       StatusState
	Description string // at most 140 characters
	TargetURL   string // "": none
}

// Deployment is the state of a deploy, for the forge's deployment record.
type Deployment struct {
	Deploy      pipeline.Deploy // its ID, environment, commit, ref, state
	Description string          // at most 140 characters
	LogURL      string          // the deploy's page; "": none
	EnvURL      string          // the environment's url: for this deploy; "": none
	Production  bool            // the environment is one people use
	Transient   bool            // its url changes from one deploy to the next
}
