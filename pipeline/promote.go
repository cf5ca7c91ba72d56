package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Promotion is a rule of a project: what succeeded in From moves on to To,
// once it has run healthy in From for Soak, or at the times of Schedule
// (the newest version that succeeded in From before that time). Exactly
// what succeeded moves (the same commit, version and release), through
// To's own rules, approvals, locks and freezes, requested by the system
// actor Promoter.
type Promotion struct {
	From, To string
	Soak     time.Duration // when healthy: how long it runs healthy first; 0 with a Schedule
	Schedule Starts        // nil: when healthy
}

// Promoter is the requester of the deploys promotions make: not a person,
// so any approver may approve them.
const Promoter = "promotion"

// PromotionState is where a promotion of one version is.
type PromotionState string

// Promotion states.
const (
	PromotionSoaking   PromotionState = "soaking"   // waiting out its soak, its schedule or a freeze
	PromotionPromoted  PromotionState = "promoted"  // its deploy in To was requested
	PromotionCancelled PromotionState = "cancelled" // a failed check, a rollback or a newer deploy upstream
)

// PromotionRecord is the journal of one version promoted by one rule.
type PromotionRecord struct {
	ID                int64
	Project, From, To string
	Source            int64 // the succeeded deploy in From
	Version           string
	State             PromotionState
	Reason            string
	Due               time.Time // when it promotes
	Checked           time.Time // its last passing health check; zero before one
	DeployID          int64     // the deploy it made in To; 0 before
	Created, Updated  time.Time
}

// PromotionStore keeps the promotions.
type PromotionStore interface {
	// StartPromotion stores p unless the rule (Project, From, To) has a
	// promotion of p.Source already; it returns the stored one, and
	// whether it is new.
	StartPromotion(ctx context.Context, p PromotionRecord) (PromotionRecord, bool, error)
	// UpdatePromotion records p's State, Reason, Checked and DeployID.
	UpdatePromotion(ctx context.Context, p PromotionRecord) error
	// Promotions lists a project's ("": every project's) promotions in
	// states (none: any), oldest first.
	Promotions(ctx context.Context, project string, states ...PromotionState) ([]PromotionRecord, error)
}

// soakChecks is how many health checks a soak makes, at least: one every
// Soak/soakChecks, and one when it ends.
const soakChecks = 6

// promote moves every promotion rule on: it starts the promotion of what
// newly succeeded upstream, checks the health of what soaks, cancels what
// a newer deploy or a rollback upstream replaced, and requests the deploy
// of what is due. The sweep calls it; it is safe to call again at any
// time, and after a restart.
func (e *Engine) promote(ctx context.Context, c *configuration) {
	for _, p := range c.list() {
		if len(p.Promotions) == 0 {
			continue
		}
		soaking, err := e.store.Promotions(ctx, p.Name, PromotionSoaking)
		if err != nil {
			e.log.Error("promotions", "project", p.Name, "err", err)
			continue
		}
		for _, r := range p.Promotions {
			if err := e.promoteRule(ctx, c, p, r, soaking); err != nil && ctx.Err() == nil {
				e.log.Error("promotion", "project", p.Name, "from", r.From, "to", r.To, "err", err)
			}
		}
	}
}

// promoteRule moves one rule on; soaking are the project's promotions
// that soak.
func (e *Engine) promoteRule(ctx context.Context, c *configuration, p Project, r Promotion, soaking []PromotionRecord) error {
	now := e.clock.Now()
	cur, err := e.current(ctx, p.Name, r.From)
	if err != nil {
		return err
	}
	upstream, err := e.inFlightIn(ctx, p.Name, r.From)
	if err != nil {
		return err
	}
	for _, rec := range soaking {
		if rec.From != r.From || rec.To != r.To {
			continue
		}
		switch {
		case cur.Deploy == nil || cur.Deploy.ID != rec.Source:
			why := "a newer deploy in " + r.From
			if cur.Deploy != nil && cur.Deploy.Kind == KindRollback {
				why = fmt.Sprintf("%s was rolled back (#%d)", r.From, cur.Deploy.ID)
			} else if cur.Deploy != nil {
				why = fmt.Sprintf("a newer deploy in %s (#%d %s)", r.From, cur.Deploy.ID, cur.Deploy.Version)
			}
			e.cancelPromotion(ctx, rec, why)
		case upstream != nil && upstream.Kind == KindRollback:
			e.cancelPromotion(ctx, rec, fmt.Sprintf("%s is being rolled back (#%d)", r.From, upstream.ID))
		case upstream != nil:
			e.cancelPromotion(ctx, rec, fmt.Sprintf("a newer deploy in %s (#%d %s)", r.From, upstream.ID, upstream.Version))
		}
	}
	src := cur.Deploy
	if src == nil || src.Kind != KindDeploy || upstream != nil {
		return nil
	}
	due := src.FinishedAt.Add(r.Soak)
	if r.Schedule != nil {
		// The first scheduled time after it succeeded.
		if due = r.Schedule.Next(src.FinishedAt); due.IsZero() {
			return nil
		}
	}
	rec, _, err := e.store.StartPromotion(ctx, PromotionRecord{Project: p.Name, From: r.From, To: r.To, Source: src.ID, Version: src.Version, State: PromotionSoaking, Due: due})
	if err != nil || rec.State != PromotionSoaking {
		return err
	}
	if r.Schedule == nil {
		if ok, err := e.soak(ctx, p, r, &rec, now); !ok || err != nil {
			return err
		}
	}
	if now.Before(rec.Due) {
		return nil
	}
	return e.promoteNow(ctx, c, p, r, rec, *src)
}

// soak checks the health of what soaks in From when a check is due, and
// says whether it is still healthy. A failed check cancels the promotion.
func (e *Engine) soak(ctx context.Context, p Project, r Promotion, rec *PromotionRecord, now time.Time) (bool, error) {
	every := max(r.Soak/soakChecks, time.Second)
	if !rec.Checked.IsZero() && now.Sub(rec.Checked) < every && now.Before(rec.Due) {
		return true, nil
	}
	if !rec.Checked.IsZero() && !rec.Checked.Before(rec.Due) {
		return true, nil // the check at the end passed
	}
	if err := e.checkEnv(ctx, p, r.From); err != nil {
		e.cancelPromotion(ctx, *rec, fmt.Sprintf("the health check of %s failed: %v", r.From, err))
		return false, nil
	}
	rec.Checked = now
	return true, e.store.UpdatePromotion(ctx, *rec)
}

// checkEnv runs the health check of every unit of an environment.
func (e *Engine) checkEnv(ctx context.Context, p Project, envName string) error {
	env, _ := p.Env(envName)
	t, err := e.target(p, env)
	if err != nil {
		return err
	}
	units, err := t.Units(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, u := range units {
		if err := t.Check(ctx, u, discardLog{}); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
	}
	return nil
}

// promoteNow requests the deploy of a due promotion into To, unless a
// freeze holds To (then it waits for the freeze to end).
func (e *Engine) promoteNow(ctx context.Context, c *configuration, p Project, r Promotion, rec PromotionRecord, src Deploy) error {
	if fr := FrozenAt(c.freezes, p.Name, r.To, e.clock.Now(), false); fr != nil {
		if why := "waiting: " + fr.Error(); rec.Reason != why {
			rec.Reason = why
			return e.store.UpdatePromotion(ctx, rec)
		}
		return nil
	}
	note := fmt.Sprintf("promotion of %s from %s", src.Version, r.From)
	if r.Schedule == nil {
		note += ", healthy for " + shortDuration(r.Soak)
	} else {
		note += " on its schedule"
	}
	ctx = WithDelivery(ctx, fmt.Sprintf("promotion %d", rec.ID))
	to, _ := p.Env(r.To)
	promoter := Actor{Name: Promoter}
	err := e.mayPromoteInto(ctx, c, promoter, p.Name, r.From, r.To, false)
	var d Deploy
	if err == nil {
		d, err = e.promoteDeploy(ctx, promoter, p, r.From, to, src, note, false)
	}
	var locked *LockedError
	switch {
	case errors.As(err, &locked):
		if why := "waiting: " + err.Error(); rec.Reason != why {
			rec.Reason = why
			return e.store.UpdatePromotion(ctx, rec)
		}
		return nil
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalid):
		e.cancelPromotion(ctx, rec, err.Error())
		return nil
	case err != nil:
		return err // tried again at the next sweep
	}
	rec.State, rec.Reason, rec.DeployID = PromotionPromoted, note, d.ID
	return e.store.UpdatePromotion(ctx, rec)
}

// promotionNote is what a promotion's deploy says it is, kept as its
// reason after it is approved; "" for any other deploy.
func promotionNote(d Deploy) string {
	if d.Requester != Promoter {
		return ""
	}
	note, _, _ := strings.Cut(d.Reason, "; ")
	return note
}

// cancelPromotion records why a promotion will not happen.
func (e *Engine) cancelPromotion(ctx context.Context, rec PromotionRecord, why string) {
	rec.State, rec.Reason = PromotionCancelled, why
	if err := e.store.UpdatePromotion(ctx, rec); err != nil {
		e.log.Error("cancel promotion", "project", rec.Project, "from", rec.From, "to", rec.To, "err", err)
		return
	}
	e.audit(ctx, Actor{Name: Promoter}, "promotion cancelled", Deploy{Project: rec.Project, Env: rec.To, ID: rec.Source},
		fmt.Sprintf("%s from %s: %s", rec.Version, rec.From, why))
	e.announce(ctx, Announcement{Key: fmt.Sprintf("promotion %d cancelled", rec.ID), Project: rec.Project, Env: rec.To,
		Text: fmt.Sprintf("The promotion of %s from %s to %s is cancelled: %s.", rec.Version, rec.From, rec.To, why)})
}

// inFlightIn is a deploy in an environment that has not ended: running,
// queued or awaiting approval; nil when there is none.
func (e *Engine) inFlightIn(ctx context.Context, project, env string) (*Deploy, error) {
	ds, err := e.store.Deploys(ctx, DeployFilter{Project: project, Env: env, Limit: 1,
		States: []State{StateRequested, StateAwaitingApproval, StateQueued, StateRunning, StatePaused, StateInterrupted, StateFailed, StateRollingBack}})
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return &ds[0], nil
}

// discardLog is the step log of a soak's health checks, which belong to
// no deploy.
type discardLog struct{}

func (discardLog) Write(p []byte) (int, error) { return len(p), nil }
func (discardLog) Step(string)                 {}

var _ io.Writer = discardLog{}

// shortDuration writes a soak as people do: 30m, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	for _, z := range []string{"m0s", "h0m"} {
		if len(s) > len(z) && s[len(s)-len(z):] == z {
			s = s[:len(s)-2]
		}
	}
	return s
}
