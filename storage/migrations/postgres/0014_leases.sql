-- 0014: leases (as SQLite's 0014_leases.sql).
CREATE TABLE leases (
	name       TEXT   PRIMARY KEY,
	owner      TEXT   NOT NULL,
	generation BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
