-- skill_runs is keyed by start time first instead of by session: a batch
-- adds its new runs at the end of the table and rewrites the open ones
-- among its last pages, where the session-first key put each run on a page
-- of its own session, anywhere in the table (at 10M events the table
-- outgrows the page cache, and every batch wrote a page per run). The
-- runs of a session are found through skill_runs_session, whose rows are a
-- few dozen bytes; the start-time index is the key now.
CREATE TABLE skill_runs_by_time (
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
  PRIMARY KEY (start_ms, session, start_id)
) WITHOUT ROWID;

INSERT INTO skill_runs_by_time (session, start_ms, start_id, skill, user_id_hash, parent_start_ms, parent_id, agent,
    user_slash, end_ms, last_ms, state, calls, failed_calls, denied_calls, subagent_starts, subagent_calls, tools)
  SELECT session, start_ms, start_id, skill, user_id_hash, parent_start_ms, parent_id, agent,
    user_slash, end_ms, last_ms, state, calls, failed_calls, denied_calls, subagent_starts, subagent_calls, tools
  FROM skill_runs;

DROP TABLE skill_runs;
ALTER TABLE skill_runs_by_time RENAME TO skill_runs;
CREATE UNIQUE INDEX skill_runs_session ON skill_runs (session, start_ms, start_id);
CREATE INDEX skill_runs_skill ON skill_runs (skill, state, start_ms);
