package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// What one request may make the store keep. Everything a person types is
// capped where the engine takes it, whichever way it came (chat, a pull
// request, the API), and refusals, which anyone may cause, are stored one
// by one only up to deniedPerMinute an actor; beyond that the audit log
// keeps their count.
const (
	MaxRef    = 255 // bytes of a ref or a release: git's practical limit
	MaxReason = 500 // bytes of a reason, of a rejection or a lock

	deniedPerMinute = 10 // refusals of one actor stored one by one in a minute
	deniedWindow    = time.Minute
)

// checkLen refuses a text longer than max bytes, naming what it is.
func checkLen(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: the %s is %d bytes; ferry takes a %s of at most %d bytes", ErrInvalid, what, len(s), what, max)
	}
	return nil
}

// denials counts the refusals of each actor in the minute that started
// with their first one. The zero value is ready to use.
type denials struct {
	mu sync.Mutex
	by map[string]*denialWindow // actor name ("" for people ferry does not know) →
}

type denialWindow struct {
	start   time.Time
	stored  int // refusals stored one by one
	dropped int // and those only counted
}

// record says whether a refusal of the actor named who, at now, is to be
// stored one by one; if not, it is counted. It returns the window of
// theirs that ended by now, if one did with refusals counted, for the
// audit log.
func (ds *denials) record(who string, now time.Time) (store bool, ended *denialWindow) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.by == nil {
		ds.by = map[string]*denialWindow{}
	}
	w := ds.by[who]
	if w != nil && !now.Before(w.start.Add(deniedWindow)) {
		if w.dropped > 0 {
			ended = w
		}
		w = nil
	}
	if w == nil {
		w = &denialWindow{start: now}
		ds.by[who] = w
	}
	if w.stored < deniedPerMinute {
		w.stored++
		return true, ended
	}
	w.dropped++
	return false, ended
}

// ended removes the windows that ended by now and returns those with
// refusals counted, by actor.
func (ds *denials) ended(now time.Time) map[string]*denialWindow {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	out := map[string]*denialWindow{}
	for who, w := range ds.by {
		if !now.Before(w.start.Add(deniedWindow)) {
			if w.dropped > 0 {
				out[who] = w
			}
			delete(ds.by, who)
		}
	}
	return out
}

// mayStoreRefusal says whether a refusal of a is to be stored one by one,
// writing the count of a's earlier minute to the audit log if it ended.
func (e *Engine) mayStoreRefusal(ctx context.Context, a Actor) bool {
	store, ended := e.denials.record(a.Name, e.clock.Now())
	if ended != nil {
		e.auditDropped(ctx, a.Name, ended)
	}
	return store
}

// auditDropped writes one entry for the refusals of who that were counted
// and not stored.
func (e *Engine) auditDropped(ctx context.Context, who string, w *denialWindow) {
	name := who
	if name == "" {
		name = "people ferry does not know"
	}
	detail := fmt.Sprintf("%d more refusals of %s in the minute from %s, beyond the %d stored one by one", w.dropped, name, w.start.UTC().Format(time.RFC3339), deniedPerMinute)
	e.audit(ctx, Actor{Name: who}, "refusals counted", Deploy{}, detail)
}

// sweepDenials writes the counts of the minutes that ended.
func (e *Engine) sweepDenials(ctx context.Context) {
	for who, w := range e.denials.ended(e.clock.Now()) {
		e.auditDropped(ctx, who, w)
	}
}
