-- Coverage: which sources (hook, otlp, import, api...) report the tool
-- calls. A call two sources report is one row of skill_usage_events,
-- stored from the first; these tables keep what that row does not say.
--
-- source_daily counts the calls each source stored first, per day, as
-- the other rollups count calls (held with them).
CREATE TABLE source_daily (
  day    TEXT    NOT NULL,
  source TEXT    NOT NULL,
  calls  INTEGER NOT NULL,
  PRIMARY KEY (day, source)
) WITHOUT ROWID;

-- call_sources has a row for each call that more than one source
-- reported: the day of the call, the source stored first, and the set of
-- every source that reported it (a bit per source, in the order of
-- trackskills.Sources). A redelivery ORs in bits already set: it changes
-- nothing.
CREATE TABLE call_sources (
  id      NOT NULL PRIMARY KEY, -- the event id, as skill_usage_events.event_id
  day     TEXT    NOT NULL,
  first   TEXT    NOT NULL,
  sources INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX call_sources_day ON call_sources (day);
