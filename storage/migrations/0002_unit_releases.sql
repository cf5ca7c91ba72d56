-- What each unit (host, pod, directory) of an environment runs now, as far
-- as ferry knows: written when a deploy installs a release on the unit and
-- when a rollback returns it, so the board shows a half-finished canary.
CREATE TABLE unit_releases (
	project    TEXT    NOT NULL,
	env        TEXT    NOT NULL,
	unit       TEXT    NOT NULL,
	release    TEXT    NOT NULL, -- "" when no release is current
	version    TEXT    NOT NULL,
	deploy_id  INTEGER NOT NULL, -- the deploy that put it there
	updated_at INTEGER,
	PRIMARY KEY (project, env, unit)
) STRICT;
