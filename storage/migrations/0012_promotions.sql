-- 0012: promotions. A row per version a promotion rule of ferry.yaml moves
-- on from one environment to the next: soaking (or waiting for its
-- schedule), promoted with the deploy it made, or cancelled and why. A
-- version is promoted once by each rule: the row is unique by its source.
CREATE TABLE promotions (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	project    TEXT    NOT NULL,
	from_env   TEXT    NOT NULL,
	to_env     TEXT    NOT NULL,
	source     INTEGER NOT NULL,           -- the succeeded deploy in from_env it promotes
	version    TEXT    NOT NULL,
	state      TEXT    NOT NULL,           -- soaking, promoted, cancelled
	reason     TEXT    NOT NULL DEFAULT '',
	due_at     INTEGER NOT NULL,           -- unix ns: when it promotes
	checked_at INTEGER NOT NULL DEFAULT 0, -- unix ns: its last passing health check
	deploy_id  INTEGER NOT NULL DEFAULT 0, -- the deploy it made in to_env
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (project, from_env, to_env, source)
) STRICT;
CREATE INDEX promotions_state ON promotions (state, project);
