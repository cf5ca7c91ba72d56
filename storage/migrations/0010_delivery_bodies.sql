-- 0010: delivery bodies move to a table of their own. Marking a delivery
-- processed then rewrites its small row, not its body too, and dropping a
-- body after its retention deletes a row instead of leaving free pages in
-- the middle of the deliveries.
CREATE TABLE delivery_bodies (
	delivery INTEGER PRIMARY KEY REFERENCES deliveries (id) ON DELETE CASCADE,
	body     BLOB    NOT NULL,
	encoding TEXT    NOT NULL -- '' as it came, 'deflate' or 'zstd'
) STRICT;

INSERT INTO delivery_bodies (delivery, body, encoding)
	SELECT id, body, body_encoding FROM deliveries WHERE body IS NOT NULL;

DROP INDEX deliveries_bodies;
ALTER TABLE deliveries DROP COLUMN body;
ALTER TABLE deliveries DROP COLUMN body_encoding;
