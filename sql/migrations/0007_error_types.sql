-- Failures per UTC day x tool x category x error type (empty string when
-- the event had none), kept by the consumer, for the error types of a tool
-- over day windows without scanning raw failures.
CREATE TABLE tool_daily_errors (
  day           TEXT    NOT NULL,
  tool_name     TEXT    NOT NULL,
  tool_category TEXT    NOT NULL,
  error_type    TEXT    NOT NULL,
  failures      INTEGER NOT NULL,
  PRIMARY KEY (tool_name, day, tool_category, error_type)
) WITHOUT ROWID;

INSERT INTO tool_daily_errors
SELECT strftime('%Y-%m-%d', timestamp / 1000, 'unixepoch'), tool_name, tool_category, COALESCE(error_type, ''), COUNT(*)
FROM skill_usage_events WHERE status <> 'success' GROUP BY 1, 2, 3, 4;
