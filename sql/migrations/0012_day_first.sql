-- The per-tool-per-day rollups become keyed by day first, as tool_daily
-- is: a batch writes few days and many tools, so that its rows now share a
-- handful of pages instead of taking one page per tool (on a history of
-- 90 days, a third of the pages a batch wrote). A read of one tool over a
-- window scans the window's days, as tool_daily's reads do; these tables
-- hold one row per tool per day. tool_last_seen_counts loses its index on
-- day: its key now starts with day.

CREATE TABLE tool_daily_users_new (
  day       TEXT    NOT NULL,
  tool_name TEXT    NOT NULL,
  users     INTEGER NOT NULL,
  PRIMARY KEY (day, tool_name)
) WITHOUT ROWID;
INSERT INTO tool_daily_users_new SELECT day, tool_name, users FROM tool_daily_users ORDER BY day, tool_name;
DROP TABLE tool_daily_users;
ALTER TABLE tool_daily_users_new RENAME TO tool_daily_users;

CREATE TABLE tool_last_seen_counts_new (
  day       TEXT    NOT NULL,
  tool_name TEXT    NOT NULL,
  users     INTEGER NOT NULL,
  PRIMARY KEY (day, tool_name)
) WITHOUT ROWID;
INSERT INTO tool_last_seen_counts_new SELECT day, tool_name, users FROM tool_last_seen_counts ORDER BY day, tool_name;
DROP TABLE tool_last_seen_counts;
ALTER TABLE tool_last_seen_counts_new RENAME TO tool_last_seen_counts;

CREATE TABLE tool_daily_errors_new (
  day           TEXT    NOT NULL,
  tool_name     TEXT    NOT NULL,
  tool_category TEXT    NOT NULL,
  error_type    TEXT    NOT NULL,
  failures      INTEGER NOT NULL,
  PRIMARY KEY (day, tool_name, tool_category, error_type)
) WITHOUT ROWID;
INSERT INTO tool_daily_errors_new SELECT day, tool_name, tool_category, error_type, failures FROM tool_daily_errors
ORDER BY day, tool_name, tool_category, error_type;
DROP TABLE tool_daily_errors;
ALTER TABLE tool_daily_errors_new RENAME TO tool_daily_errors;
