-- The session log moves from one row per event (session_log) to one row
-- per session and batch (session_chunks): the events of a session that a
-- batch brings, encoded together (sql/sessionlog.go). first_ts and
-- first_id are those of the chunk's first event, last_ts of its last; the
-- chunks of a session may overlap in time (a late event comes in a later
-- chunk), and every event is in one chunk only.
-- The chunks are appended in rowid order, so that a batch writes them to
-- the end of the table, and found by session through the index.
CREATE TABLE session_chunks (
  id       INTEGER PRIMARY KEY,
  session  BLOB    NOT NULL,
  first_ts INTEGER NOT NULL,
  first_id BLOB    NOT NULL,
  last_ts  INTEGER NOT NULL,
  events   BLOB    NOT NULL
);
CREATE UNIQUE INDEX session_chunks_session ON session_chunks (session, first_ts, first_id);

INSERT INTO session_chunks (session, first_ts, first_id, last_ts, events)
  SELECT session, first_ts, chunk_first_id(events), last_ts, events FROM (
    SELECT session, MIN(ts) AS first_ts, MAX(ts) AS last_ts, log_chunk(ts, id, code, name, agent) AS events
    FROM session_log GROUP BY session);

DROP TABLE session_log;
