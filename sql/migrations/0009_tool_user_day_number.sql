-- tool_user_daily is the largest rollup (about 0.6 rows per raw event):
-- its day becomes the number of days since 1970-01-01 (an INTEGER of 2
-- bytes) instead of 'YYYY-MM-DD' (10). And tool_user_last_seen loses its
-- (day, tool_name) index, which only the retention job used: that job now
-- scans the table, once an hour.

CREATE TABLE tool_user_daily_new (
  day          INTEGER NOT NULL, -- days since 1970-01-01, UTC
  tool_name    TEXT    NOT NULL,
  user_id_hash BLOB    NOT NULL,
  PRIMARY KEY (day, tool_name, user_id_hash)
) WITHOUT ROWID;
INSERT INTO tool_user_daily_new
SELECT CAST(julianday(day) - 2440587.5 AS INTEGER), tool_name, user_id_hash FROM tool_user_daily ORDER BY 1, 2, 3;
DROP TABLE tool_user_daily;
ALTER TABLE tool_user_daily_new RENAME TO tool_user_daily;

DROP INDEX tool_user_last_seen_day;
