package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ferrybot/ferry/pipeline"
)

// ImportDeploys stores deploys as they are, IDs and states included, with
// their transitions, in one transaction: for generators of test data and
// imports from other systems, not for the engine, which goes through
// CreateDeploy and Transition. A deploy whose ID is taken is an error and
// nothing is stored.
func (s *Store) ImportDeploys(ctx context.Context, ds []pipeline.Deploy, ts []pipeline.Transition) error {
	return wrap("import deploys", s.write(ctx, func(tx *sql.Tx) error {
		dst, err := tx.PrepareContext(ctx, `INSERT INTO deploys (id, project, env, kind, ref, commit_hash, version,
			release_name, previous_version, previous_release, state, requester, reason, forced,
			batch, batches, approvals_required, approval_deadline, bake_until,
			created_at, updated_at, started_at, finished_at, committed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer dst.Close()
		for _, d := range ds {
			_, err := dst.ExecContext(ctx, d.ID, d.Project, d.Env, d.Kind, d.Ref, d.Commit, d.Version,
				d.Release, d.PreviousVersion, d.PreviousRelease, d.State, d.Requester, d.Reason, d.Force,
				d.Batch, d.Batches, d.ApprovalsRequired, nanos(d.ApprovalDeadline), nanos(d.BakeUntil),
				nanos(d.CreatedAt), nanos(d.UpdatedAt), nanos(d.StartedAt), nanos(d.FinishedAt), nanos(d.CommittedAt))
			if err != nil {
				return fmt.Errorf("deploy %d: %w", d.ID, err)
			}
		}
		tst, err := tx.PrepareContext(ctx, `INSERT INTO transitions (deploy_id, from_state, to_state, event, actor, reason, at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer tst.Close()
		for _, t := range ts {
			if _, err := tst.ExecContext(ctx, t.DeployID, t.From, t.To, t.Event, t.Actor, t.Reason, nanos(t.At)); err != nil {
				return fmt.Errorf("transition of deploy %d: %w", t.DeployID, missingDeploy(err, t.DeployID))
			}
		}
		return nil
	}))
}
