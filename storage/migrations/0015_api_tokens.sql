-- 0015: personal API tokens. A person makes them on the console's Tokens
-- page; ferry keeps the SHA-256 digest of each (hex), never the token.
CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_name    TEXT    NOT NULL,
	name         TEXT    NOT NULL,
	digest       TEXT    NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,          -- NULL: never
	last_used_at INTEGER,          -- NULL: never used
	revoked_at   INTEGER           -- NULL: in use
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens (user_name);
