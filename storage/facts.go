package storage

import (
	"context"

	"github.com/ferrybot/ferry/dashboards"
)

var _ dashboards.Store = (*Store)(nil)

// Facts returns what the dashboards read of the deploys that started in
// [q.From, q.To), of q.Project if set, with the first time each failed or
// began to roll back (from its transitions, for the deploys that did).
func (s *Store) Facts(ctx context.Context, q dashboards.Query) ([]dashboards.Fact, error) {
	query := `SELECT d.id, d.project, d.env, d.kind, d.state, d.requester, d.batch, d.batches,
		d.created_at, d.started_at, d.finished_at, d.committed_at,
		CASE WHEN d.state IN ('failed', 'rolling_back', 'rolled_back') THEN
			(SELECT MIN(t.at) FROM transitions t INDEXED BY transitions_deploy
				WHERE t.deploy_id = d.id AND t.to_state IN ('failed', 'rolling_back'))
		END
		FROM deploys d`
	args := []any{nanos(q.From), nanos(q.To)}
	if q.Project != "" {
		query += ` INDEXED BY deploys_project_started WHERE d.project = ? AND d.started_at >= ? AND d.started_at < ?`
		args = append([]any{q.Project}, args...)
	} else {
		query += ` INDEXED BY deploys_started WHERE d.started_at >= ? AND d.started_at < ?`
	}
	fs, err := scanAll(ctx, s.r, func(sc scanner) (dashboards.Fact, error) {
		var f dashboards.Fact
		err := sc.Scan(&f.ID, &f.Project, &f.Env, &f.Kind, &f.State, &f.Requester, &f.Batch, &f.Batches,
			scanNanos(&f.CreatedAt), scanNanos(&f.StartedAt), scanNanos(&f.FinishedAt), scanNanos(&f.CommittedAt),
			scanNanos(&f.FailedAt))
		return f, err
	}, query, args...)
	return fs, wrap("deploy facts", err)
}
