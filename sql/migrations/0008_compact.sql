-- Compact storage (sql/keys.go): identity hashes as their first 8 bytes
-- (BLOB) instead of 32 hex characters, and event ids that are canonical
-- ULIDs as their 16 bytes. The raw table and every table keyed by a user
-- hash are rebuilt; on a large database this takes a while (two and a half
-- minutes per 10 million events here), and the file only shrinks after a VACUUM.

CREATE TABLE skill_usage_events_new (
  id                  INTEGER PRIMARY KEY,
  event_id            NOT NULL UNIQUE, -- a ULID as 16 bytes, any other id as text
  user_id_hash        BLOB    NOT NULL, -- 8 bytes
  session_hash        BLOB,             -- 8 bytes
  tool_name           TEXT    NOT NULL,
  tool_category       TEXT    NOT NULL DEFAULT 'default',
  timestamp           INTEGER NOT NULL,
  duration_ms         INTEGER,
  status              TEXT    NOT NULL,
  error_type          TEXT,
  error_message       TEXT,
  request_size_bytes  INTEGER,
  response_size_bytes INTEGER,
  metadata            TEXT,
  source              TEXT    NOT NULL DEFAULT 'api',
  received_at         INTEGER NOT NULL,
  stream_seq          INTEGER NOT NULL
);
INSERT INTO skill_usage_events_new
SELECT id, event_key(event_id), hash8(user_id_hash), hash8(session_hash), tool_name, tool_category,
       timestamp, duration_ms, status, error_type, error_message, request_size_bytes,
       response_size_bytes, metadata, source, received_at, stream_seq
FROM skill_usage_events ORDER BY id;
DROP TABLE skill_usage_events;
ALTER TABLE skill_usage_events_new RENAME TO skill_usage_events;
CREATE INDEX skill_usage_events_timestamp ON skill_usage_events (timestamp);
CREATE INDEX skill_usage_events_failures ON skill_usage_events (timestamp) WHERE status <> 'success';
CREATE INDEX skill_usage_events_tool_failures ON skill_usage_events (tool_name, timestamp) WHERE status <> 'success';

CREATE TABLE user_daily_new (
  day          TEXT NOT NULL,
  user_id_hash BLOB NOT NULL,
  PRIMARY KEY (day, user_id_hash)
) WITHOUT ROWID;
INSERT OR IGNORE INTO user_daily_new SELECT day, hash8(user_id_hash) FROM user_daily;
DROP TABLE user_daily;
ALTER TABLE user_daily_new RENAME TO user_daily;

CREATE TABLE tool_user_daily_new (
  day          TEXT NOT NULL,
  tool_name    TEXT NOT NULL,
  user_id_hash BLOB NOT NULL,
  PRIMARY KEY (day, tool_name, user_id_hash)
) WITHOUT ROWID;
INSERT OR IGNORE INTO tool_user_daily_new SELECT day, tool_name, hash8(user_id_hash) FROM tool_user_daily;
DROP TABLE tool_user_daily;
ALTER TABLE tool_user_daily_new RENAME TO tool_user_daily;

CREATE TABLE user_first_seen_new (
  user_id_hash BLOB PRIMARY KEY,
  day          TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO user_first_seen_new SELECT hash8(user_id_hash), MIN(day) FROM user_first_seen GROUP BY 1;
DROP TABLE user_first_seen;
ALTER TABLE user_first_seen_new RENAME TO user_first_seen;
CREATE INDEX user_first_seen_day ON user_first_seen (day);

CREATE TABLE user_weekly_new (
  week         TEXT NOT NULL,
  user_id_hash BLOB NOT NULL,
  PRIMARY KEY (week, user_id_hash)
) WITHOUT ROWID;
INSERT OR IGNORE INTO user_weekly_new SELECT week, hash8(user_id_hash) FROM user_weekly;
DROP TABLE user_weekly;
ALTER TABLE user_weekly_new RENAME TO user_weekly;

CREATE TABLE user_last_seen_new (
  user_id_hash BLOB PRIMARY KEY,
  day          TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO user_last_seen_new SELECT hash8(user_id_hash), MAX(day) FROM user_last_seen GROUP BY 1;
DROP TABLE user_last_seen;
ALTER TABLE user_last_seen_new RENAME TO user_last_seen;
CREATE INDEX user_last_seen_day ON user_last_seen (day);

CREATE TABLE tool_user_last_seen_new (
  tool_name    TEXT NOT NULL,
  user_id_hash BLOB NOT NULL,
  day          TEXT NOT NULL,
  PRIMARY KEY (tool_name, user_id_hash)
) WITHOUT ROWID;
INSERT INTO tool_user_last_seen_new SELECT tool_name, hash8(user_id_hash), MAX(day) FROM tool_user_last_seen GROUP BY 1, 2;
DROP TABLE tool_user_last_seen;
ALTER TABLE tool_user_last_seen_new RENAME TO tool_user_last_seen;
CREATE INDEX tool_user_last_seen_day ON tool_user_last_seen (day, tool_name);
