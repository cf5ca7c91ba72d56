package pipeline

import "time"

// Kind says what a deploy does.
type Kind string

const (
	// KindDeploy builds a ref and installs it as a new release.
	KindDeploy Kind = "deploy"
	// KindRollback switches every unit back to a release it already has.
	KindRollback Kind = "rollback"
)

// Deploy is one request to put a version of a project on an environment,
// and everything that happened to it since. It is a row in the store.
type Deploy struct {
	ID      int64
	Project string
	Env     string
	Kind    Kind

	Ref     string // what was asked for: a branch, a tag or a commit
	Commit  string // the full commit hash Ref resolved to
	Version string // what people call it: the tag, or branch@shortsha
	// CommittedAt is the committer time of Commit, from the repository, when
	// the deploy was requested: where lead time for changes starts. Zero
	// when it is not known.
	CommittedAt time.Time
	// Release names the release directory on every unit. A deploy's own
	// release is its ID; a rollback names the release it returns to.
	Release string
	// PreviousVersion and PreviousRelease are what the environment ran
	// before this deploy, when it was requested.
	PreviousVersion string
	PreviousRelease string

	State     State
	Requester string // the identity that asked
	Reason    string // why it is in its state, in words: a denial, a failure, who superseded it
	Force     bool   // an admin overrode locks and rules; recorded in the audit log

	Batch             int       // index of the batch being run (or next to run)
	Batches           int       // how many batches the plan has; 0 until it starts
	ApprovalsRequired int       // distinct approvals needed before it queues
	ApprovalDeadline  time.Time // zero: approvals never expire
	BakeUntil         time.Time // while baking between batches
	// Strategy is how this deploy rolls out when its request narrowed the
	// environment's (Request.Override); nil: the environment's. It is set
	// when the deploy is created, and Store.Transition keeps it.
	Strategy *Strategy
	// RequestKey is the delivery that asked for this deploy, with its
	// project, environment and kind; "" for none. A deploy is created once
	// per key, so a delivery handled twice asks once.
	RequestKey string
	// Origin is where it was asked for, in its platform's words (see
	// WithOrigin); "" for a command with no place to follow it.
	Origin string

	CreatedAt  time.Time
	UpdatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

// Transition is one stored move of a deploy from one state to another.
type Transition struct {
	DeployID int64
	From     State
	To       State
	Event    Event
	Actor    string // who caused it; "ferry" for the engine
	Reason   string
	At       time.Time
	// Notices says what the platforms are owed for the deploy as the
	// transition leaves it; the store writes them in the transition's
	// commit. Not kept with the transition; nil: nothing is owed.
	Notices func(Deploy) []Notice
}

// UnitState is where one unit (a host, a pod, a directory) is in a deploy.
type UnitState string

// Unit states.
const (
	UnitPending    UnitState = "pending"
	UnitRunning    UnitState = "running"
	UnitDone       UnitState = "done"
	UnitFailed     UnitState = "failed"
	UnitRolledBack UnitState = "rolled_back"
)

// Unit is the journal of one unit of one deploy: what step it is on and what
// it ran before, so a restart can resume and a rollback can return.
type Unit struct {
	DeployID int64
	Name     string
	Batch    int
	State    UnitState
	Step     string
	Previous string // the release the unit ran before this deploy; "" for none
	Error    string
	Started  time.Time
	Finished time.Time
}

// UnitRelease is what one unit of an environment runs now, as far as ferry
// knows: the release a deploy installed there or a rollback returned it to.
type UnitRelease struct {
	Project  string
	Env      string
	Unit     string
	Release  string // "" when no release is current
	Version  string
	DeployID int64 // the deploy that put it there
	Updated  time.Time
}

// LogEntry is a piece of output of a step, kept with the deploy.
type LogEntry struct {
	DeployID int64
	Seq      int64  // set by the store, increasing per deploy
	Unit     string // "" for the deploy as a whole (build, hooks)
	Step     string
	Text     string
	At       time.Time
}

// Approval is one person's yes to a deploy.
type Approval struct {
	DeployID int64
	Approver string
	At       time.Time
}

// Lock keeps deploys away from an environment of one project, or of every
// project when Project is "*".
type Lock struct {
	Project string
	Env     string
	Owner   string
	Reason  string
	Created time.Time
	Expires time.Time // zero: until unlocked
}

// Scope names what the lock covers, as people write it.
func (l Lock) Scope() string {
	if l.Project == "*" {
		return "every project in " + l.Env
	}
	return l.Project + " " + l.Env
}

// Active reports whether the lock still holds at now.
func (l Lock) Active(now time.Time) bool { return l.Expires.IsZero() || now.Before(l.Expires) }

// AuditEntry records who did what. Every command that changes something
// writes one, forced or not.
type AuditEntry struct {
	ID       int64
	At       time.Time
	Actor    string
	Action   string
	Project  string
	Env      string
	DeployID int64
	Detail   string
}
