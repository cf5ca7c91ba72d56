package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// groupMax bounds the writes one group commit takes.
const groupMax = 256

// errClosed is what a write queued after Close gets.
var errClosed = errors.New("the store is closed")

// A groupOp is one caller's part of a group commit.
type groupOp struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

// grouped runs fn in a write transaction shared with the other callers
// waiting at that moment, and returns once that transaction is committed.
// A caller's write is as durable as with write, but a burst of N writers
// costs one commit instead of N (group commit): the writes of webhooks
// that must be stored before they are acknowledged. fn must be cheap and
// must not call the store's other write methods.
//
// If fn fails, the group is rolled back and each of its writes is run again
// in a transaction of its own, so that one bad write fails only its caller.
func (s *Store) grouped(ctx context.Context, fn func(*sql.Tx) error) error {
	op := &groupOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.group <- op:
	case <-s.closing:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the write is done whether or not the caller waits: a
	// delivery stored but not acknowledged is acknowledged on its retry.
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitGroups commits the queued writes, as many at a time as have
// queued while the previous commit ran, until the store closes.
func (s *Store) commitGroups() {
	defer close(s.grouping)
	for {
		var batch []*groupOp
		select {
		case op := <-s.group:
			batch = append(batch, op)
		case <-s.closing:
			return
		}
	gather:
		for len(batch) < groupMax {
			select {
			case op := <-s.group:
				batch = append(batch, op)
			default:
				break gather
			}
		}
		s.commitGroup(batch)
	}
}

func (s *Store) commitGroup(batch []*groupOp) {
	live := batch[:0]
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.done <- err // gave up waiting before its turn
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.Background() // one caller's end must not end the others' commit
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, op := range live {
			if err := op.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(live) == 1 {
		for _, op := range live {
			op.done <- err
		}
		return
	}
	for _, op := range live {
		op.done <- s.write(ctx, op.fn)
	}
}

// closeGroups stops the group committer; a write still waiting for its
// turn fails with errClosed.
func (s *Store) closeGroups() {
	close(s.closing)
	<-s.grouping
	for {
		select {
		case op := <-s.group:
			op.done <- fmt.Errorf("write: %w", errClosed)
		default:
			return
		}
	}
}
