package pipeline

import (
	"context"
	"errors"
	"time"
)

// The audit log is written by every command that changes something and by
// every command policy refuses (an action "X denied", the reason in its
// Detail). It is read a page at a time, newest first, through
// Engine.AuditLog, which shows each person what AuditScopeOf allows.

// Bounds of a page of the audit log.
const (
	AuditLimit    = 50  // entries a page holds when AuditFilter.Limit is 0
	MaxAuditLimit = 500 // the most entries a page may hold
)

// AuditFilter selects entries of the audit log; zero fields match
// everything. Entries are numbered in the order they were written, and
// come newest (highest ID) first.
type AuditFilter struct {
	Actor   string
	Project string // "*" selects entries about every project, like a lock on all of them
	Env     string
	Action  string // exactly, like "deploy" or "deploy denied"
	// Since and Until select entries written (At) in [Since, Until); zero:
	// no bound.
	Since, Until time.Time
	// Before is the cursor of a page: only entries with a lower ID, that
	// is, older than entry Before; 0 starts at the newest. A page's Next is
	// the Before of the page after it.
	Before int64
	// Limit is how many entries a page holds: 0 means AuditLimit; more than
	// MaxAuditLimit, or a negative number, is invalid.
	Limit int
	// Scope limits the entries to those one person may read; nil: every
	// entry. Engine.AuditLog sets it.
	Scope *AuditScope
}

// AuditScope is what someone who is not an admin may read of the audit
// log: the entries about some projects, and their own. The zero
// AuditScope selects nothing.
type AuditScope struct {
	Projects []string // entries about these projects, by whomever
	Actor    string   // and every entry this person made, about anything; "": none
}

// AuditPage is one page of the audit log, newest first.
type AuditPage struct {
	Entries []AuditEntry
	// Next is the Before of the next, older page; 0 when there is none.
	Next int64
	// Scope is what Engine.AuditLog limited the entries to, so that a page
	// can tell its reader what they see; nil: every entry. The store
	// leaves it nil.
	Scope *AuditScope
}

// AuditLog returns the page of the audit log f selects, of the entries the
// actor may read (AuditScopeOf); f.Scope is replaced by the actor's.
func (e *Engine) AuditLog(ctx context.Context, a Actor, f AuditFilter) (AuditPage, error) {
	f.Scope = AuditScopeOf(a, e.Projects())
	page, err := e.store.AuditEntries(ctx, f)
	page.Scope = f.Scope
	return page, err
}

// refused records in the audit log that policy refused the actor's action
// about scope, as "<action> denied" with the reason, and returns err.
// Refusals are errors wrapping ErrForbidden and locks (LockedError); other
// errors (a deploy that does not exist, nothing to approve) change nothing
// and are not recorded. The refusals of someone ferry does not know are
// recorded too, with an empty Actor. Beyond deniedPerMinute refusals of
// one actor in a minute they are counted instead (see denials).
func (e *Engine) refused(ctx context.Context, a Actor, action string, scope Deploy, err error) error {
	var locked *LockedError
	if (errors.Is(err, ErrForbidden) || errors.As(err, &locked)) && e.mayStoreRefusal(ctx, a) {
		e.audit(ctx, a, action+" denied", scope, err.Error())
	}
	return err
}
