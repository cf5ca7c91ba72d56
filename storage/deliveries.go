package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferrybot/ferry/pipeline"
)

// RecordDelivery stores a webhook delivery of a platform ("github",
// "gitlab", …) before ingress acknowledges it, and reports whether that
// platform had already delivered id: a redelivery, to acknowledge and ignore.
// The stored delivery is not changed by a duplicate. An empty id is an error
// wrapping pipeline.ErrInvalid, since it would make every later delivery
// without one a duplicate.
func (s *SQLite) RecordDelivery(ctx context.Context, platform, id, event string, body []byte) (duplicate bool, err error) {
	op := fmt.Sprintf("record %s delivery %q", platform, id)
	if platform == "" || id == "" {
		return false, fmt.Errorf("%s: %w: want a platform and a delivery id", op, pipeline.ErrInvalid)
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO deliveries (platform, delivery_id, received_at, event, body)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, delivery_id) DO NOTHING`,
		platform, id, nanos(s.now()), event, body)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	return n == 0, nil
}

// knownBatch bounds the delivery IDs one query of KnownDeliveries asks for.
const knownBatch = 500

// KnownDeliveries returns which of ids the platform's deliveries include:
// those RecordDelivery stored. Each batch of IDs is one lookup in the
// (platform, delivery_id) unique index.
func (s *SQLite) KnownDeliveries(ctx context.Context, platform string, ids []string) (map[string]bool, error) {
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
