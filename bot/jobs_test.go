package bot

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestJobsRunUntilStopAndDrain(t *testing.T) {
	j := &Jobs{Max: 2, Timeout: time.Minute}
	if j.Accepting() || j.Go(func(context.Context) {}) {
		t.Fatal("jobs ran before Start")
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := j.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Start(ctx); err == nil {
		t.Error("a second Start was accepted")
	}
	release := make(chan struct{})
	var running, most, done atomic.Int32
	for range 5 {
		j.Go(func(ctx context.Context) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			if ctx.Err() != nil {
				t.Error("a job's context ended with Run's")
			}
			running.Add(-1)
			done.Add(1)
		})
	}
	cancel() // Run's context ends; acknowledged jobs still finish
	close(release)
	j.Stop()
	if done.Load() != 5 || most.Load() > 2 {
		t.Errorf("done %d, at most %d at once; want 5 and ≤ 2", done.Load(), most.Load())
	}
	if j.Accepting() || j.Go(func(context.Context) { t.Error("ran after Stop") }) {
		t.Error("jobs taken after Stop")
	}
}
