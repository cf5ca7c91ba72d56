-- 0013: announcements. What ferry said in a project's chat that is no
-- deploy's card (a promotion cancelled, a freeze window opened or closed,
-- a lock expired), by a key that makes it said once, across restarts.
CREATE TABLE announcements (
	key        TEXT    PRIMARY KEY,
	project    TEXT    NOT NULL,
	text       TEXT    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
