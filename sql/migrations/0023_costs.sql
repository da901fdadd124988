-- Model requests and what they cost: api_request events, which Claude
-- Code's telemetry reports (api_request, api_error) and its transcripts
-- hold (an assistant message's usage), kept by the consumer from the
-- stream, so that a replay rebuilds them.
--
-- api_requests keeps one row per request, by its event id: a request
-- reported twice (a redelivery, or telemetry and a transcript naming the
-- same request) is stored and counted once. Its rows go with the raw
-- events' retention, by received_at.
CREATE TABLE api_requests (
  id                    NOT NULL PRIMARY KEY, -- the event id, stored as skill_usage_events.event_id
  ts                    INTEGER NOT NULL,     -- Unix ms of the request
  received_at           INTEGER NOT NULL,
  user_id_hash          BLOB    NOT NULL,
  session_hash          BLOB,
  source                TEXT    NOT NULL,     -- otlp, import, ...
  model                 TEXT    NOT NULL,
  skill                 TEXT    NOT NULL,     -- what Claude Code attributed the request to; '' for nothing
  plugin                TEXT    NOT NULL,
  agent                 TEXT    NOT NULL,
  mcp_server            TEXT    NOT NULL,
  failed                INTEGER NOT NULL,     -- 1 for an api_error
  cost_micros           INTEGER NOT NULL,     -- US dollars x 1,000,000
  input_tokens          INTEGER NOT NULL,
  output_tokens         INTEGER NOT NULL,
  cache_read_tokens     INTEGER NOT NULL,
  cache_creation_tokens INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX api_requests_received ON api_requests (received_at);

-- The requests of a day by what they are attributed to. Breakdowns per
-- skill, MCP server, model or plugin over a window sum these rows.
CREATE TABLE cost_daily (
  day                   TEXT    NOT NULL,
  skill                 TEXT    NOT NULL,
  plugin                TEXT    NOT NULL,
  mcp_server            TEXT    NOT NULL,
  model                 TEXT    NOT NULL,
  requests              INTEGER NOT NULL,
  failed                INTEGER NOT NULL,
  cost_micros           INTEGER NOT NULL,
  input_tokens          INTEGER NOT NULL,
  output_tokens         INTEGER NOT NULL,
  cache_read_tokens     INTEGER NOT NULL,
  cache_creation_tokens INTEGER NOT NULL,
  PRIMARY KEY (day, skill, plugin, mcp_server, model)
) WITHOUT ROWID;
