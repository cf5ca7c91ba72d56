package storage

import (
	"context"
	"fmt"

	"github.com/ferrybot/ferry/pipeline"
)

// PutUnit inserts u, or replaces the unit of the same deploy and name. Units
// keep the position of their first put: Units lists them in that order.
func (s *Store) PutUnit(ctx context.Context, u pipeline.Unit) error {
	_, err := s.exec(ctx, `INSERT INTO units
		(deploy_id, name, pos, batch, state, step, previous, error, started_at, finished_at)
		VALUES (?1, ?2, (SELECT COUNT(*) FROM units WHERE deploy_id = ?1), ?3, ?4, ?5, ?6, ?7, ?8, ?9)
		ON CONFLICT (deploy_id, name) DO UPDATE SET
			batch = excluded.batch, state = excluded.state, step = excluded.step,
			previous = excluded.previous, error = excluded.error,
			started_at = excluded.started_at, finished_at = excluded.finished_at`,
		u.DeployID, u.Name, u.Batch, u.State, u.Step, u.Previous, u.Error, nanos(u.Started), nanos(u.Finished))
	if err != nil {
		return fmt.Errorf("put unit %s: %w", u.Name, missingDeploy(err, u.DeployID))
	}
	return nil
}

// Units returns the units of a deploy in the order they were first put.
func (s *Store) Units(ctx context.Context, deployID int64) ([]pipeline.Unit, error) {
	us, err := scanAll(ctx, s.r, func(sc scanner) (pipeline.Unit, error) {
		var u pipeline.Unit
		err := sc.Scan(&u.DeployID, &u.Name, &u.Batch, &u.State, &u.Step, &u.Previous, &u.Error,
			scanNanos(&u.Started), scanNanos(&u.Finished))
		return u, err
	}, `SELECT deploy_id, name, batch, state, step, previous, error, started_at, finished_at
		FROM units WHERE deploy_id = ? ORDER BY pos`, deployID)
	return us, wrap(fmt.Sprintf("units of deploy %d", deployID), err)
}

// AppendLog adds e to the log of its deploy, numbered after the last entry;
// e.Seq is ignored.
func (s *Store) AppendLog(ctx context.Context, e pipeline.LogEntry) error {
	_, err := s.exec(ctx, `INSERT INTO logs (deploy_id, seq, unit, step, text, at)
		VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM logs WHERE deploy_id = ?1), ?2, ?3, ?4, ?5)`,
		e.DeployID, e.Unit, e.Step, e.Text, nanos(e.At))
	if err != nil {
		return fmt.Errorf("append log: %w", missingDeploy(err, e.DeployID))
	}
	return nil
}

// Logs returns the last limit log entries of a deploy, oldest first; limit 0
// returns them all.
func (s *Store) Logs(ctx context.Context, deployID int64, limit int) ([]pipeline.LogEntry, error) {
	op := fmt.Sprintf("logs of deploy %d", deployID)
	n, err := sqlLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	es, err := scanAll(ctx, s.r, func(sc scanner) (pipeline.LogEntry, error) {
		var e pipeline.LogEntry
		err := sc.Scan(&e.DeployID, &e.Seq, &e.Unit, &e.Step, &e.Text, scanNanos(&e.At))
		return e, err
	}, `SELECT * FROM (
			SELECT deploy_id, seq, unit, step, text, at
			FROM logs WHERE deploy_id = ? ORDER BY seq DESC LIMIT ?
		) AS tail ORDER BY seq`, deployID, n)
	return es, wrap(op, err)
}

// PutUnitRelease records what a unit runs now, replacing what it ran.
func (s *Store) PutUnitRelease(ctx context.Context, r pipeline.UnitRelease) error {
	_, err := s.exec(ctx, `INSERT INTO unit_releases
		(project, env, unit, release, version, deploy_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (project, env, unit) DO UPDATE SET release = excluded.release,
			version = excluded.version, deploy_id = excluded.deploy_id, updated_at = excluded.updated_at`,
		r.Project, r.Env, r.Unit, r.Release, r.Version, r.DeployID, nanos(r.Updated))
	return wrap("put unit release of "+r.Unit, err)
}

// UnitReleases returns what each unit of an environment runs, by unit name.
func (s *Store) UnitReleases(ctx context.Context, project, env string) ([]pipeline.UnitRelease, error) {
	rs, err := scanAll(ctx, s.r, func(sc scanner) (pipeline.UnitRelease, error) {
		var r pipeline.UnitRelease
		err := sc.Scan(&r.Project, &r.Env, &r.Unit, &r.Release, &r.Version, &r.DeployID, scanNanos(&r.Updated))
		return r, err
	}, `SELECT project, env, unit, release, version, deploy_id, updated_at
		FROM unit_releases WHERE project = ? AND env = ? ORDER BY unit`, project, env)
	return rs, wrap(fmt.Sprintf("unit releases of %s %s", project, env), err)
}
