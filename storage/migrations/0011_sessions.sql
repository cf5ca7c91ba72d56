-- 0011: what the web console remembers about sign-ins across restarts.

-- Sessions signed out before they expire: their cookies are refused until
-- then, and the row is forgotten after.
CREATE TABLE revoked_sessions (
	id      TEXT    NOT NULL PRIMARY KEY, -- the session's nonce
	expires INTEGER NOT NULL              -- when its cookie expires anyway
) STRICT;

CREATE INDEX revoked_sessions_expires ON revoked_sessions (expires);

-- Recent failed sign-ins, for throttling. The key is a digest of what is
-- throttled (a name typed, a client address), so that a password typed
-- into the name field is never stored.
CREATE TABLE sign_in_failures (
	key TEXT    NOT NULL,
	at  INTEGER NOT NULL
) STRICT;

CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);
