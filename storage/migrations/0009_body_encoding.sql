-- 0009: bodies are stored compressed (deflate), which the deliveries
-- before this migration are not: '' is a body as it came.
ALTER TABLE deliveries ADD COLUMN body_encoding TEXT NOT NULL DEFAULT '';
