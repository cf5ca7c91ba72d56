-- 0003: what chat adapters remember between restarts.

-- The message a chat keeps up to date for each deploy, so that a restarted
-- ferry goes on editing the same message instead of posting a new one.
CREATE TABLE chat_messages (
	platform   TEXT    NOT NULL, -- "slack", "dingtalk", …
	deploy_id  INTEGER NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
	channel    TEXT    NOT NULL, -- the channel's ID on the platform
	ts         TEXT    NOT NULL, -- the message's ID on the platform (Slack: its ts)
	notified   TEXT    NOT NULL, -- the state the requester was last told about directly; "" for none
	updated_at INTEGER,
	PRIMARY KEY (platform, deploy_id)
) STRICT;

-- Chat accounts linked to ferry users by the link command, for people that
-- ferry.yaml does not list. ferry.yaml wins over a link.
CREATE TABLE links (
	platform   TEXT NOT NULL,
	chat_id    TEXT NOT NULL, -- the account's ID on the platform (Slack: U123)
	user       TEXT NOT NULL, -- the ferry user
	created_at INTEGER,
	PRIMARY KEY (platform, chat_id)
) STRICT;

CREATE INDEX links_user ON links (platform, user);
