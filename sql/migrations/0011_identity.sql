-- The identity of the database: a random id made with the file, and the name
-- of the durable JetStream consumer that writes it. The name is derived from
-- the id, so that two databases fed from one stream never share a durable
-- (each reads the whole stream once, at its own pace). A database that
-- already held data when this migration ran keeps the one name every
-- database used before it, so that its consumer carries on from its
-- acknowledged position instead of reading the stream again. One row.

CREATE TABLE identity (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  database_id TEXT    NOT NULL,
  durable     TEXT    NOT NULL,
  created_at  INTEGER NOT NULL -- unix ms
);

INSERT INTO identity (id, database_id, durable, created_at)
SELECT 1, new_id,
       CASE WHEN EXISTS (SELECT 1 FROM skill_usage_events)
              OR EXISTS (SELECT 1 FROM dead_letters)
              OR EXISTS (SELECT 1 FROM tool_daily)
            THEN 'trackskills-sqlite'
            ELSE 'trackskills-sqlite-' || new_id END,
       CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
FROM (SELECT lower(hex(randomblob(8))) AS new_id);
