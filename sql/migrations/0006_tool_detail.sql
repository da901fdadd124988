-- For /analytics/tools/{name}. tool_daily_users counts the users of each
-- tool on each UTC day, kept by the consumer when a (day, tool, user) pair
-- is new: the tool_user_daily key (day, tool, user) cannot seek to one tool
-- across a range of days, so counting there read every tool's user-days.
CREATE TABLE tool_daily_users (
  tool_name TEXT    NOT NULL,
  day       TEXT    NOT NULL,
  users     INTEGER NOT NULL,
  PRIMARY KEY (tool_name, day)
) WITHOUT ROWID;

INSERT INTO tool_daily_users SELECT tool_name, day, COUNT(*) FROM tool_user_daily GROUP BY 1, 2;

-- A tool's failures of a window, for its error types.
CREATE INDEX skill_usage_events_tool_failures ON skill_usage_events (tool_name, timestamp) WHERE status <> 'success';
