-- The runs' state by arrival instead of by hash. Each batch updates the
-- state of every session it holds events of and appends a chunk to each
-- one's log; keyed by the session's hash, those writes fell on a page per
-- session anywhere in the table and in session_chunks' index, so that a
-- batch of 300 busy sessions dirtied about 160 pages for them alone.
--
-- run_sessions gets a rowid in arrival order: the sessions at work are the
-- newest rows, a few pages at the end, and the unique index on the hash is
-- written once per new session. last_chunk is the rowid of the session's
-- last chunk.
CREATE TABLE run_sessions_by_id (
  id           INTEGER PRIMARY KEY,
  session      BLOB    NOT NULL UNIQUE,
  user_id_hash BLOB    NOT NULL,
  last_ts      INTEGER NOT NULL,
  last_id      BLOB    NOT NULL,
  open_last    INTEGER,
  swept        INTEGER NOT NULL,
  last_chunk   INTEGER
);
INSERT INTO run_sessions_by_id (session, user_id_hash, last_ts, last_id, open_last, swept, last_chunk)
  SELECT s.session, s.user_id_hash, s.last_ts, s.last_id, s.open_last, s.swept,
    (SELECT MAX(c.id) FROM session_chunks AS c WHERE c.session = s.session)
  FROM run_sessions AS s ORDER BY s.last_ts, s.session;
DROP TABLE run_sessions;
ALTER TABLE run_sessions_by_id RENAME TO run_sessions;
CREATE INDEX run_sessions_open ON run_sessions (open_last) WHERE open_last IS NOT NULL;
CREATE INDEX run_sessions_last ON run_sessions (last_ts);

-- A session's chunks are a chain, each naming the one before it (prev,
-- NULL for the first), from run_sessions.last_chunk back: a re-walk or the
-- retention follows it, and the table needs no index.
ALTER TABLE session_chunks ADD COLUMN prev INTEGER;
UPDATE session_chunks AS c SET prev =
  (SELECT MAX(p.id) FROM session_chunks AS p WHERE p.session = c.session AND p.id < c.id);
DROP INDEX session_chunks_session;

-- A run's end state is not in the skill index any more: the writer updates
-- the open runs of every busy session each batch, and a state in the key
-- moved their index entries each time. The runs of a skill are read
-- newest first and filtered by state.
DROP INDEX skill_runs_skill;
CREATE INDEX skill_runs_skill ON skill_runs (skill, start_ms);
