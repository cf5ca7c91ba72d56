package storage

import (
	"context"
	"fmt"

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
