package dashboards

import (
	"context"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Fact is what the dashboards know of one deploy: its row, less what they
// do not read, and the time it first failed.
type Fact struct {
	ID          int64
	Project     string
	Env         string
	Kind        pipeline.Kind
	State       pipeline.State
	Requester   string
	Batch       int // the batch it was on when it stopped (0: the first)
	Batches     int // batches in its plan; 0 if it never got that far
	CreatedAt   time.Time
	StartedAt   time.Time
	FinishedAt  time.Time // the last time it ended (failed, then rolled back: the rollback)
	CommittedAt time.Time // zero: not known
	// FailedAt is the first time it failed or began to roll back; zero if
	// it never did.
	FailedAt time.Time
}

// Query selects facts: the deploys of every kind that started in
// [From, To), of one project when Project is set.
type Query struct {
	From, To time.Time
	Project  string
}

// Store reads facts; *storage.Store implements it.
type Store interface {
	Facts(ctx context.Context, q Query) ([]Fact, error)
}

// outcome is how a started deploy ended, or that it has not yet.
type outcome int

const (
	outInProgress outcome = iota // running, paused, interrupted
	outSucceeded
	outFailed
	outRolledBack // rolled back, or rolling back now
	outCancelled
)

func (f Fact) outcome() outcome {
	switch f.State {
	case pipeline.StateSucceeded:
		return outSucceeded
	case pipeline.StateFailed:
		return outFailed
	case pipeline.StateRolledBack, pipeline.StateRollingBack:
		return outRolledBack
	case pipeline.StateCancelled:
		return outCancelled
	}
	return outInProgress
}

// finished reports whether a deploy has a verdict: it succeeded, failed or
// was rolled back.
func (o outcome) finished() bool { return o == outSucceeded || o == outFailed || o == outRolledBack }

// failedAt is when a failed or rolled back deploy failed: its first
// failure, or the end it reached if the store did not say.
func (f Fact) failedAt() time.Time {
	if !f.FailedAt.IsZero() {
		return f.FailedAt
	}
	return f.FinishedAt
}

// canaryCatch reports whether the deploy was stopped by its first batch of
// several: the canary caught it before the rest of the units got it.
func (f Fact) canaryCatch() bool {
	o := f.outcome()
	return f.Kind == pipeline.KindDeploy && (o == outFailed || o == outRolledBack) && f.Batches > 1 && f.Batch == 0
}
