package pipeline

import (
	"fmt"
	"strings"
	"time"
)

// CanDeploy says whether the actor may request deploys to env.
func CanDeploy(a Actor, env Environment) error {
	if a.Name == "" {
		return fmt.Errorf("%w: you are not signed in as anyone ferry knows; link your account first", ErrForbidden)
	}
	if a.Admin || len(env.Deployers) == 0 || a.Is(env.Deployers) {
		return nil
	}
	return fmt.Errorf("%w: only %s may deploy to %s", ErrForbidden, strings.Join(env.Deployers, ", "), env.Name)
}

// CanApprove says whether the actor may approve d, given the approvals it
// already has. The requester never approves their own deploy, not even an
// admin, and nobody approves twice.
func CanApprove(a Actor, env Environment, d Deploy, got []Approval, now time.Time) error {
	if a.Name == "" {
		return fmt.Errorf("%w: you are not signed in as anyone ferry knows; link your account first", ErrForbidden)
	}
	if d.State != StateAwaitingApproval {
		return fmt.Errorf("%w: deploy %d is %s; there is nothing to approve", ErrConflict, d.ID, d.State)
	}
	if !d.ApprovalDeadline.IsZero() && !now.Before(d.ApprovalDeadline) {
		return fmt.Errorf("%w: the approval request of deploy %d expired at %s; ask for a new deploy", ErrConflict, d.ID, d.ApprovalDeadline.UTC().Format(time.RFC3339))
	}
	if a.Name == d.Requester {
		return fmt.Errorf("%w: you requested deploy %d, so someone else must approve it", ErrForbidden, d.ID)
	}
	if len(env.Approvals.From) > 0 && !a.Is(env.Approvals.From) && !a.Admin {
		return fmt.Errorf("%w: only %s may approve deploys to %s", ErrForbidden, strings.Join(env.Approvals.From, ", "), env.Name)
	}
	for _, g := range got {
		if g.Approver == a.Name {
			return fmt.Errorf("%w: you already approved deploy %d", ErrDuplicate, d.ID)
		}
	}
	return nil
}

// CanAct says whether the actor may steer a deploy that exists (continue,
// pause, cancel, resume, roll back): its requester, anyone who may deploy
// to the environment, or an admin.
func CanAct(a Actor, env Environment, d Deploy) error {
	if a.Name != "" && a.Name == d.Requester {
		return nil
	}
	return CanDeploy(a, env)
}

// CheckLock says whether locks keep the actor away from (project, env).
// The lock's owner passes; force passes for admins only.
func CheckLock(a Actor, locks []Lock, project, env string, force bool, now time.Time) error {
	for _, l := range locks {
		if l.Env != env || (l.Project != project && l.Project != "*") || !l.Active(now) || l.Owner == a.Name {
			continue
		}
		if force && a.Admin {
			continue
		}
		return &LockedError{Lock: l}
	}
	return nil
}

// AuditScopeOf says which entries of the audit log the actor may read; nil
// means every entry. Admins read everything. Anyone else reads the entries
// about the projects of projects they may deploy to at least one
// environment of (CanDeploy), whoever made them, and every entry they made
// themselves. So an entry about no project (a chat link) or about every
// project (a lock on "*") is for admins, and for the person who made it.
// Someone ferry does not know reads nothing.
func AuditScopeOf(a Actor, projects []Project) *AuditScope {
	if a.Admin && a.Name != "" {
		return nil
	}
	s := &AuditScope{Actor: a.Name}
	if a.Name == "" {
		return s
	}
	for _, p := range projects {
		for _, env := range p.Envs {
			if CanDeploy(a, env) == nil {
				s.Projects = append(s.Projects, p.Name)
				break
			}
		}
	}
	return s
}
