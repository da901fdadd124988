-- The run times of a skill's day move from one row per histogram bucket
-- (skill_daily_walls, about 25 rows per day and skill) into the day's row
-- of skill_daily, so that a window's run times are read from one row per
-- day and skill. A run's time can change after it ended (a late event
-- re-walks its session), and the buckets of a histogram only add up: walls
-- counts the ended runs in their buckets as they end, walls_off the runs
-- taken off a bucket again, and the run times of a window are the sum of
-- its walls less the sum of its walls_off (trackskills.Histogram.Subtract).
ALTER TABLE skill_daily ADD COLUMN walls BLOB;
ALTER TABLE skill_daily ADD COLUMN walls_off BLOB;

UPDATE skill_daily SET walls = (
  SELECT hist_buckets(w.bucket, w.runs) FROM skill_daily_walls w
  WHERE w.day = skill_daily.day AND w.skill = skill_daily.skill AND w.runs > 0);

DROP TABLE skill_daily_walls;
