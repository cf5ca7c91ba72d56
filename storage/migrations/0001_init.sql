-- 0001: ferry's first schema.
--
-- Times are INTEGER unix nanoseconds in UTC; NULL is the zero time.
-- Tables are STRICT so a value of the wrong type is an error, not a surprise.

CREATE TABLE deploys (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even after a delete
	project            TEXT    NOT NULL,
	env                TEXT    NOT NULL,
	kind               TEXT    NOT NULL,
	ref                TEXT    NOT NULL,
	commit_hash        TEXT    NOT NULL,
	version            TEXT    NOT NULL,
	release_name       TEXT    NOT NULL,
	previous_version   TEXT    NOT NULL,
	previous_release   TEXT    NOT NULL,
	state              TEXT    NOT NULL,
	requester          TEXT    NOT NULL,
	reason             TEXT    NOT NULL,
	forced             INTEGER NOT NULL CHECK (forced IN (0, 1)),
	batch              INTEGER NOT NULL,
	batches            INTEGER NOT NULL,
	approvals_required INTEGER NOT NULL,
	approval_deadline  INTEGER,
	bake_until         INTEGER,
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL,
	started_at         INTEGER,
	finished_at        INTEGER
) STRICT;

-- Deploys(filter) by project, project and env, and the active deploy of an
-- environment (project, env, state IN ...); the engine's scans by state.
CREATE INDEX deploys_project_env_state ON deploys (project, env, state);
CREATE INDEX deploys_state ON deploys (state);

CREATE TABLE transitions (
	id         INTEGER PRIMARY KEY,
	deploy_id  INTEGER NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
	from_state TEXT    NOT NULL,
	to_state   TEXT    NOT NULL,
	event      TEXT    NOT NULL,
	actor      TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	at         INTEGER NOT NULL
) STRICT;

CREATE INDEX transitions_deploy ON transitions (deploy_id, id);

CREATE TABLE units (
	deploy_id   INTEGER NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
	name        TEXT    NOT NULL,
	pos         INTEGER NOT NULL, -- order of the first put, kept by later puts
	batch       INTEGER NOT NULL,
	state       TEXT    NOT NULL,
	step        TEXT    NOT NULL,
	previous    TEXT    NOT NULL,
	error       TEXT    NOT NULL,
	started_at  INTEGER,
	finished_at INTEGER,
	PRIMARY KEY (deploy_id, name)
) STRICT;

CREATE TABLE logs (
	deploy_id INTEGER NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
	seq       INTEGER NOT NULL, -- 1, 2, 3 … per deploy
	unit      TEXT    NOT NULL,
	step      TEXT    NOT NULL,
	text      TEXT    NOT NULL,
	at        INTEGER,
	PRIMARY KEY (deploy_id, seq)
) STRICT;

CREATE TABLE approvals (
	id        INTEGER PRIMARY KEY, -- the order approvals arrived in
	deploy_id INTEGER NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
	approver  TEXT    NOT NULL,
	at        INTEGER,
	UNIQUE (deploy_id, approver)
) STRICT;

CREATE TABLE locks (
	project    TEXT NOT NULL, -- "*" for every project
	env        TEXT NOT NULL,
	owner      TEXT NOT NULL,
	reason     TEXT NOT NULL,
	created_at INTEGER,
	expires_at INTEGER,
	PRIMARY KEY (project, env)
) STRICT;

-- No foreign key to deploys: the audit log outlives what it talks about,
-- and deploy_id is 0 for entries about no deploy (locks, links).
CREATE TABLE audit (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	at        INTEGER,
	actor     TEXT    NOT NULL,
	action    TEXT    NOT NULL,
	project   TEXT    NOT NULL,
	env       TEXT    NOT NULL,
	deploy_id INTEGER NOT NULL,
	detail    TEXT    NOT NULL
) STRICT;

-- Webhook deliveries, recorded by ingress before it acknowledges, so that a
-- redelivery is recognised and ignored. Delivery IDs are unique per platform.
CREATE TABLE deliveries (
	id          INTEGER PRIMARY KEY,
	platform    TEXT    NOT NULL,
	delivery_id TEXT    NOT NULL,
	received_at INTEGER NOT NULL,
	event       TEXT    NOT NULL,
	body        BLOB,
	UNIQUE (platform, delivery_id)
) STRICT;
