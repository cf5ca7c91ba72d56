-- 0005: what the dashboards read, and the digests they sent.

-- The committer time of a deploy's commit, read from the repository when
-- the deploy is requested: where lead time for changes starts.
ALTER TABLE deploys ADD COLUMN committed_at INTEGER;

-- The dashboards select deploys by when they started, in every scope or
-- in one project.
CREATE INDEX deploys_started ON deploys (started_at);
CREATE INDEX deploys_project_started ON deploys (project, started_at);

-- One row per digest ferry set out to send: a digest (its channel) and the
-- time it was scheduled for. The primary key makes two ferrys, or a ferry
-- and its restart, send one digest once.
CREATE TABLE digests (
	name         TEXT    NOT NULL, -- the digest: chat and channel, like slack:#deploys
	scheduled_at INTEGER NOT NULL, -- the time the schedule named
	period_from  INTEGER NOT NULL,
	period_to    INTEGER NOT NULL,
	claimed_at   INTEGER NOT NULL, -- when a ferry began to send it
	sent_at      INTEGER,          -- NULL until the chat took it
	late         INTEGER NOT NULL CHECK (late IN (0, 1)),
	PRIMARY KEY (name, scheduled_at)
) STRICT;
