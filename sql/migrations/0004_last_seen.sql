-- Each user's (and each user's per tool) last active UTC day, kept by the
-- consumer when a (day, user) pair is new. For a window that ends today,
-- the users active in it are exactly those last seen on or after its
-- first day: an index range count instead of a DISTINCT over every day.
CREATE TABLE user_last_seen (
  user_id_hash TEXT PRIMARY KEY,
  day          TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX user_last_seen_day ON user_last_seen (day);

CREATE TABLE tool_user_last_seen (
  tool_name    TEXT NOT NULL,
  user_id_hash TEXT NOT NULL,
  day          TEXT NOT NULL,
  PRIMARY KEY (tool_name, user_id_hash)
) WITHOUT ROWID;

CREATE INDEX tool_user_last_seen_day ON tool_user_last_seen (day, tool_name);

INSERT INTO user_last_seen SELECT user_id_hash, MAX(day) FROM user_daily GROUP BY user_id_hash;

INSERT INTO tool_user_last_seen SELECT tool_name, user_id_hash, MAX(day) FROM tool_user_daily GROUP BY tool_name, user_id_hash;
