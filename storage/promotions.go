package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferrybot/ferry/pipeline"
)

const promotionColumns = `id, project, from_env, to_env, source, version, state, reason, due_at, checked_at, deploy_id, created_at, updated_at`

func scanPromotion(sc scanner) (pipeline.PromotionRecord, error) {
	var p pipeline.PromotionRecord
	err := sc.Scan(&p.ID, &p.Project, &p.From, &p.To, &p.Source, &p.Version, &p.State, &p.Reason,
		scanNanos(&p.Due), scanNanos(&p.Checked), &p.DeployID, scanNanos(&p.Created), scanNanos(&p.Updated))
	return p, err
}

// StartPromotion stores p, unless its rule has a promotion of p.Source
// already: then it returns that one, and false.
func (s *Store) StartPromotion(ctx context.Context, p pipeline.PromotionRecord) (pipeline.PromotionRecord, bool, error) {
	what := fmt.Sprintf("promotion of deploy %d from %s/%s to %s", p.Source, p.Project, p.From, p.To)
	now := s.now()
	res, err := s.w.ExecContext(ctx, `INSERT INTO promotions (project, from_env, to_env, source, version, state, reason, due_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project, from_env, to_env, source) DO NOTHING`,
		p.Project, p.From, p.To, p.Source, p.Version, p.State, p.Reason, nanos(p.Due), nanos(now), nanos(now))
	if err != nil {
		return p, false, wrap(what, err)
	}
	n, _ := res.RowsAffected()
	stored, err := scanPromotion(s.w.QueryRowContext(ctx, `SELECT `+promotionColumns+` FROM promotions
		WHERE project = ? AND from_env = ? AND to_env = ? AND source = ?`, p.Project, p.From, p.To, p.Source))
	return stored, n == 1, wrap(what, err)
}

// UpdatePromotion records a promotion's state, reason, last check and
// deploy.
func (s *Store) UpdatePromotion(ctx context.Context, p pipeline.PromotionRecord) error {
	res, err := s.w.ExecContext(ctx, `UPDATE promotions SET state = ?, reason = ?, checked_at = ?, deploy_id = ?, updated_at = ? WHERE id = ?`,
		p.State, p.Reason, nanos(p.Checked), p.DeployID, nanos(s.now()), p.ID)
	if err == nil {
		err = mustChange(res, fmt.Errorf("promotion %d: %w", p.ID, pipeline.ErrNotFound))
	}
	return wrap(fmt.Sprintf("update promotion %d", p.ID), err)
}

// Promotions lists the promotions of a project ("": every project) in
// states (none: any), oldest first.
func (s *Store) Promotions(ctx context.Context, project string, states ...pipeline.PromotionState) ([]pipeline.PromotionRecord, error) {
	q := `SELECT ` + promotionColumns + ` FROM promotions WHERE (? = '' OR project = ?)`
	args := []any{project, project}
	if len(states) > 0 {
		q += ` AND state IN (?` + strings.Repeat(", ?", len(states)-1) + `)`
		for _, st := range states {
			args = append(args, st)
		}
	}
	ps, err := scanAll(ctx, s.r, scanPromotion, q+` ORDER BY id`, args...)
	return ps, wrap("list promotions", err)
}
