-- The sources whose events a session's rows came from, a bit per source
-- (as call_sources.sources): the sessions telemetry saw and the hook did
-- not are counted from here, not from the raw events. Sessions stored
-- before this migration have none set.
ALTER TABLE run_sessions ADD COLUMN sources INTEGER NOT NULL DEFAULT 0;
