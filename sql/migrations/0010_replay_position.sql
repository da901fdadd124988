-- The position of `trackskills replay` in the events stream: the last stream
-- sequence whose batch is committed here, written in the same transaction as
-- the batch, so that a replay without a start resumes right after it. One
-- row at most; the consumer never writes it.

CREATE TABLE replay_position (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  stream_seq INTEGER NOT NULL,
  updated_at INTEGER NOT NULL -- unix ms
);
