-- Indexes for the statistics queries (shared/db/stats.repository.ts).
--
-- The event-level session filters (`filter_page`, `filter_hostname`, Rybbit `pathname`,
-- `event_name`, …) ask "did any event of this session …": a probe by session, bounded by the
-- session's own time span so that only its one or two chunks are visited.
CREATE INDEX IF NOT EXISTS events_website_session_time_idx
  ON events (website_id, session_id, event_time);

-- Sessions overlapping a window: `ended_at >= lo AND started_at < hi`. Covering the columns
-- the statistics read keeps the scan on the index.
CREATE INDEX IF NOT EXISTS sessions_website_ended_cover_idx
  ON sessions (website_id, ended_at) INCLUDE (started_at, session_id, is_bot);
-- The covering index above serves every query the ended_at index of 004 served.
DROP INDEX IF EXISTS sessions_website_ended_idx;
