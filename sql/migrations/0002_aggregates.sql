-- Aggregates kept by the consumer in the same transaction as the raw rows,
-- counting only rows actually inserted (redeliveries are ignored). Every
-- analytics query but the error list and the export reads these.

-- Per hour x tool x category. hour is the Unix ms of the hour's start, UTC.
-- latency_hist is a trackskills.Histogram (fixed log-spaced buckets), merged
-- on conflict by the hist_merge SQL function.
CREATE TABLE tool_hourly (
  hour           INTEGER NOT NULL,
  tool_name      TEXT    NOT NULL,
  tool_category  TEXT    NOT NULL,
  invocations    INTEGER NOT NULL,
  successes      INTEGER NOT NULL,
  errors         INTEGER NOT NULL,
  timeouts       INTEGER NOT NULL,
  duration_count INTEGER NOT NULL,
  duration_sum   INTEGER NOT NULL,
  duration_max   INTEGER,
  latency_hist   BLOB,
  PRIMARY KEY (hour, tool_name, tool_category)
) WITHOUT ROWID;

-- The same per UTC day (YYYY-MM-DD), so that long windows read few rows.
CREATE TABLE tool_daily (
  day            TEXT    NOT NULL,
  tool_name      TEXT    NOT NULL,
  tool_category  TEXT    NOT NULL,
  invocations    INTEGER NOT NULL,
  successes      INTEGER NOT NULL,
  errors         INTEGER NOT NULL,
  timeouts       INTEGER NOT NULL,
  duration_count INTEGER NOT NULL,
  duration_sum   INTEGER NOT NULL,
  duration_max   INTEGER,
  latency_hist   BLOB,
  PRIMARY KEY (day, tool_name, tool_category)
) WITHOUT ROWID;

-- Active users per UTC day (DAU, WAU, MAU, retention, cohorts): presence
-- only, so that a known user costs no write.
CREATE TABLE user_daily (
  day          TEXT NOT NULL,
  user_id_hash TEXT NOT NULL,
  PRIMARY KEY (day, user_id_hash)
) WITHOUT ROWID;

-- Users per tool per UTC day, presence only.
CREATE TABLE tool_user_daily (
  day          TEXT NOT NULL,
  tool_name    TEXT NOT NULL,
  user_id_hash TEXT NOT NULL,
  PRIMARY KEY (day, tool_name, user_id_hash)
) WITHOUT ROWID;

-- The error list reads raw events that are not successes, newest first.
CREATE INDEX skill_usage_events_failures ON skill_usage_events (timestamp) WHERE status <> 'success';

-- Backfill from events stored before this migration.
INSERT INTO tool_hourly
SELECT (timestamp / 3600000) * 3600000, tool_name, tool_category, COUNT(*),
       SUM(status = 'success'), SUM(status = 'error'), SUM(status = 'timeout'),
       COUNT(duration_ms), COALESCE(SUM(duration_ms), 0), MAX(duration_ms), hist_of(duration_ms)
FROM skill_usage_events GROUP BY 1, 2, 3;

INSERT INTO tool_daily
SELECT strftime('%Y-%m-%d', timestamp / 1000, 'unixepoch'), tool_name, tool_category, COUNT(*),
       SUM(status = 'success'), SUM(status = 'error'), SUM(status = 'timeout'),
       COUNT(duration_ms), COALESCE(SUM(duration_ms), 0), MAX(duration_ms), hist_of(duration_ms)
FROM skill_usage_events GROUP BY 1, 2, 3;

INSERT INTO user_daily
SELECT DISTINCT strftime('%Y-%m-%d', timestamp / 1000, 'unixepoch'), user_id_hash
FROM skill_usage_events;

INSERT INTO tool_user_daily
SELECT DISTINCT strftime('%Y-%m-%d', timestamp / 1000, 'unixepoch'), tool_name, user_id_hash
FROM skill_usage_events;
