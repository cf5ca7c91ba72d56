// Package gen fills a database with made-up but plausible deploys, to
// measure the dashboards at scale: `ferry gen-deploys` and the benchmarks
// use it.
//
// The world is 40 projects with dev, staging and prod environments, and 64
// people in 8 teams. Deploys come mostly on working days and hours, spread
// over the span before End; about 90% succeed, 4% fail, 3% are rolled back
// (most of those by their canary), 2% are cancelled, 1% never start, and
// some production deploys are followed by a rollback deploy. Each deploy
// gets its transitions; units and logs are left out, the dashboards do not
// read them.
package gen

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

// Importer stores deploys as they are; *storage.Store implements it.
type Importer interface {
	ImportDeploys(ctx context.Context, ds []pipeline.Deploy, ts []pipeline.Transition) error
}

// Options say how much to make.
type Options struct {
	Deploys int           // how many deploys, rollbacks included; required
	End     time.Time     // the last deploy starts before it; zero: now
	Span    time.Duration // how far back the first one goes; 0: two years
	Seed    uint64        // the same seed makes the same deploys
}

// World is who and what the generated deploys are about.
func World() dashboards.Directory {
	dir := dashboards.Directory{Envs: []string{"dev", "staging", "prod"}, Teams: map[string][]string{}}
	for i := range 40 {
		dir.Projects = append(dir.Projects, fmt.Sprintf("svc-%02d", i))
	}
	for i := range 64 {
		u := fmt.Sprintf("dev%02d", i)
		dir.Users = append(dir.Users, u)
		t := fmt.Sprintf("team-%d", i%8)
		dir.Teams[t] = append(dir.Teams[t], u)
	}
	return dir
}

const batchSize = 20000

// Generate writes opts.Deploys deploys, numbered from 1, into an empty
// database.
func Generate(ctx context.Context, st Importer, opts Options) error {
	if opts.Deploys <= 0 {
		return fmt.Errorf("gen: want a number of deploys above 0, not %d", opts.Deploys)
	}
	if opts.End.IsZero() {
		opts.End = time.Now()
	}
	if opts.Span <= 0 {
		opts.Span = 2 * 365 * 24 * time.Hour
	}
	g := &generator{rnd: rand.New(rand.NewPCG(opts.Seed, 0x5eed)), world: World(), lastOK: map[string]int64{}}
	start := opts.End.Add(-opts.Span)
	step := opts.Span / time.Duration(opts.Deploys)
	var ds []pipeline.Deploy
	var ts []pipeline.Transition
	for id := int64(1); id <= int64(opts.Deploys); id++ {
		at := g.workTime(start.Add(time.Duration(id-1) * step))
		d, t := g.deploy(id, at)
		ds, ts = append(ds, d), append(ts, t...)
		if len(ds) == batchSize || id == int64(opts.Deploys) {
			if err := st.ImportDeploys(ctx, ds, ts); err != nil {
				return fmt.Errorf("gen: %w", err)
			}
			ds, ts = ds[:0], ts[:0]
		}
	}
	return nil
}

type generator struct {
	rnd    *rand.Rand
	world  dashboards.Directory
	lastOK map[string]int64 // project/env → its last successful deploy
}

// workTime moves a time onto a working day and hour, mostly: a tenth of
// deploys happen in the evening or at the weekend.
func (g *generator) workTime(t time.Time) time.Time {
	if g.rnd.IntN(10) == 0 {
		return t
	}
	for t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
		t = t.Add(-48 * time.Hour)
	}
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return day.Add(9*time.Hour + time.Duration(g.rnd.Int64N(int64(9*time.Hour))))
}

// minutes draws a duration around median minutes, skewed to the long side.
func (g *generator) minutes(median float64) time.Duration {
	return time.Duration(median * math.Exp(g.rnd.NormFloat64()*0.6) * float64(time.Minute))
}

func (g *generator) deploy(id int64, at time.Time) (pipeline.Deploy, []pipeline.Transition) {
	w := g.world
	project := w.Projects[int(math.Min(float64(len(w.Projects)-1), math.Abs(g.rnd.NormFloat64())*12))] // some projects are busier
	env := w.Envs[[]int{0, 0, 0, 1, 1, 1, 1, 2, 2, 2}[g.rnd.IntN(10)]]
	who := w.Users[g.rnd.IntN(len(w.Users))]
	key := project + "/" + env
	d := pipeline.Deploy{
		ID: id, Project: project, Env: env, Kind: pipeline.KindDeploy, Ref: "main",
		Commit: fmt.Sprintf("%040x", g.rnd.Uint64()), Release: fmt.Sprint(id), Requester: who,
		CreatedAt: at.Add(-time.Duration(g.rnd.IntN(300)) * time.Second), CommittedAt: at.Add(-g.minutes(240)),
		Batches: 3,
	}
	d.Version = "main@" + d.Commit[:7]
	if prev, ok := g.lastOK[key]; ok && env == "prod" && g.rnd.IntN(60) == 0 {
		d.Kind, d.Ref, d.Release, d.Batches = pipeline.KindRollback, fmt.Sprintf("release %d", prev), fmt.Sprint(prev), 1
	}
	var ts []pipeline.Transition
	move := func(to pipeline.State, ev pipeline.Event, t time.Time) {
		ts = append(ts, pipeline.Transition{DeployID: id, From: d.State, To: to, Event: ev, Actor: "ferry", At: t})
		d.State, d.UpdatedAt = to, t
		if to.Done() {
			d.FinishedAt = t
		}
	}
	d.State = pipeline.StateRequested
	roll := g.rnd.IntN(100)
	if roll == 0 {
		move(pipeline.StateDenied, pipeline.EventDeny, d.CreatedAt)
		return d, ts
	}
	move(pipeline.StateQueued, pipeline.EventEnqueue, d.CreatedAt)
	d.StartedAt = at
	move(pipeline.StateRunning, pipeline.EventStart, at)
	took := g.minutes(8)
	switch {
	case roll <= 90 || d.Kind == pipeline.KindRollback:
		d.Batch = d.Batches - 1
		move(pipeline.StateSucceeded, pipeline.EventSucceed, at.Add(took))
		g.lastOK[key] = id
	case roll <= 94:
		d.Batch = g.rnd.IntN(d.Batches)
		move(pipeline.StateFailed, pipeline.EventFail, at.Add(took/2))
	case roll <= 97:
		if g.rnd.IntN(5) < 3 {
			d.Batch = 0 // caught by the canary
		} else {
			d.Batch = 1 + g.rnd.IntN(d.Batches-1)
		}
		failed := at.Add(took / 2)
		move(pipeline.StateFailed, pipeline.EventFail, failed)
		move(pipeline.StateRollingBack, pipeline.EventRollback, failed.Add(time.Minute))
		move(pipeline.StateRolledBack, pipeline.EventRolledBack, failed.Add(time.Minute+g.minutes(2)))
	default:
		move(pipeline.StateCancelled, pipeline.EventCancel, at.Add(took/3))
	}
	return d, ts
}
