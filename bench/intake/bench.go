package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"
)

// The count bounds of the closed loops, as rates: a closed loop sends at
// most this many deliveries per second of its warm-up and duration, and
// when it reaches that bound it stops early and the table says so.
// Accepted deliveries are signed before their load, so their bound is also
// how many signatures are computed ahead (about 20 µs each).
const (
	maxAcceptedRate = 10_000
	maxRejectedRate = 50_000
)

// options are a run's flags that shape the loads.
type options struct {
	duration time.Duration // each load's measured time
	warmup   time.Duration // unmeasured sending before each closed loop; 0: none
	workers  int           // senders of the closed loops
	rate     float64       // deliveries per second of the open loops
	postgres bool          // ferry stores in PostgreSQL, not SQLite
}

// usage is what a run has cost so far, or, as a difference, what a load
// cost.
type usage struct {
	logLines, logBytes int64 // ferry's output
	// ferryCPU and selfCPU are the CPU time (user and system) of ferry and
	// of this program; cpu is false where they cannot be read.
	ferryCPU, selfCPU time.Duration
	cpu               bool
}

func (u usage) minus(v usage) usage {
	return usage{logLines: u.logLines - v.logLines, logBytes: u.logBytes - v.logBytes,
		ferryCPU: u.ferryCPU - v.ferryCPU, selfCPU: u.selfCPU - v.selfCPU, cpu: u.cpu && v.cpu}
}

// meter returns the usage so far; nil: a run's usage is not measured.
type meter func() usage

// row is one load's line of the table.
type row struct {
	name   string
	rate   float64 // deliveries answered as expected per second
	sample sample
	used   usage // during the measured part
	// measured is false when there was no meter.
	measured bool
}

// load is one of the four loads: an unmeasured warm-up (nil: none), then
// the measured part.
type load struct {
	name string
	warm func()
	run  func() sample
}

// plan hands out consecutive ranges of delivery numbers, so that no two
// deliveries of a run share a body or an ID.
type plan struct{ next int }

func (p *plan) take(n int, sig func(int) string) batch {
	b := batch{from: p.next, n: n, sig: sig}
	p.next += n
	return b
}

// countFor is how many deliveries a load of d at rate may send, at least 1.
func countFor(rate float64, d time.Duration) int {
	return max(1, int(math.Ceil(rate*d.Seconds())))
}

// bench runs the four loads against s in order and returns their rows:
// accepted closed and open loop, rejected closed and open loop. Progress
// goes to progress.
func bench(ctx context.Context, s *sender, o options, m meter, progress io.Writer) ([]row, error) {
	var p plan
	closedN := func(rate float64, d time.Duration) int { return max(o.workers, countFor(rate, d)) }
	// Accepted deliveries come first, so that their signatures are sigs[seq].
	var sigs []string
	signed := func(seq int) string { return sigs[seq] }
	aWarm := p.take(closedN(maxAcceptedRate, o.warmup), signed)
	aClosed := p.take(closedN(maxAcceptedRate, o.duration), signed)
	aOpen := p.take(countFor(o.rate, o.duration), signed)
	rWarm := p.take(closedN(maxRejectedRate, o.warmup), s.d.forge)
	rClosed := p.take(closedN(maxRejectedRate, o.duration), s.d.forge)
	rOpen := p.take(countFor(o.rate, o.duration), s.d.forge)
	if p.next > s.d.hook.count {
		return nil, fmt.Errorf("loads: %s deliveries, more than the %s a %s run may send; shorten --duration", thousands(int64(p.next)), thousands(int64(s.d.hook.count)), s.d.hook.forge)
	}
	t0 := time.Now()
	sigs, err := s.d.signAll(0, aOpen.from+aOpen.n)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "tokens of %s deliveries computed ahead in %s\n", thousands(int64(len(sigs))), time.Since(t0).Round(time.Millisecond))

	rate := fmt.Sprintf("%g/s", o.rate)
	closed := func(name string, warm, b batch, ok func(int) bool) load {
		return load{
			name: name,
			warm: func() {
				fmt.Fprintf(progress, "%s: %s warm-up, %s measured\n", name, o.warmup, o.duration)
				if o.warmup > 0 {
					closedLoop(ctx, s, warm, o.workers, o.warmup, ok)
				}
			},
			run: func() sample { return closedLoop(ctx, s, b, o.workers, o.duration, ok) },
		}
	}
	open := func(name string, b batch, ok func(int) bool) load {
		return load{name: name, run: func() sample {
			fmt.Fprintf(progress, "%s: %d deliveries in %s\n", name, b.n, o.duration)
			return openLoop(ctx, s, b, o.rate, ok)
		}}
	}
	loads := []load{
		closed(fmt.Sprintf("accepted, closed loop (%d)", o.workers), aWarm, aClosed, accepted),
		open("accepted, open loop "+rate, aOpen, accepted),
		closed(fmt.Sprintf("rejected, closed loop (%d)", o.workers), rWarm, rClosed, rejected),
		open("rejected, open loop "+rate, rOpen, rejected),
	}

	rows := make([]row, 0, len(loads))
	for _, l := range loads {
		if l.warm != nil {
			l.warm()
		}
		r := row{name: l.name}
		var before usage
		if m != nil {
			before = m()
		}
		r.sample = l.run()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", l.name, errCanceled)
		}
		if m != nil {
			r.used, r.measured = m().minus(before), true
		}
		if secs := r.sample.elapsed.Seconds(); secs > 0 {
			r.rate = float64(len(r.sample.lat)) / secs
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// failures returns an error when a load had more than 0.1% of its
// deliveries answered otherwise than expected.
func failures(rows []row) error {
	for _, r := range rows {
		failed := r.sample.sent - len(r.sample.lat)
		if r.sample.sent == 0 || failed*1000 > r.sample.sent {
			return fmt.Errorf("%s: %d of %d deliveries were not answered as expected (more than 0.1%%)", r.name, failed, r.sample.sent)
		}
	}
	return nil
}
