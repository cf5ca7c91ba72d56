package bot

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Jobs runs the work a chat or forge adapter has acknowledged on goroutines
// its Run owns: at most Max at once, each with Timeout, and Stop waits for
// them. The zero value needs Max and Timeout set before Start.
type Jobs struct {
	Max     int           // jobs run at once
	Timeout time.Duration // of one job; its context outlives Run's by up to this

	mu      sync.Mutex
	base    context.Context // Run's; nil before Start
	stopped bool
	wg      sync.WaitGroup
	sem     chan struct{}
}

// Start lets jobs run under ctx, the context of the adapter's Run.
func (j *Jobs) Start(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.base != nil {
		return errors.New("Run called twice")
	}
	j.base, j.sem = ctx, make(chan struct{}, max(j.Max, 1))
	return nil
}

// Accepting reports whether Go would run a job now.
func (j *Jobs) Accepting() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.base != nil && !j.stopped
}

// Go runs fn on a goroutine, unless Run is not running. fn's context
// outlives Run's by up to Timeout, so that work acknowledged just before
// shutdown is still done.
func (j *Jobs) Go(fn func(ctx context.Context)) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.base == nil || j.stopped {
		return false
	}
	j.wg.Add(1)
	base := j.base
	go func() {
		defer j.wg.Done()
		j.sem <- struct{}{}
		defer func() { <-j.sem }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(base), j.Timeout)
		defer cancel()
		fn(ctx)
	}()
	return true
}

// Stop takes no more jobs and waits for those running.
func (j *Jobs) Stop() {
	j.mu.Lock()
	j.stopped = true
	j.mu.Unlock()
	j.wg.Wait()
}
