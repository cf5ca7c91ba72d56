-- 0014: leases. A replica's claim on work shared with other replicas (a
-- running deploy, the schedules' leadership) until expires_at; taking an
-- expired lease moves its generation on, and writes under the lease are
-- fenced by it.
CREATE TABLE leases (
	name       TEXT    PRIMARY KEY,
	owner      TEXT    NOT NULL,
	generation INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
