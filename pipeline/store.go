package pipeline

import (
	"context"
	"time"
)

// Store keeps ferry's state. storage.Store implements it; a PostgreSQL store
// can implement it without touching the pipeline. Methods return errors
// wrapping ErrNotFound, ErrConflict and ErrDuplicate where callers decide on
// them.
type Store interface {
	DeployStore
	UnitStore
	ApprovalStore
	LockStore
	AuditStore
	OutboxStore
	PromotionStore
	AnnouncementStore
	LeaseStore
}

// DeployFilter selects deploys; zero fields match everything.
type DeployFilter struct {
	Project string
	Env     string
	States  []State
	// Requester selects the deploys one person asked for; "": anyone's.
	Requester string
	// Since and Until select deploys requested (CreatedAt) in
	// [Since, Until); zero: no bound.
	Since, Until time.Time
	Limit        int // 0: no limit
	// Newest first unless Oldest.
	Oldest bool
}

// DeployStore keeps deploys and their transitions.
type DeployStore interface {
	// CreateDeploy stores d in StateRequested, setting its ID and times.
	CreateDeploy(ctx context.Context, d *Deploy) error
	Deploy(ctx context.Context, id int64) (Deploy, error)
	Deploys(ctx context.Context, f DeployFilter) ([]Deploy, error)
	// Transition moves deploy t.DeployID from t.From to t.To only if it is
	// still in t.From (compare-and-swap), applies update to the other fields
	// in the same transaction, and records t with the notices t.Notices
	// makes of the deploy it leaves (in that commit). If the deploy is no longer in
	// t.From it returns an error wrapping ErrConflict and changes nothing.
	Transition(ctx context.Context, t Transition, update func(*Deploy)) (Deploy, error)
	// SetProgress records the batch being run and the end of a bake.
	SetProgress(ctx context.Context, id int64, batch, batches int, bakeUntil time.Time) error
	// SetReason records why a deploy stays in state (a queued deploy a
	// freeze holds); it changes nothing once the deploy has moved on.
	SetReason(ctx context.Context, id int64, state State, reason string) error
	Transitions(ctx context.Context, id int64) ([]Transition, error)
}

// UnitStore is the journal of per-unit progress and step output.
type UnitStore interface {
	PutUnit(ctx context.Context, u Unit) error // insert or replace by (DeployID, Name)
	Units(ctx context.Context, deployID int64) ([]Unit, error)
	AppendLog(ctx context.Context, e LogEntry) error
	// Logs returns the last limit entries of a deploy, oldest first (limit 0: all).
	Logs(ctx context.Context, deployID int64, limit int) ([]LogEntry, error)
	// PutUnitRelease records what a unit runs now.
	PutUnitRelease(ctx context.Context, r UnitRelease) error
	// UnitReleases returns what each unit of an environment runs, by name.
	UnitReleases(ctx context.Context, project, env string) ([]UnitRelease, error)
}

// ApprovalStore keeps approvals.
type ApprovalStore interface {
	// AddApproval fails with ErrDuplicate if the approver already approved.
	AddApproval(ctx context.Context, a Approval) error
	Approvals(ctx context.Context, deployID int64) ([]Approval, error)
}

// LockStore keeps environment locks.
type LockStore interface {
	// PutLock creates or replaces the lock of (Project, Env).
	PutLock(ctx context.Context, l Lock) error
	// DeleteLock removes a lock; ErrNotFound if there is none.
	DeleteLock(ctx context.Context, project, env string) error
	Locks(ctx context.Context) ([]Lock, error)
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// Audit adds an entry; the store numbers it in the order written.
	Audit(ctx context.Context, e AuditEntry) error
	// AuditLog returns the last limit entries, newest first (limit 0: all).
	AuditLog(ctx context.Context, limit int) ([]AuditEntry, error)
	// AuditEntries returns the page of entries f selects, newest first. An
	// f.Limit out of bounds is an error wrapping ErrInvalid.
	AuditEntries(ctx context.Context, f AuditFilter) (AuditPage, error)
}
