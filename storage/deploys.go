package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

const selectDeploy = `SELECT id, project, env, kind, ref, commit_hash, version, release_name,
	previous_version, previous_release, state, requester, reason, forced,
	batch, batches, approvals_required, approval_deadline, bake_until,
	created_at, updated_at, started_at, finished_at, committed_at, strategy, request_key, origin
	FROM deploys`

func scanDeploy(sc scanner) (pipeline.Deploy, error) {
	var d pipeline.Deploy
	err := sc.Scan(&d.ID, &d.Project, &d.Env, &d.Kind, &d.Ref, &d.Commit, &d.Version, &d.Release,
		&d.PreviousVersion, &d.PreviousRelease, &d.State, &d.Requester, &d.Reason, &d.Force,
		&d.Batch, &d.Batches, &d.ApprovalsRequired, scanNanos(&d.ApprovalDeadline), scanNanos(&d.BakeUntil),
		scanNanos(&d.CreatedAt), scanNanos(&d.UpdatedAt), scanNanos(&d.StartedAt), scanNanos(&d.FinishedAt),
		scanNanos(&d.CommittedAt),
		strategyColumn{&d.Strategy}, &d.RequestKey, &d.Origin)
	return d, err
}

// CreateDeploy stores d as a new deploy and sets its ID, CreatedAt and
// UpdatedAt, and its State to requested if it is empty. A new deploy in any
// other state is an error wrapping pipeline.ErrInvalid: it gets there by
// Transition. d is unchanged if CreateDeploy fails, but for one error: a
// deploy with d.RequestKey exists, and CreateDeploy sets d to it and
// returns an error wrapping pipeline.ErrDuplicate.
func (s *Store) CreateDeploy(ctx context.Context, d *pipeline.Deploy) error {
	nd := *d
	if nd.State == "" {
		nd.State = pipeline.StateRequested
	}
	if nd.State != pipeline.StateRequested {
		return fmt.Errorf("create deploy: %w: a new deploy is requested, not %s", pipeline.ErrInvalid, nd.State)
	}
	nd.CreatedAt = s.now()
	nd.UpdatedAt = nd.CreatedAt
	err := s.w.QueryRowContext(ctx, `INSERT INTO deploys (project, env, kind, ref, commit_hash, version,
		release_name, previous_version, previous_release, state, requester, reason, forced,
		batch, batches, approvals_required, approval_deadline, bake_until,
		created_at, updated_at, started_at, finished_at, committed_at, strategy, request_key, origin)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (request_key) WHERE request_key != '' DO NOTHING RETURNING id`,
		nd.Project, nd.Env, nd.Kind, nd.Ref, nd.Commit, nd.Version,
		nd.Release, nd.PreviousVersion, nd.PreviousRelease, nd.State, nd.Requester, nd.Reason, nd.Force,
		nd.Batch, nd.Batches, nd.ApprovalsRequired, nanos(nd.ApprovalDeadline), nanos(nd.BakeUntil),
		nanos(nd.CreatedAt), nanos(nd.UpdatedAt), nanos(nd.StartedAt), nanos(nd.FinishedAt), nanos(nd.CommittedAt), strategyColumn{&nd.Strategy}, nd.RequestKey, nd.Origin).Scan(&nd.ID)
	if errors.Is(err, sql.ErrNoRows) {
		// Its request was made before: the deploy is the one it made.
		old, err := scanDeploy(s.w.QueryRowContext(ctx, selectDeploy+` WHERE request_key = ?`, nd.RequestKey))
		if err != nil {
			return fmt.Errorf("create deploy: %w", err)
		}
		*d = old
		return fmt.Errorf("create deploy: request %s made deploy %d: %w", nd.RequestKey, old.ID, pipeline.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("create deploy: %w", err)
	}
	*d = nd
	return nil
}

// Deploy returns deploy id, or an error wrapping pipeline.ErrNotFound.
func (s *Store) Deploy(ctx context.Context, id int64) (pipeline.Deploy, error) {
	return getDeploy(ctx, s.r, id)
}

func getDeploy(ctx context.Context, q querier, id int64) (pipeline.Deploy, error) {
	d, err := scanDeploy(q.QueryRowContext(ctx, selectDeploy+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("deploy %d %w", id, pipeline.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("deploy %d: %w", id, err)
	}
	return d, nil
}

// Deploys returns the deploys f selects, newest (highest ID) first unless
// f.Oldest.
func (s *Store) Deploys(ctx context.Context, f pipeline.DeployFilter) ([]pipeline.Deploy, error) {
	limit, err := sqlLimit(f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list deploys: %w", err)
	}
	var where []string
	var args []any
	if f.Project != "" {
		where = append(where, "project = ?")
		args = append(args, f.Project)
	}
	if f.Env != "" {
		where = append(where, "env = ?")
		args = append(args, f.Env)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.Requester != "" {
		where = append(where, "requester = ?")
		args = append(args, f.Requester)
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, nanos(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, nanos(f.Until))
	}
	query := selectDeploy
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Oldest {
		query += " ORDER BY id"
	} else {
		query += " ORDER BY id DESC"
	}
	query += " LIMIT ?"
	args = append(args, limit)
	ds, err := scanAll(ctx, s.r, scanDeploy, query, args...)
	return ds, wrap("list deploys", err)
}

// CountDeploys returns how many deploys the store holds.
func (s *Store) CountDeploys(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM deploys`).Scan(&n)
	return n, wrap("count deploys", err)
}

// CountByState counts deploys in each state; states without deploys are
// absent. It serves the metrics endpoint.
func (s *Store) CountByState(ctx context.Context) (map[pipeline.State]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM deploys GROUP BY state`)
	if err != nil {
		return nil, wrap("count by state", err)
	}
	defer rows.Close()
	counts := map[pipeline.State]int{}
	for rows.Next() {
		var st pipeline.State
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, wrap("count by state", err)
		}
		counts[st] = n
	}
	return counts, wrap("count by state", rows.Err())
}

// Transition moves deploy t.DeployID from t.From to t.To if it is still in
// t.From, and records t; see pipeline.DeployStore. In one transaction it
// reads the deploy, applies update (which may be nil) to it, sets its State
// to t.To and UpdatedAt to t.At (now if t.At is zero), writes every field but
// ID, CreatedAt and Strategy, which update cannot change, and stores t.
//
// update runs inside the write transaction: it must be quick, and must not
// call the store's write methods, which would wait for it forever.
func (s *Store) Transition(ctx context.Context, t pipeline.Transition, update func(*pipeline.Deploy)) (pipeline.Deploy, error) {
	if t.To == "" {
		return pipeline.Deploy{}, fmt.Errorf("transition: %w: no state to move deploy %d to", pipeline.ErrInvalid, t.DeployID)
	}
	if t.At.IsZero() {
		t.At = s.now()
	}
	var d pipeline.Deploy
	noticed := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.fenced(ctx, tx); err != nil {
			return err
		}
		old, err := getDeploy(ctx, tx, t.DeployID)
		if err != nil {
			return err
		}
		if old.State != t.From {
			return fmt.Errorf("%w: deploy %d is %s, not %s", pipeline.ErrConflict, old.ID, old.State, t.From)
		}
		d = old
		if update != nil {
			update(&d)
		}
		d.ID, d.CreatedAt, d.Strategy, d.RequestKey, d.Origin = old.ID, old.CreatedAt, old.Strategy, old.RequestKey, old.Origin
		d.State, d.UpdatedAt = t.To, t.At
		if err := updateDeploy(ctx, tx, d); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO transitions (deploy_id, from_state, to_state, event, actor, reason, at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.DeployID, t.From, t.To, t.Event, t.Actor, t.Reason, nanos(t.At))
		if err != nil || t.Notices == nil {
			return err
		}
		ns := t.Notices(d)
		noticed = len(ns) > 0
		return s.addNotices(ctx, tx, ns, s.now())
	})
	if err != nil {
		return pipeline.Deploy{}, fmt.Errorf("transition: %w", err)
	}
	if noticed {
		s.notify()
	}
	return d, nil
}

// updateDeploy writes every field of d but ID, CreatedAt and Strategy, which
// are set when the deploy is created.
func updateDeploy(ctx context.Context, tx *sql.Tx, d pipeline.Deploy) error {
	_, err := tx.ExecContext(ctx, `UPDATE deploys SET project = ?, env = ?, kind = ?, ref = ?,
		commit_hash = ?, version = ?, release_name = ?, previous_version = ?, previous_release = ?,
		state = ?, requester = ?, reason = ?, forced = ?, batch = ?, batches = ?,
		approvals_required = ?, approval_deadline = ?, bake_until = ?,
		updated_at = ?, started_at = ?, finished_at = ?, committed_at = ?
		WHERE id = ?`,
		d.Project, d.Env, d.Kind, d.Ref,
		d.Commit, d.Version, d.Release, d.PreviousVersion, d.PreviousRelease,
		d.State, d.Requester, d.Reason, d.Force, d.Batch, d.Batches,
		d.ApprovalsRequired, nanos(d.ApprovalDeadline), nanos(d.BakeUntil),
		nanos(d.UpdatedAt), nanos(d.StartedAt), nanos(d.FinishedAt), nanos(d.CommittedAt),
		d.ID)
	return err
}

// SetProgress records the batch a deploy is on, how many it has, and the end
// of its bake (zero: not baking), whatever its state.
func (s *Store) SetProgress(ctx context.Context, id int64, batch, batches int, bakeUntil time.Time) error {
	res, err := s.exec(ctx, `UPDATE deploys SET batch = ?, batches = ?, bake_until = ?, updated_at = ? WHERE id = ?`,
		batch, batches, nanos(bakeUntil), nanos(s.now()), id)
	if err != nil {
		return fmt.Errorf("set progress: deploy %d: %w", id, err)
	}
	return wrap("set progress", mustChange(res, fmt.Errorf("deploy %d %w", id, pipeline.ErrNotFound)))
}

// SetReason records why a deploy stays in its state (a queued deploy a
// freeze holds), if it is still in state.
func (s *Store) SetReason(ctx context.Context, id int64, state pipeline.State, reason string) error {
	_, err := s.exec(ctx, `UPDATE deploys SET reason = ?, updated_at = ? WHERE id = ? AND state = ?`,
		reason, nanos(s.now()), id, state)
	return wrap(fmt.Sprintf("set the reason of deploy %d", id), err)
}

// Transitions returns the transitions of a deploy, oldest first.
func (s *Store) Transitions(ctx context.Context, id int64) ([]pipeline.Transition, error) {
	ts, err := scanAll(ctx, s.r, func(sc scanner) (pipeline.Transition, error) {
		var t pipeline.Transition
		err := sc.Scan(&t.DeployID, &t.From, &t.To, &t.Event, &t.Actor, &t.Reason, scanNanos(&t.At))
		return t, err
	}, `SELECT deploy_id, from_state, to_state, event, actor, reason, at
		FROM transitions WHERE deploy_id = ? ORDER BY id`, id)
	return ts, wrap(fmt.Sprintf("transitions of deploy %d", id), err)
}
