-- Indexes for the unfiltered statistics (shared/db/stats.repository.ts), which read a goal's
-- conversions in a window without joining them to the scanned sessions.
--
-- A goal's conversions in a window, read from the index alone: the conversions of one goal
-- are spread over many heap pages (they arrive among every other goal's), so fetching them
-- from the heap cost ~10k page visits for 60 days of a busy goal. This covering index serves
-- everything the plain (goal_id, event_time) index of 001 served.
CREATE INDEX IF NOT EXISTS conversions_goal_time_cover_idx
  ON conversions (goal_id, event_time) INCLUDE (website_id, session_id, value);
DROP INDEX IF EXISTS conversions_goal_time_idx;

-- The bot sessions overlapping a window, to exclude their conversions: a small index (bots
-- are a minority of sessions) read instead of probing `sessions` once per conversion.
CREATE INDEX IF NOT EXISTS sessions_bot_ended_idx
  ON sessions (website_id, ended_at) INCLUDE (started_at, session_id) WHERE is_bot;
