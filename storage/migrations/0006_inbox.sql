-- 0006: the inbox. A delivery is stored before ferry acknowledges it and
-- marked processed when its handling ends; what is acknowledged and not yet
-- processed is handled again at start. Bodies are dropped after a
-- retention, delivery IDs after a longer one.

-- The signature of the body, for platforms whose signature covers no
-- timestamp (GitHub): the same body under a new delivery ID is a replay.
ALTER TABLE deliveries ADD COLUMN body_hash BLOB;
-- When its handling ended, and how; NULL while it is still owed.
ALTER TABLE deliveries ADD COLUMN processed_at INTEGER;
ALTER TABLE deliveries ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
-- Who is handling it, until when, and how many handlings began.
ALTER TABLE deliveries ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;

-- Deliveries stored before this migration were handled, or lost, by the
-- ferry that took them: nothing here can tell which.
UPDATE deliveries SET processed_at = received_at, outcome = 'before the inbox';

CREATE INDEX deliveries_pending ON deliveries (platform, id) WHERE processed_at IS NULL;
CREATE INDEX deliveries_hash ON deliveries (platform, body_hash) WHERE body_hash IS NOT NULL;
CREATE INDEX deliveries_bodies ON deliveries (processed_at) WHERE body IS NOT NULL;
CREATE INDEX deliveries_received ON deliveries (received_at);

-- A deploy asked for by a delivery carries its key (the delivery, the
-- project, the environment and the kind), so that a delivery handled twice
-- asks once.
ALTER TABLE deploys ADD COLUMN request_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX deploys_request_key ON deploys (request_key) WHERE request_key != '';
