-- Raw events: the seed's columns plus the pipeline's own. Times are Unix
-- milliseconds UTC. event_id is the idempotency key: redelivered and retried
-- events hit the UNIQUE constraint and are ignored.
CREATE TABLE skill_usage_events (
  id                  INTEGER PRIMARY KEY,
  event_id            TEXT    NOT NULL UNIQUE,
  user_id_hash        TEXT    NOT NULL,
  session_hash        TEXT,
  tool_name           TEXT    NOT NULL,
  tool_category       TEXT    NOT NULL DEFAULT 'default',
  timestamp           INTEGER NOT NULL,
  duration_ms         INTEGER,
  status              TEXT    NOT NULL,
  error_type          TEXT,
  error_message       TEXT,
  request_size_bytes  INTEGER,
  response_size_bytes INTEGER,
  metadata            TEXT,
  source              TEXT    NOT NULL DEFAULT 'api',
  received_at         INTEGER NOT NULL,
  stream_seq          INTEGER NOT NULL
);

CREATE INDEX skill_usage_events_timestamp ON skill_usage_events (timestamp);

-- Messages of the stream that could not be decoded, kept with the reason so
-- that nothing is dropped silently. One row per stream message.
CREATE TABLE dead_letters (
  id          INTEGER PRIMARY KEY,
  stream_seq  INTEGER NOT NULL UNIQUE,
  subject     TEXT    NOT NULL,
  reason      TEXT    NOT NULL,
  headers     TEXT,
  payload     BLOB,
  stored_at   INTEGER NOT NULL
);
