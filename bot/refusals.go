package bot

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Refusals counts the requests an ingress refuses (a bad signature, a
// replay), by reason, for a metric, and logs them at a bounded rate: a
// flood of refused requests must not become a flood of log lines. The zero
// value logs nothing; set Platform and Log before use.
type Refusals struct {
	Platform string
	Log      *slog.Logger
	// Every is the least time between two log lines; 0 means 10 s.
	Every time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu         sync.Mutex
	counts     map[string]uint64
	last       time.Time
	suppressed int
}

// Refuse counts a refusal and logs it unless a line was logged less than
// Every ago; the next line says how many were not logged.
func (r *Refusals) Refuse(ctx context.Context, reason string, keys ...any) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	every := r.Every
	if every <= 0 {
		every = 10 * time.Second
	}
	r.mu.Lock()
	if r.counts == nil {
		r.counts = map[string]uint64{}
	}
	r.counts[reason]++
	t := now()
	if !r.last.IsZero() && t.Sub(r.last) < every {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	r.last, keys = t, append(keys, "platform", r.Platform, "reason", reason, "not_logged_since_last", r.suppressed)
	r.suppressed = 0
	r.mu.Unlock()
	if r.Log != nil {
		r.Log.WarnContext(ctx, r.Platform+": refused a request", keys...)
	}
}

// Refusal is how many requests were refused for one reason.
type Refusal struct {
	Reason string
	Count  uint64
}

// Counts returns the refusals so far, by reason.
func (r *Refusals) Counts() []Refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Refusal, 0, len(r.counts))
	for reason, n := range r.counts {
		out = append(out, Refusal{reason, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reason < out[j].Reason })
	return out
}
