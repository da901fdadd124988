-- Cohorts: each user's first day, and presence per ISO week (Monday,
-- YYYY-MM-DD), kept by the consumer when a (day, user) pair is new, so
-- that /analytics/cohorts reads a few rows per user instead of every day.
CREATE TABLE user_first_seen (
  user_id_hash TEXT PRIMARY KEY,
  day          TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX user_first_seen_day ON user_first_seen (day);

CREATE TABLE user_weekly (
  week         TEXT NOT NULL,
  user_id_hash TEXT NOT NULL,
  PRIMARY KEY (week, user_id_hash)
) WITHOUT ROWID;

INSERT INTO user_first_seen SELECT user_id_hash, MIN(day) FROM user_daily GROUP BY user_id_hash;

INSERT OR IGNORE INTO user_weekly SELECT date(day, 'weekday 0', '-6 days'), user_id_hash FROM user_daily;
