package storage

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The channels replicas on PostgreSQL signal each other on (LISTEN/NOTIFY).
const (
	// outboxChannel: a commit added notices; every dispatcher looks.
	outboxChannel = "ferry_outbox"
	// changesChannel: "<owner> <deploy id>", a deploy changed on the
	// replica owner; the live pages of the others show it.
	changesChannel = "ferry_changes"
)

// PublishChange tells the other replicas that deploy id changed, for their
// live pages (see Changes). Alone on SQLite, there is nobody to tell.
func (s *Store) PublishChange(ctx context.Context, id int64) error {
	if s.postgres == "" {
		return nil
	}
	_, err := s.w.ExecContext(ctx, `SELECT pg_notify('`+changesChannel+`', ?)`, s.owner+" "+strconv.FormatInt(id, 10))
	return wrap(fmt.Sprintf("publish the change of deploy %d", id), err)
}

// Changes delivers the IDs of deploys other replicas published a change of
// (PublishChange). A reader that falls behind misses changes rather than
// holding the others up. It never delivers on SQLite.
func (s *Store) Changes() <-chan int64 { return s.changes }

// Listen receives the other replicas' signals (LISTEN/NOTIFY) on a
// connection of its own until ctx ends: a commit of notices wakes this
// replica's dispatcher (Noticed), a change a replica published goes to
// Changes. A lost connection is made again, after a second, then up to
// 30 s; each connection wakes the dispatcher once, for what was missed
// meanwhile. On SQLite, one process alone, it waits for ctx.
func (s *Store) Listen(ctx context.Context, log *slog.Logger) error {
	if s.postgres == "" {
		<-ctx.Done()
		return nil
	}
	backoff := time.Second
	for {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("storage: the LISTEN connection to PostgreSQL was lost; connecting again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.postgres)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+outboxChannel+"; LISTEN "+changesChannel); err != nil {
		return err
	}
	s.notify()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch n.Channel {
		case outboxChannel:
			s.notify()
		case changesChannel:
			owner, id, ok := strings.Cut(n.Payload, " ")
			d, err := strconv.ParseInt(id, 10, 64)
			if !ok || err != nil || owner == s.owner {
				continue
			}
			select {
			case s.changes <- d:
			default:
			}
		}
	}
}
