-- 0008: the outbox. What ferry owes a platform (a card to post or edit, a
-- direct message, a commit status) is a row, written in the commit of the
-- change that owes it and deleted once delivered; a row ferry gave up on
-- stays, dead, with its last error, until an admin retries it.
CREATE TABLE outbox (
	id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: IDs say the order notices were owed in
	platform      TEXT    NOT NULL,           -- the sink that delivers it: "slack", "github", "web", …
	dest          TEXT    NOT NULL,           -- where on the platform: "card 42", "sticky acme/demo#3"
	kind          TEXT    NOT NULL,           -- what it is, in its platform's words
	latest        INTEGER NOT NULL DEFAULT 0, -- an edit in place: pending rows of its dest fold into the newest
	deploy_id     INTEGER NOT NULL DEFAULT 0,
	state         TEXT    NOT NULL DEFAULT '', -- the deploy's state when it was owed
	payload       BLOB,
	created_at    INTEGER NOT NULL,           -- when it was first owed: the give-up clock
	attempts      INTEGER NOT NULL DEFAULT 0,
	not_before    INTEGER NOT NULL DEFAULT 0, -- unix ns: backoff, Retry-After
	last_error    TEXT    NOT NULL DEFAULT '',
	dead_at       INTEGER,                    -- when ferry gave up; NULL while pending
	claimed_until INTEGER NOT NULL DEFAULT 0  -- unix ns: being delivered until then
) STRICT;
CREATE INDEX outbox_dest ON outbox (platform, dest, id);
CREATE INDEX outbox_pending ON outbox (not_before) WHERE dead_at IS NULL;

-- What a destination made on its platform, for the next delivery to edit:
-- a Slack card's channel and ts, a pull request's comment ID, a GitHub
-- Deployment's ID.
CREATE TABLE outbox_refs (
	platform   TEXT    NOT NULL,
	dest       TEXT    NOT NULL,
	ref        TEXT    NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (platform, dest)
) STRICT;

-- The cards chat_messages remembered are the outbox's card destinations.
INSERT INTO outbox_refs (platform, dest, ref, updated_at)
	SELECT platform, 'card ' || deploy_id, channel || ' ' || ts, coalesce(updated_at, 0) FROM chat_messages;
DROP TABLE chat_messages;

-- Where a deploy was asked for (a pull request), for its platform to follow
-- it there; '' for none.
ALTER TABLE deploys ADD COLUMN origin TEXT NOT NULL DEFAULT '';
