package pipeline

import (
	"context"
	"strings"
	"sync"
	"time"
)

// runTogether moves batch b of plan with one call of a BatchTarget. The
// batch's units that are not done are journaled running, the target moves
// them, and each unit's outcome is journaled as runUnit journals it, so
// brake, bake, resume and rollback treat them like units moved one by one.
func (e *Engine) runTogether(ctx context.Context, d Deploy, t BatchTarget, rel Release, plan [][]string, b int) {
	byName, err := e.journaled(ctx, d.ID)
	if err != nil {
		return // braked reads the units next and aborts
	}
	var todo []Unit
	for _, name := range plan[b] {
		if u := byName[name]; u.State != UnitDone {
			todo = append(todo, Unit{DeployID: d.ID, Name: name, Batch: b, Previous: u.Previous})
		}
	}
	if len(todo) == 0 || !e.stillRunning(ctx, d.ID) {
		return
	}
	upto, total := 0, 0
	for i, batch := range plan {
		total += len(batch)
		if i <= b {
			upto += len(batch)
		}
	}
	step := "install"
	if d.Kind == KindRollback {
		step = "activate"
	}
	run := e.together(ctx, d, todo, step, upto, total)
	var prev string
	var failed map[string]error
	if d.Kind == KindRollback {
		err = t.ActivateBatch(ctx, d.Release, run.batch)
	} else {
		prev, failed, err = t.InstallBatch(ctx, rel, run.batch)
	}
	run.close()
	if ctx.Err() != nil {
		return // stopped: the journal says running, and a resume repeats the batch
	}
	for _, u := range todo {
		run.finish(u.Name, func(u *Unit) {
			switch {
			case d.Kind == KindRollback || prev == rel.ID:
				if u.Previous == "" {
					u.Previous = d.PreviousRelease
				}
			case err == nil || prev != "":
				u.Previous = prev
			}
			uerr := err
			if uerr == nil {
				uerr = failed[u.Name]
			}
			u.State, u.Error = UnitDone, ""
			if uerr != nil {
				u.State, u.Error = UnitFailed, uerr.Error()
			} else {
				e.unitRuns(ctx, d, u.Name, d.Release, d.Version)
			}
		})
	}
}

// rollbackTogether returns the units a deploy touched to the releases they
// ran before, with one ActivateBatch per previous release, then ends the
// rollback.
func (e *Engine) rollbackTogether(ctx context.Context, d Deploy, t BatchTarget, units []Unit) {
	groups := map[string][]Unit{}
	var order []string
	for _, u := range units {
		if u.State != UnitDone && u.State != UnitFailed && u.State != UnitRunning {
			continue
		}
		if _, ok := groups[u.Previous]; !ok {
			order = append(order, u.Previous)
		}
		groups[u.Previous] = append(groups[u.Previous], u)
	}
	var failed []string
	for _, prev := range order {
		us := groups[prev]
		run := e.together(ctx, d, us, "rollback", len(units), len(units))
		err := t.ActivateBatch(ctx, prev, run.batch)
		run.close()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failed = append(failed, strings.Join(run.batch.Units, ", ")+": "+err.Error())
		}
		for _, before := range us {
			run.finish(before.Name, func(u *Unit) {
				if err != nil {
					u.State, u.Error = before.State, "rollback: "+err.Error()
					return
				}
				u.State = UnitRolledBack
				e.unitRuns(ctx, d, u.Name, prev, e.releaseVersion(ctx, d, prev))
			})
		}
	}
	e.endRollback(ctx, d, failed)
}

// batchRun is the journal of the units one BatchTarget call moves: each
// unit's log, and its journal row, updated as the target reports steps.
type batchRun struct {
	e     *Engine
	ctx   context.Context
	d     Deploy
	batch Batch
	own   *stepLog

	mu    sync.Mutex
	units map[string]*Unit
	logs  map[string]*stepLog
}

// together journals units as running step and returns the batch that
// moves them.
func (e *Engine) together(ctx context.Context, d Deploy, units []Unit, step string, upto, total int) *batchRun {
	r := &batchRun{e: e, ctx: ctx, d: d, own: e.stepLog(ctx, d.ID, ""), units: map[string]*Unit{}, logs: map[string]*stepLog{}}
	r.batch = Batch{Upto: upto, Total: total, Log: r.log}
	now := e.clock.Now()
	for _, u := range units {
		u.State, u.Step, u.Started, u.Finished = UnitRunning, step, now, time.Time{}
		r.units[u.Name] = &u
		r.batch.Units = append(r.batch.Units, u.Name)
		l := e.stepLog(ctx, d.ID, u.Name)
		l.step = step
		name := u.Name
		l.onStep = func(s string) {
			r.mu.Lock()
			x := r.units[name]
			x.Step = s
			row := *x
			r.mu.Unlock()
			e.putUnit(ctx, d, row)
		}
		r.logs[u.Name] = l
		e.putUnit(ctx, d, u)
	}
	return r
}

// log is Batch.Log: the log of one unit, or the batch's own.
func (r *batchRun) log(unit string) StepLog {
	if l, ok := r.logs[unit]; ok {
		return l
	}
	return r.own
}

func (r *batchRun) close() {
	r.own.Close()
	for _, l := range r.logs {
		l.Close()
	}
}

// finish journals the end of a unit's part in the batch as f decides it.
func (r *batchRun) finish(name string, f func(u *Unit)) {
	r.mu.Lock()
	u := r.units[name]
	u.Finished = r.e.clock.Now()
	f(u)
	row := *u
	r.mu.Unlock()
	r.e.putUnit(r.ctx, r.d, row)
}
