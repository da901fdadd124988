-- The per-tool index of failed events goes. Keyed (tool_name, timestamp),
-- it took a page write for most failed events, as a batch's failures fall
-- on a page per tool: a quarter of the pages a batch of 1,000 events
-- dirtied (16% of a batch of 100), for the 5% of events that fail. A read
-- of one tool's failures over a window now scans the window's failures in
-- skill_usage_events_failures, appended to in time order, and keeps that
-- tool's rows.

DROP INDEX skill_usage_events_tool_failures;
