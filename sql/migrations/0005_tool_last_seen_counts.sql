-- How many users of each tool were last seen on each day: the users of a
-- tool in a window that ends now are the sum over the window's days, a few
-- rows per tool instead of every (tool, user) pair. Kept by the consumer
-- when a user's last day for a tool moves.
CREATE TABLE tool_last_seen_counts (
  tool_name TEXT    NOT NULL,
  day       TEXT    NOT NULL,
  users     INTEGER NOT NULL,
  PRIMARY KEY (tool_name, day)
) WITHOUT ROWID;

CREATE INDEX tool_last_seen_counts_day ON tool_last_seen_counts (day);

INSERT INTO tool_last_seen_counts SELECT tool_name, day, COUNT(*) FROM tool_user_last_seen GROUP BY 1, 2;
