-- Skill runs (package runs): the consumer cuts each session's events into
-- runs in the same transaction as the raw rows, from state kept here, so
-- that a restart, a replay or a late event gives the same runs. Runs start
-- empty on upgrade: events stored before it carry no session marks, and a
-- rebuild from the stream (trackskills rebuild) computes the runs of the
-- whole stream.

-- Every event of a session that runs read (tool calls and session marks),
-- in session order: id is the stored event id as a BLOB, code the event's
-- kind and flags (sql/runs.go, logCode), name its tool, agent the
-- subagent's id hash. A late event re-walks the session from the last
-- reset before it (runs.Reset, flagged in code).
CREATE TABLE session_log (
  session BLOB    NOT NULL,
  ts      INTEGER NOT NULL,
  id      BLOB    NOT NULL,
  code    INTEGER NOT NULL,
  name    TEXT    NOT NULL,
  agent   BLOB,
  PRIMARY KEY (session, ts, id)
) WITHOUT ROWID;

-- One row per session: its user, its last event walked, the last event of
-- its open runs (NULL when none is open) and whether a sweep closed them.
CREATE TABLE run_sessions (
  session      BLOB    NOT NULL PRIMARY KEY,
  user_id_hash BLOB    NOT NULL,
  last_ts      INTEGER NOT NULL,
  last_id      BLOB    NOT NULL,
  open_last    INTEGER,
  swept        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX run_sessions_open ON run_sessions (open_last) WHERE open_last IS NOT NULL;
CREATE INDEX run_sessions_last ON run_sessions (last_ts);

-- One row per run, named by its session and its skill invocation.
CREATE TABLE skill_runs (
  session         BLOB    NOT NULL,
  start_ms        INTEGER NOT NULL,
  start_id        BLOB    NOT NULL,
  skill           TEXT    NOT NULL,
  user_id_hash    BLOB    NOT NULL,
  parent_start_ms INTEGER,
  parent_id       BLOB,
  agent           BLOB,
  user_slash      INTEGER NOT NULL,
  end_ms          INTEGER NOT NULL,
  last_ms         INTEGER NOT NULL,
  state           TEXT    NOT NULL,
  calls           INTEGER NOT NULL,
  failed_calls    INTEGER NOT NULL,
  denied_calls    INTEGER NOT NULL,
  subagent_starts INTEGER NOT NULL,
  subagent_calls  INTEGER NOT NULL,
  tools           TEXT    NOT NULL, -- {"tool": [calls, failed calls], ...}
  PRIMARY KEY (session, start_ms, start_id)
) WITHOUT ROWID;
CREATE INDEX skill_runs_start ON skill_runs (start_ms);
CREATE INDEX skill_runs_skill ON skill_runs (skill, state, start_ms);

-- Per UTC day of the runs' start and skill: the runs, by end state, and
-- their totals. Kept exact as runs change (a run's old figures are taken
-- off before its new ones are added).
CREATE TABLE skill_daily (
  day          TEXT    NOT NULL,
  skill        TEXT    NOT NULL,
  runs         INTEGER NOT NULL,
  completed    INTEGER NOT NULL,
  failed       INTEGER NOT NULL,
  interrupted  INTEGER NOT NULL,
  abandoned    INTEGER NOT NULL,
  open         INTEGER NOT NULL,
  calls        INTEGER NOT NULL,
  failed_calls INTEGER NOT NULL,
  denied_calls INTEGER NOT NULL,
  subagents    INTEGER NOT NULL,
  wall_sum     INTEGER NOT NULL, -- of the ended runs
  PRIMARY KEY (day, skill)
) WITHOUT ROWID;

-- The run times of the ended runs, per latency histogram bucket
-- (trackskills.HistBucket): signed counts add up exactly as runs change.
CREATE TABLE skill_daily_walls (
  day    TEXT    NOT NULL,
  skill  TEXT    NOT NULL,
  bucket INTEGER NOT NULL,
  runs   INTEGER NOT NULL,
  PRIMARY KEY (day, skill, bucket)
) WITHOUT ROWID;

-- The tools the runs called: calls, failed calls, and runs that called it.
CREATE TABLE skill_daily_tools (
  day          TEXT    NOT NULL,
  skill        TEXT    NOT NULL,
  tool_name    TEXT    NOT NULL,
  runs         INTEGER NOT NULL,
  calls        INTEGER NOT NULL,
  failed_calls INTEGER NOT NULL,
  PRIMARY KEY (day, skill, tool_name)
) WITHOUT ROWID;

-- The MCP servers the runs called, as skill_daily_tools.
CREATE TABLE skill_daily_mcp (
  day          TEXT    NOT NULL,
  skill        TEXT    NOT NULL,
  mcp_server   TEXT    NOT NULL,
  runs         INTEGER NOT NULL,
  calls        INTEGER NOT NULL,
  failed_calls INTEGER NOT NULL,
  PRIMARY KEY (day, skill, mcp_server)
) WITHOUT ROWID;
CREATE INDEX skill_daily_mcp_server ON skill_daily_mcp (mcp_server, day);

-- The users and the sessions of each skill, as those of each tool: a run
-- never changes its skill, day, user or session, so these only grow.
CREATE TABLE skill_user_daily (
  day          INTEGER NOT NULL,
  skill        TEXT    NOT NULL,
  user_id_hash BLOB    NOT NULL,
  PRIMARY KEY (day, skill, user_id_hash)
) WITHOUT ROWID;
CREATE TABLE skill_user_last_seen (
  skill        TEXT NOT NULL,
  user_id_hash BLOB NOT NULL,
  day          TEXT NOT NULL,
  PRIMARY KEY (skill, user_id_hash)
) WITHOUT ROWID;
CREATE TABLE skill_last_seen_counts (
  day   TEXT    NOT NULL,
  skill TEXT    NOT NULL,
  users INTEGER NOT NULL,
  PRIMARY KEY (day, skill)
) WITHOUT ROWID;
CREATE TABLE skill_daily_users (
  day   TEXT    NOT NULL,
  skill TEXT    NOT NULL,
  users INTEGER NOT NULL,
  PRIMARY KEY (day, skill)
) WITHOUT ROWID;

CREATE TABLE skill_session_daily (
  day          INTEGER NOT NULL,
  skill        TEXT    NOT NULL,
  user_id_hash BLOB    NOT NULL, -- the session's hash
  PRIMARY KEY (day, skill, user_id_hash)
) WITHOUT ROWID;
CREATE TABLE skill_session_last_seen (
  skill        TEXT NOT NULL,
  user_id_hash BLOB NOT NULL,
  day          TEXT NOT NULL,
  PRIMARY KEY (skill, user_id_hash)
) WITHOUT ROWID;
CREATE TABLE skill_session_last_seen_counts (
  day   TEXT    NOT NULL,
  skill TEXT    NOT NULL,
  users INTEGER NOT NULL,
  PRIMARY KEY (day, skill)
) WITHOUT ROWID;
CREATE TABLE skill_daily_sessions (
  day   TEXT    NOT NULL,
  skill TEXT    NOT NULL,
  users INTEGER NOT NULL,
  PRIMARY KEY (day, skill)
) WITHOUT ROWID;
