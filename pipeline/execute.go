package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// work drives a running deploy batch by batch. It starts from the batch
// journaled in the store and skips units already done, so it serves both a
// fresh start and a resume after a restart.
func (e *Engine) work(ctx context.Context, id int64) {
	d, err := e.store.Deploy(ctx, id)
	if err != nil || d.State != StateRunning {
		return
	}
	p, env, err := e.started(d).lookup(d.Project, d.Env)
	if err != nil {
		e.fail(ctx, d, err.Error(), false)
		return
	}
	t, err := e.target(p, env)
	if err != nil {
		e.fail(ctx, d, "target: "+err.Error(), false)
		return
	}
	units, err := t.Units(ctx)
	if err != nil || len(units) == 0 {
		if err == nil {
			err = errors.New("the target has no units")
		}
		e.fail(ctx, d, "target: "+err.Error(), false)
		return
	}
	rel := Release{ID: d.Release, DeployID: d.ID, Project: d.Project, Env: d.Env, Repo: p.Repo, Ref: d.Ref, Commit: d.Commit, Version: d.Version, Requester: d.Requester}
	strategy := env.Strategy
	if d.Strategy != nil {
		strategy = *d.Strategy
	}
	if d.Kind == KindRollback {
		strategy.Batches = nil // a rollback returns every unit at once
	} else {
		log := e.stepLog(ctx, d.ID, "")
		log.Step("build")
		err := t.Build(ctx, rel, log)
		log.Close()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			e.fail(ctx, d, "build failed: "+err.Error(), false)
			return
		}
	}
	plan := strategy.Plan(units)
	if err := e.journalPlan(ctx, d.ID, plan); err != nil {
		e.abort(ctx, d, "journal the plan", err)
		return
	}
	for b := d.Batch; b < len(plan); b++ {
		if !e.stillRunning(ctx, id) {
			return
		}
		if err := e.store.SetProgress(ctx, id, b, len(plan), d.BakeUntil); err != nil {
			e.abort(ctx, d, "journal progress", err)
			return
		}
		if bt, ok := t.(BatchTarget); ok {
			e.runTogether(ctx, d, bt, rel, plan, b)
		} else {
			e.runBatch(ctx, d, t, rel, plan[b], b, strategy.Parallel)
		}
		if ctx.Err() != nil {
			return
		}
		if e.braked(ctx, d, strategy) {
			return
		}
		if b == len(plan)-1 {
			break
		}
		if !e.bake(ctx, &d, t, b, len(plan), strategy) {
			return
		}
		if err := e.store.SetProgress(ctx, id, b+1, len(plan), d.BakeUntil); err != nil {
			e.abort(ctx, d, "journal progress", err)
			return
		}
		if strategy.Continue == ContinueManual {
			reason := fmt.Sprintf("batch %d of %d is done; continue when ready", b+1, len(plan))
			if _, err := e.transition(ctx, e.reload(ctx, d), EventGate, "ferry", reason); err != nil {
				e.log.Info("gate", "deploy_id", id, "err", err)
			}
			return
		}
	}
	if _, err := e.transition(ctx, e.reload(ctx, d), EventSucceed, "ferry", e.summary(ctx, id)); err != nil {
		e.log.Info("succeed", "deploy_id", id, "err", err)
	}
}

// journalPlan records every unit as pending in its batch, so the card shows
// the whole plan from the start. Units already journaled keep their state.
func (e *Engine) journalPlan(ctx context.Context, id int64, plan [][]string) error {
	have, err := e.store.Units(ctx, id)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, u := range have {
		known[u.Name] = true
	}
	for b, batch := range plan {
		for _, name := range batch {
			if !known[name] {
				if err := e.store.PutUnit(ctx, Unit{DeployID: id, Name: name, Batch: b, State: UnitPending}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// journaled is the unit journal of deploy id by unit name.
func (e *Engine) journaled(ctx context.Context, id int64) (map[string]Unit, error) {
	units, err := e.store.Units(ctx, id)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]Unit, len(units))
	for _, u := range units {
		byName[u.Name] = u
	}
	return byName, nil
}

// runBatch installs the release on the batch's units that are not done yet,
// at most parallel at a time (0: all at once).
func (e *Engine) runBatch(ctx context.Context, d Deploy, t Target, rel Release, units []string, batch, parallel int) {
	byName, err := e.journaled(ctx, d.ID)
	if err != nil {
		return // braked reads the units next and aborts
	}
	if parallel <= 0 {
		parallel = len(units)
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, name := range units {
		u := byName[name]
		if u.State == UnitDone {
			continue
		}
		if !e.stillRunning(ctx, d.ID) {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			e.runUnit(ctx, d, t, rel, name, batch, u.Previous)
		}()
	}
	wg.Wait()
}

func (e *Engine) runUnit(ctx context.Context, d Deploy, t Target, rel Release, name string, batch int, journaled string) {
	u := Unit{DeployID: d.ID, Name: name, Batch: batch, State: UnitRunning, Step: "install", Started: e.clock.Now(), Previous: journaled}
	e.putUnit(ctx, d, u)
	log := e.stepLog(ctx, d.ID, name)
	log.onStep = func(step string) {
		u.Step = step
		e.putUnit(ctx, d, u)
	}
	defer log.Close()
	var err error
	if d.Kind == KindRollback {
		log.Step("activate")
		err = t.Activate(ctx, name, d.Release, log)
		if u.Previous == "" {
			u.Previous = d.PreviousRelease
		}
	} else {
		var prev string
		prev, err = t.Install(ctx, name, rel, log)
		switch {
		case prev == rel.ID:
			// A repeated install after a restart sees its own release;
			// what ran before is in the journal or the deploy.
			if u.Previous == "" {
				u.Previous = d.PreviousRelease
			}
		case err == nil || prev != "":
			u.Previous = prev
		}
	}
	if err == nil {
		e.unitRuns(ctx, d, name, d.Release, d.Version)
		log.Step("health")
		err = t.Check(ctx, name, log)
	}
	if ctx.Err() != nil {
		return // stopped: the journal says running, and a resume repeats it
	}
	u.Finished = e.clock.Now()
	u.State, u.Error = UnitDone, ""
	if err != nil {
		u.State, u.Error = UnitFailed, err.Error()
	}
	e.putUnit(ctx, d, u)
}

// unitRuns records that a unit of d's environment now runs release.
func (e *Engine) unitRuns(ctx context.Context, d Deploy, unit, release, version string) {
	r := UnitRelease{Project: d.Project, Env: d.Env, Unit: unit, Release: release, Version: version, DeployID: d.ID, Updated: e.clock.Now()}
	if err := e.store.PutUnitRelease(ctx, r); err != nil && !fencedOut(ctx, err) {
		e.log.Error("put unit release", "deploy_id", d.ID, "unit", unit, "err", err)
	}
}

// releaseVersion names the version of a release d knows of ("" for none).
func (e *Engine) releaseVersion(ctx context.Context, d Deploy, release string) string {
	switch release {
	case "":
		return ""
	case d.PreviousRelease:
		return d.PreviousVersion
	case d.Release:
		return d.Version
	}
	if rd, err := e.releaseDeploy(ctx, release); err == nil {
		return rd.Version
	}
	return "release " + release
}

func (e *Engine) putUnit(ctx context.Context, d Deploy, u Unit) {
	if err := e.store.PutUnit(ctx, u); err != nil {
		if fencedOut(ctx, err) || ctx.Err() != nil {
			return // stopped: the journal says what a resume repeats
		}
		e.log.Error("put unit", "deploy_id", d.ID, "unit", u.Name, "err", err)
		return
	}
	e.changed(ctx, e.reload(ctx, d))
}

// braked checks the failure budget after a batch: over budget, the deploy
// fails and rolls back (auto_rollback) or pauses for a person to decide.
func (e *Engine) braked(ctx context.Context, d Deploy, s Strategy) bool {
	units, err := e.store.Units(ctx, d.ID)
	if err != nil {
		e.abort(ctx, d, "read the units", err)
		return true
	}
	var failed []string
	for _, u := range units {
		if u.State == UnitFailed {
			failed = append(failed, u.Name+": "+u.Error)
		}
	}
	if len(failed) <= s.MaxFailedUnits {
		return false
	}
	reason := fmt.Sprintf("%d unit(s) failed (max_failed_units %d): %s", len(failed), s.MaxFailedUnits, strings.Join(failed, "; "))
	if s.AutoRollback {
		e.fail(ctx, e.reload(ctx, d), reason, true)
		return true
	}
	if _, err := e.transition(ctx, e.reload(ctx, d), EventBrake, "ferry", reason+"; continue or roll back"); err != nil {
		e.log.Info("brake", "deploy_id", d.ID, "err", err)
	}
	return true
}

// bake waits the strategy's bake time after batch b, then checks the health
// of every unit done so far. The end of the bake is journaled, so a restart
// waits only what is left. It reports whether the deploy goes on.
func (e *Engine) bake(ctx context.Context, d *Deploy, t Target, b, batches int, s Strategy) bool {
	if s.Bake <= 0 {
		return true
	}
	if d.BakeUntil.IsZero() {
		d.BakeUntil = e.clock.Now().Add(s.Bake)
		if err := e.store.SetProgress(ctx, d.ID, b, batches, d.BakeUntil); err != nil {
			e.abort(ctx, *d, "journal the bake", err)
			return false
		}
		e.changed(ctx, e.reload(ctx, *d))
	}
	if wait := d.BakeUntil.Sub(e.clock.Now()); wait > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-e.clock.After(wait):
		}
	}
	d.BakeUntil = time.Time{}
	if !e.stillRunning(ctx, d.ID) {
		return false
	}
	units, err := e.store.Units(ctx, d.ID)
	if err != nil {
		return false
	}
	for _, u := range units {
		if u.State != UnitDone {
			continue
		}
		log := e.stepLog(ctx, d.ID, u.Name)
		log.Step("bake health")
		if err := t.Check(ctx, u.Name, log); err != nil && ctx.Err() == nil {
			u.State, u.Error = UnitFailed, "health check after bake: "+err.Error()
			e.putUnit(ctx, *d, u)
		}
		log.Close()
	}
	return ctx.Err() == nil && !e.braked(ctx, *d, s)
}

// abort fails a deploy whose journal cannot be written, so it is not left
// running with nobody driving it. When ferry is stopping (ctx is done) it
// does nothing: the next start resumes the deploy.
func (e *Engine) abort(ctx context.Context, d Deploy, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	e.log.Error(what, "deploy_id", d.ID, "project", d.Project, "env", d.Env, "err", err)
	e.fail(ctx, e.reload(ctx, d), "ferry could not "+what+"; see ferry's log", false)
}

// fail stores the failure of a running deploy and, when asked, rolls back
// the units it updated.
func (e *Engine) fail(ctx context.Context, d Deploy, reason string, rollback bool) {
	nd, err := e.transition(ctx, d, EventFail, "ferry", reason)
	if err != nil {
		e.log.Info("fail", "deploy_id", d.ID, "err", err)
		return
	}
	if rollback {
		if _, err := e.transition(ctx, nd, EventRollback, "ferry", "auto_rollback: "+reason); err != nil {
			e.log.Error("auto rollback", "deploy_id", d.ID, "err", err)
		}
	}
}

// rollback returns every unit the deploy touched to the release it ran
// before, in parallel, then ends the deploy rolled back (or failed).
func (e *Engine) rollback(ctx context.Context, id int64) {
	d, err := e.store.Deploy(ctx, id)
	if err != nil || d.State != StateRollingBack {
		return
	}
	p, env, err := e.started(d).lookup(d.Project, d.Env)
	var t Target
	if err == nil {
		t, err = e.target(p, env)
	}
	if err != nil {
		e.endRollback(ctx, d, []string{"target: " + err.Error()})
		return
	}
	units, err := e.store.Units(ctx, id)
	if err != nil {
		return
	}
	if bt, ok := t.(BatchTarget); ok {
		e.rollbackTogether(ctx, d, bt, units)
		return
	}
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for _, u := range units {
		if u.State != UnitDone && u.State != UnitFailed && u.State != UnitRunning {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := e.stepLog(ctx, id, u.Name)
			defer log.Close()
			u.Step = "rollback"
			log.Step("rollback")
			err := t.Activate(ctx, u.Name, u.Previous, log)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				mu.Lock()
				failed = append(failed, u.Name+": "+err.Error())
				mu.Unlock()
				u.Error = "rollback: " + err.Error()
			} else {
				u.State = UnitRolledBack
				e.unitRuns(ctx, d, u.Name, u.Previous, e.releaseVersion(ctx, d, u.Previous))
			}
			u.Finished = e.clock.Now()
			e.putUnit(ctx, d, u)
		}()
	}
	wg.Wait()
	if ctx.Err() == nil {
		e.endRollback(ctx, d, failed)
	}
}

func (e *Engine) endRollback(ctx context.Context, d Deploy, failed []string) {
	ev, reason := EventRolledBack, "every updated unit is back on its previous release"
	if len(failed) > 0 {
		ev, reason = EventFail, "rollback failed: "+strings.Join(failed, "; ")
	}
	if _, err := e.transition(ctx, e.reload(ctx, d), ev, "ferry", reason); err != nil {
		e.log.Info("end rollback", "deploy_id", d.ID, "err", err)
	}
}

func (e *Engine) summary(ctx context.Context, id int64) string {
	units, err := e.store.Units(ctx, id)
	if err != nil {
		return ""
	}
	var done, failed int
	for _, u := range units {
		switch u.State {
		case UnitDone:
			done++
		case UnitFailed:
			failed++
		}
	}
	s := strconv.Itoa(done) + " of " + strconv.Itoa(len(units)) + " units updated"
	if failed > 0 {
		s += fmt.Sprintf(", %d failed within max_failed_units", failed)
	}
	return s
}

func (e *Engine) stillRunning(ctx context.Context, id int64) bool {
	d, err := e.store.Deploy(ctx, id)
	return err == nil && d.State == StateRunning && ctx.Err() == nil
}

// reload returns the stored deploy, or d if it cannot be read.
func (e *Engine) reload(ctx context.Context, d Deploy) Deploy {
	if nd, err := e.store.Deploy(ctx, d.ID); err == nil {
		return nd
	}
	return d
}

// stepLog stores a unit's output line by line under the current step.
type stepLog struct {
	ctx    context.Context
	store  UnitStore
	e      *Engine
	id     int64
	unit   string
	step   string
	buf    bytes.Buffer
	onStep func(string)
	mu     sync.Mutex
}

func (e *Engine) stepLog(ctx context.Context, id int64, unit string) *stepLog {
	return &stepLog{ctx: ctx, store: e.store, e: e, id: id, unit: unit}
}

// Step starts a new step; output that follows is stored under it.
func (l *stepLog) Step(name string) {
	l.mu.Lock()
	l.flush(true)
	l.step = name
	l.mu.Unlock()
	if l.onStep != nil {
		l.onStep(name)
	}
}

func (l *stepLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.flush(false)
	return len(p), nil
}

// Close stores what is left of a last unfinished line.
func (l *stepLog) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flush(true)
}

const maxLogLine = 4096

func (l *stepLog) flush(all bool) {
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil { // no newline: keep the partial line unless asked
			if all && line != "" {
				l.append(line)
			} else {
				l.buf.Reset()
				l.buf.WriteString(line)
			}
			return
		}
		l.append(strings.TrimRight(line, "\r\n"))
	}
}

func (l *stepLog) append(text string) {
	if len(text) > maxLogLine {
		text = text[:maxLogLine] + "…"
	}
	ctx := context.WithoutCancel(l.ctx)
	if err := l.store.AppendLog(ctx, LogEntry{DeployID: l.id, Unit: l.unit, Step: l.step, Text: text, At: l.e.clock.Now()}); err != nil && !fencedOut(l.ctx, err) {
		l.e.log.Error("append log", "deploy_id", l.id, "err", err)
	}
}
