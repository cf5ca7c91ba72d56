package storage

import (
	"context"
	"fmt"

	"github.com/ferrybot/ferry/pipeline"
)

// AddApproval records a's approval of its deploy. It fails with an error
// wrapping pipeline.ErrDuplicate if the approver already approved it, and
// pipeline.ErrNotFound if there is no such deploy.
func (s *Store) AddApproval(ctx context.Context, a pipeline.Approval) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO approvals (deploy_id, approver, at) VALUES (?, ?, ?)
		ON CONFLICT (deploy_id, approver) DO NOTHING`,
		a.DeployID, a.Approver, nanos(a.At))
	if err != nil {
		return fmt.Errorf("add approval: %w", missingDeploy(err, a.DeployID))
	}
	dup := fmt.Errorf("%w: %s already approved deploy %d", pipeline.ErrDuplicate, a.Approver, a.DeployID)
	return wrap("add approval", mustChange(res, dup))
}

// Approvals returns the approvals of a deploy in the order they were added.
func (s *Store) Approvals(ctx context.Context, deployID int64) ([]pipeline.Approval, error) {
	as, err := scanAll(ctx, s.r, func(sc scanner) (pipeline.Approval, error) {
		var a pipeline.Approval
		err := sc.Scan(&a.DeployID, &a.Approver, scanNanos(&a.At))
		return a, err
	}, `SELECT deploy_id, approver, at FROM approvals WHERE deploy_id = ? ORDER BY id`, deployID)
	return as, wrap(fmt.Sprintf("approvals of deploy %d", deployID), err)
}
