-- MCP servers as a dimension. A tool call named mcp__<server>__<tool> keeps
-- its server and tool in columns of the raw row (NULL for any other tool;
-- mcp_tool NULL too for a name that names no tool), split on the first and
-- the last "__" by the mcp_server_of and mcp_tool_of SQL functions, the
-- same split as ingest's. The consumer keeps the rollups below in the same
-- transaction as the raw rows; this migration fills everything from the
-- rows stored before it.
ALTER TABLE skill_usage_events ADD COLUMN mcp_server TEXT;
ALTER TABLE skill_usage_events ADD COLUMN mcp_tool TEXT;

UPDATE skill_usage_events SET mcp_server = mcp_server_of(tool_name), mcp_tool = mcp_tool_of(tool_name)
WHERE tool_name LIKE 'mcp\_\_%' ESCAPE '\';

-- Per hour (Unix ms of its start) or UTC day x server x tool ('' when the
-- name has none), as tool_hourly and tool_daily are per tool.
CREATE TABLE mcp_hourly (
  hour           INTEGER NOT NULL,
  mcp_server     TEXT    NOT NULL,
  mcp_tool       TEXT    NOT NULL,
  invocations    INTEGER NOT NULL,
  successes      INTEGER NOT NULL,
  errors         INTEGER NOT NULL,
  timeouts       INTEGER NOT NULL,
  duration_count INTEGER NOT NULL,
  duration_sum   INTEGER NOT NULL,
  duration_max   INTEGER,
  latency_hist   BLOB,
  PRIMARY KEY (hour, mcp_server, mcp_tool)
) WITHOUT ROWID;

CREATE TABLE mcp_daily (
  day            TEXT    NOT NULL,
  mcp_server     TEXT    NOT NULL,
  mcp_tool       TEXT    NOT NULL,
  invocations    INTEGER NOT NULL,
  successes      INTEGER NOT NULL,
  errors         INTEGER NOT NULL,
  timeouts       INTEGER NOT NULL,
  duration_count INTEGER NOT NULL,
  duration_sum   INTEGER NOT NULL,
  duration_max   INTEGER,
  latency_hist   BLOB,
  PRIMARY KEY (day, mcp_server, mcp_tool)
) WITHOUT ROWID;

-- Failures per UTC day x server x tool x status (error or timeout) x
-- error type ('' when the event had none).
CREATE TABLE mcp_daily_errors (
  day        TEXT    NOT NULL,
  mcp_server TEXT    NOT NULL,
  mcp_tool   TEXT    NOT NULL,
  status     TEXT    NOT NULL,
  error_type TEXT    NOT NULL,
  failures   INTEGER NOT NULL,
  PRIMARY KEY (day, mcp_server, mcp_tool, status, error_type)
) WITHOUT ROWID;

-- The users of each server, kept as those of each tool are: presence per
-- UTC day (days since 1970-01-01, as tool_user_daily), each user's last
-- day with a server and how many users of a server were last seen on each
-- day (for windows that end now: a sum over the window's days instead of
-- a DISTINCT over every user-day), and each server's users per day.
CREATE TABLE mcp_user_daily (
  day          INTEGER NOT NULL,
  mcp_server   TEXT    NOT NULL,
  user_id_hash BLOB    NOT NULL,
  PRIMARY KEY (day, mcp_server, user_id_hash)
) WITHOUT ROWID;

CREATE TABLE mcp_user_last_seen (
  mcp_server   TEXT NOT NULL,
  user_id_hash BLOB NOT NULL,
  day          TEXT NOT NULL,
  PRIMARY KEY (mcp_server, user_id_hash)
) WITHOUT ROWID;

CREATE TABLE mcp_last_seen_counts (
  day        TEXT    NOT NULL,
  mcp_server TEXT    NOT NULL,
  users      INTEGER NOT NULL,
  PRIMARY KEY (day, mcp_server)
) WITHOUT ROWID;

CREATE TABLE mcp_daily_users (
  day        TEXT    NOT NULL,
  mcp_server TEXT    NOT NULL,
  users      INTEGER NOT NULL,
  PRIMARY KEY (day, mcp_server)
) WITHOUT ROWID;

INSERT INTO mcp_hourly
SELECT (timestamp / 3600000) * 3600000, mcp_server, COALESCE(mcp_tool, ''), COUNT(*),
       SUM(status = 'success'), SUM(status = 'error'), SUM(status = 'timeout'),
       COUNT(duration_ms), COALESCE(SUM(duration_ms), 0), MAX(duration_ms),
       CASE WHEN COUNT(duration_ms) > 0 THEN hist_of(duration_ms) END
FROM skill_usage_events WHERE mcp_server IS NOT NULL GROUP BY 1, 2, 3;

INSERT INTO mcp_daily
SELECT strftime('%Y-%m-%d', timestamp / 1000, 'unixepoch'), mcp_server, COALESCE(mcp_tool, ''), COUNT(*),
       SUM(status = 'success'), SUM(status = 'error'), SUM(status = 'timeout'),
       COUNT(duration_ms), COALESCE(SUM(duration_ms), 0), MAX(duration_ms),
       CASE WHEN COUNT(duration_ms) > 0 THEN hist_of(duration_ms) END
FROM skill_usage_events WHERE mcp_server IS NOT NULL GROUP BY 1, 2, 3;

INSERT INTO mcp_daily_errors
SELECT strftime('%Y-%m-%d', timestamp / 1000, 'unixepoch'), mcp_server, COALESCE(mcp_tool, ''), status,
       COALESCE(error_type, ''), COUNT(*)
FROM skill_usage_events WHERE mcp_server IS NOT NULL AND status <> 'success' GROUP BY 1, 2, 3, 4, 5;

INSERT INTO mcp_user_daily
SELECT DISTINCT timestamp / 86400000, mcp_server, user_id_hash
FROM skill_usage_events WHERE mcp_server IS NOT NULL;

INSERT INTO mcp_user_last_seen
SELECT mcp_server, user_id_hash, strftime('%Y-%m-%d', MAX(day) * 86400, 'unixepoch')
FROM mcp_user_daily GROUP BY 1, 2;

INSERT INTO mcp_last_seen_counts SELECT day, mcp_server, COUNT(*) FROM mcp_user_last_seen GROUP BY 1, 2;

INSERT INTO mcp_daily_users
SELECT strftime('%Y-%m-%d', day * 86400, 'unixepoch'), mcp_server, COUNT(*) FROM mcp_user_daily GROUP BY 1, 2;
