package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// replayWindow is how long a body is remembered by its hash: the same body
// under a new delivery ID within it is a replay.
const replayWindow = 24 * time.Hour

// Receive stores a delivery of a platform before ingress acknowledges it,
// in a commit it may share with the deliveries arriving at the same time,
// and says whether it is new, a duplicate of a delivery ID seen before, or
// a body seen in the last day under another ID (d.Hash set). A duplicate
// changes nothing stored; a replay is stored as processed, so that its ID
// is known too. d.Received is when it arrived; zero means now. With lease > 0 the caller handles the new delivery itself
// and claims it for that long; otherwise ClaimDeliveries hands it out. An
// empty platform or ID is an error wrapping pipeline.ErrInvalid, since it
// would make every later delivery without one a duplicate.
func (s *Store) Receive(ctx context.Context, d pipeline.Delivery, lease time.Duration) (pipeline.Receipt, error) {
	op := fmt.Sprintf("receive %s delivery %q", d.Platform, d.ID)
	if d.Platform == "" || d.ID == "" {
		return 0, fmt.Errorf("%s: %w: want a platform and a delivery id", op, pipeline.ErrInvalid)
	}
	if s.stmts.receive == nil {
		return 0, fmt.Errorf("%s: the store was opened unmigrated; open it with Open", op)
	}
	now := d.Received
	if now.IsZero() {
		now = s.now()
	}
	packed, encoding := s.codec.pack(d.Body)
	var receipt pipeline.Receipt
	err := s.grouped(ctx, func(tx *sql.Tx) error {
		receipt = pipeline.Received
		var processed, owner any = nil, ""
		var until, attempts int64
		outcome, body := "", packed
		if len(d.Hash) > 0 {
			var first string
			err := tx.StmtContext(ctx, s.stmts.replayed).QueryRowContext(ctx,
				d.Platform, d.Hash, nanos(now.Add(-replayWindow)), d.ID).Scan(&first)
			switch {
			case err == nil:
				receipt, processed, outcome, body = pipeline.Replayed, nanos(now), "replay of delivery "+first, nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		if receipt == pipeline.Received && lease > 0 {
			owner, until, attempts = s.owner, now.Add(lease).UnixNano(), 1
		}
		var id int64
		err := tx.StmtContext(ctx, s.stmts.receive).QueryRowContext(ctx,
			d.Platform, d.ID, nanos(now), d.Event, hashColumn(d.Hash), processed, outcome, owner, until, attempts).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			receipt = pipeline.Duplicate
			return nil
		case err != nil || body == nil:
			return err
		}
		_, err = tx.StmtContext(ctx, s.stmts.body).ExecContext(ctx, id, body, encoding)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return receipt, nil
}

// deliveryStmts are the inbox's statements run for every delivery, in
// group commits: prepared once on the writer's connection rather than
// parsed again for each delivery.
type deliveryStmts struct {
	replayed, receive, body, finish *sql.Stmt
}

func prepareDeliveries(ctx context.Context, w *sql.DB) (deliveryStmts, error) {
	var st deliveryStmts
	var err error
	for _, p := range []struct {
		to  **sql.Stmt
		sql string
	}{
		{&st.replayed, `SELECT delivery_id FROM deliveries
			WHERE platform = ? AND body_hash = ? AND received_at >= ? AND delivery_id != ? LIMIT 1`},
		{&st.receive, `INSERT INTO deliveries (platform, delivery_id, received_at, event, body_hash,
			processed_at, outcome, owner, claimed_until, attempts)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, delivery_id) DO NOTHING RETURNING id`},
		{&st.body, `INSERT INTO delivery_bodies (delivery, body, encoding) VALUES (?, ?, ?)`},
		{&st.finish, `UPDATE deliveries SET processed_at = ?, outcome = ?, owner = '', claimed_until = 0
			WHERE platform = ? AND delivery_id = ?`},
	} {
		if *p.to, err = w.PrepareContext(ctx, p.sql); err != nil {
			st.close()
			return st, fmt.Errorf("prepare the inbox's statements: %w", err)
		}
	}
	return st, nil
}

func (st deliveryStmts) close() {
	for _, s := range []*sql.Stmt{st.replayed, st.receive, st.body, st.finish} {
		if s != nil {
			s.Close()
		}
	}
}

// hashColumn stores an absent hash as NULL, outside the hash index.
func hashColumn(h []byte) any {
	if len(h) == 0 {
		return nil
	}
	return h
}

// ClaimDeliveries hands out up to limit deliveries of a platform that are
// not processed and that nobody holds (never claimed, or their claim
// expired), oldest first, each claimed for lease and its Attempts counted.
// Replicas claiming at once on PostgreSQL pass over each other's rows
// (FOR UPDATE SKIP LOCKED): each delivery goes to one of them.
func (s *Store) ClaimDeliveries(ctx context.Context, platform string, limit int, lease time.Duration) ([]pipeline.Delivery, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("claim %s deliveries: %w: want a limit and a lease", platform, pipeline.ErrInvalid)
	}
	now := s.now()
	type row struct {
		id int64
		d  pipeline.Delivery
	}
	var rows []row
	type body struct {
		stored   []byte
		encoding string
	}
	bodies := map[int64]body{}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		rows, err = scanAll(ctx, tx, func(sc scanner) (row, error) {
			r := row{d: pipeline.Delivery{Platform: platform}}
			err := sc.Scan(&r.id, &r.d.ID, &r.d.Event, &r.d.Hash, scanNanos(&r.d.Received), &r.d.Attempts)
			return r, err
		}, `UPDATE deliveries SET owner = ?, claimed_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM deliveries WHERE platform = ? AND processed_at IS NULL AND claimed_until < ?
				ORDER BY id LIMIT ?`+s.skipLocked()+`)
			RETURNING id, delivery_id, event, body_hash, received_at, attempts`,
			s.owner, now.Add(lease).UnixNano(), platform, now.UnixNano(), limit)
		if err != nil || len(rows) == 0 {
			return err
		}
		ids := make([]any, len(rows))
		for i, r := range rows {
			ids[i] = r.id
		}
		_, err = scanAll(ctx, tx, func(sc scanner) (struct{}, error) {
			var id int64
			var b body
			err := sc.Scan(&id, &b.stored, &b.encoding)
			bodies[id] = b
			return struct{}{}, err
		}, `SELECT delivery, body, encoding FROM delivery_bodies WHERE delivery IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, ids...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim %s deliveries: %w", platform, err)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].id < rows[j].id })
	ds := make([]pipeline.Delivery, len(rows))
	for i, r := range rows {
		ds[i] = r.d
		b := bodies[r.id]
		if ds[i].Body, err = s.codec.unpack(b.stored, b.encoding); err != nil {
			// Handled without its body, the delivery fails as unreadable
			// and says why, rather than being owed for ever.
			ds[i].Body = nil
		}
	}
	return ds, nil
}

// ReleaseClaims makes every delivery not yet processed free to claim.
// ferry on SQLite is one process: when it starts, what the process before
// it claimed and did not finish is owed, whatever the claims say.
func (s *Store) ReleaseClaims(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `UPDATE deliveries SET owner = '', claimed_until = 0
		WHERE processed_at IS NULL AND claimed_until != 0`)
	return wrap("release delivery claims", err)
}

// FinishDelivery marks a delivery processed, with its outcome in words.
// It shares a commit with concurrent writes as Receive does.
func (s *Store) FinishDelivery(ctx context.Context, platform, id, outcome string) error {
	if s.stmts.finish == nil {
		return fmt.Errorf("finish %s delivery %q: the store was opened unmigrated; open it with Open", platform, id)
	}
	now := s.now()
	err := s.grouped(ctx, func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, s.stmts.finish).ExecContext(ctx, nanos(now), outcome, platform, id)
		return err
	})
	return wrap(fmt.Sprintf("finish %s delivery %q", platform, id), err)
}

// DeliveryRecord is a stored delivery with what became of it.
type DeliveryRecord struct {
	pipeline.Delivery
	Processed time.Time // zero while it is owed
	Outcome   string
}

// DeliveryOf returns a stored delivery, or an error wrapping
// pipeline.ErrNotFound.
func (s *Store) DeliveryOf(ctx context.Context, platform, id string) (DeliveryRecord, error) {
	r := DeliveryRecord{Delivery: pipeline.Delivery{Platform: platform, ID: id}}
	var encoding sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT d.event, b.body, b.encoding, d.body_hash, d.received_at, d.attempts, d.processed_at, d.outcome
		FROM deliveries d LEFT JOIN delivery_bodies b ON b.delivery = d.id
		WHERE d.platform = ? AND d.delivery_id = ?`, platform, id).Scan(
		&r.Event, &r.Body, &encoding, &r.Hash, scanNanos(&r.Received), &r.Attempts, scanNanos(&r.Processed), &r.Outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%s delivery %q %w", platform, id, pipeline.ErrNotFound)
	}
	if err == nil {
		r.Body, err = s.codec.unpack(r.Body, encoding.String)
	}
	return r, wrap(fmt.Sprintf("%s delivery %q", platform, id), err)
}

// Retention is how long the inbox keeps what it stored.
type Retention struct {
	// Bodies of processed deliveries are dropped this long after they
	// were processed.
	Bodies time.Duration
	// Deliveries, that is their IDs for deduplication, are dropped this
	// long after they arrived, once processed.
	Deliveries time.Duration
}

// pruneBatch bounds the rows one pruning transaction changes, so that the
// writer is never held long.
const pruneBatch = 1000

// PruneDeliveries drops what r no longer keeps, at most pruneBatch rows a
// transaction, and returns how many bodies and deliveries it dropped. A
// delivery not yet processed keeps its body, whatever its age.
func (s *Store) PruneDeliveries(ctx context.Context, r Retention) (bodies, deliveries int, err error) {
	if r.Bodies <= 0 || r.Deliveries <= 0 {
		return 0, 0, fmt.Errorf("prune deliveries: %w: want both retentions", pipeline.ErrInvalid)
	}
	now := s.now()
	step := func(query string, before time.Time) (int, error) {
		total := 0
		for ctx.Err() == nil {
			res, err := s.w.ExecContext(ctx, query, nanos(before), pruneBatch)
			if err != nil {
				return total, err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, err
			}
			total += int(n)
			if n < pruneBatch {
				return total, nil
			}
		}
		return total, ctx.Err()
	}
	// Bodies are scanned in the order deliveries arrived, up to the first
	// delivery that arrived after the cut (found in the received_at
	// index): whatever was processed before the cut arrived before it.
	bodies, err = step(`DELETE FROM delivery_bodies WHERE delivery IN (SELECT b.delivery
		FROM delivery_bodies b JOIN deliveries d ON d.id = b.delivery
		WHERE b.delivery < coalesce((SELECT id FROM deliveries WHERE received_at >= ?1 ORDER BY received_at LIMIT 1), 9223372036854775807)
			AND d.processed_at < ?1
		ORDER BY b.delivery LIMIT ?2)`, now.Add(-r.Bodies))
	if err != nil {
		return bodies, 0, fmt.Errorf("prune delivery bodies: %w", err)
	}
	deliveries, err = step(`DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
		WHERE received_at < ? AND processed_at IS NOT NULL LIMIT ?)`, now.Add(-r.Deliveries))
	if err != nil {
		return bodies, deliveries, fmt.Errorf("prune deliveries: %w", err)
	}
	return bodies, deliveries, nil
}

// Backlog is how many deliveries of each platform are owed (acknowledged,
// not processed), and when the oldest of them arrived.
type Backlog struct {
	Platform string
	Pending  int
	Oldest   time.Time
}

// InboxBacklog returns the backlog of every platform with one.
func (s *Store) InboxBacklog(ctx context.Context) ([]Backlog, error) {
	bs, err := scanAll(ctx, s.r, func(sc scanner) (Backlog, error) {
		var b Backlog
		return b, sc.Scan(&b.Platform, &b.Pending, scanNanos(&b.Oldest))
	}, `SELECT platform, count(*), min(received_at) FROM deliveries WHERE processed_at IS NULL GROUP BY platform ORDER BY platform`)
	return bs, wrap("inbox backlog", err)
}

// knownBatch bounds the delivery IDs one query of KnownDeliveries asks for.
const knownBatch = 500

// KnownDeliveries returns which of ids the platform's deliveries include:
// those Receive stored. Each batch of IDs is one lookup in the
// (platform, delivery_id) unique index.
func (s *Store) KnownDeliveries(ctx context.Context, platform string, ids []string) (map[string]bool, error) {
	known := map[string]bool{}
	for start := 0; start < len(ids); start += knownBatch {
		batch := ids[start:min(start+knownBatch, len(ids))]
		args := []any{platform}
		for _, id := range batch {
			args = append(args, id)
		}
		found, err := scanAll(ctx, s.r, func(sc scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		}, `SELECT delivery_id FROM deliveries WHERE platform = ? AND delivery_id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("known %s deliveries: %w", platform, err)
		}
		for _, id := range found {
			known[id] = true
		}
	}
	return known, nil
}
