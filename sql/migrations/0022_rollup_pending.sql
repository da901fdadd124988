-- Rollups the writer holds in memory (WithRollupDelay): while it defers
-- them, every transaction that commits raw rows or marks without their
-- rollups leaves here what a restart needs to write them. The first row of
-- a deferral names the first raw row it covers (every later raw row is
-- covered too); data holds what the raw rows do not: the marks (events that
-- are no tool calls) and the subagent of each tool call, as JSON. The
-- transaction that writes the rollups empties the table, so it is empty
-- after a clean stop; Open rolls up whatever a killed process left.
CREATE TABLE rollup_pending (
  id          INTEGER PRIMARY KEY,
  first_event INTEGER,
  data        BLOB
);
