-- Issue 17: a saved funnel's results read one stored walk per session instead of walking
-- every step match of the window; last-touch attribution reads conversions alone.
--
-- Step matches carry their funnel, and a partial index holds only them, keyed by session and
-- step goal in walk order: the earliest match of a step after a position is one index probe,
-- so recomputing a session's walk costs at most two probes per step, however long the
-- session. Ordinary conversions pay nothing for it (the index predicate leaves them out).
ALTER TABLE conversions ADD COLUMN funnel_id text;
UPDATE conversions c SET funnel_id = g.funnel_id
  FROM goals g WHERE g.id = c.goal_id AND g.funnel_id IS NOT NULL;
CREATE INDEX conversions_funnel_walk_idx
  ON conversions (session_id, goal_id, event_time, seq, event_id)
  WHERE funnel_id IS NOT NULL;

-- One row per (funnel, session) whose session has a match of step 1: the walk over all of the
-- session's matches. `reached[n]` is when step n was reached (step 1 at `t1`, the earliest
-- match); `last1` is the latest match of step 1. For a window [lo, hi) the stored walk is the
-- window's walk whenever lo <= t1 (steps reached at or after hi are cut off); sessions with
-- t1 < lo <= last1 are walked again from their matches. Written by the processor for the
-- sessions a batch touched (in the batch's transaction) and by the walk rebuild after a
-- funnel's step backfills; no foreign key: a deleted funnel's rows are purged in the
-- background with its matches.
CREATE TABLE funnel_walks (
  funnel_id  text NOT NULL,
  session_id text NOT NULL,
  website_id text NOT NULL,
  t1         timestamptz NOT NULL,
  last1      timestamptz NOT NULL,
  reached    timestamptz[] NOT NULL,
  PRIMARY KEY (funnel_id, session_id)
);
-- Results read the window's walks from this index alone (session_id for the session filters).
CREATE INDEX funnel_walks_t1_idx ON funnel_walks (funnel_id, t1)
  INCLUDE (session_id, reached, last1);
-- The processor rewrites recent walks all day: vacuum often, so that their pages stay
-- all-visible and the index above is read without visiting the table.
ALTER TABLE funnel_walks SET (autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
-- Sessions whose step-1 matches span more than 6 hours, for the window's left edge: the others
-- crossing it are found by t1 within 6 hours before it.
CREATE INDEX funnel_walks_long_idx ON funnel_walks (funnel_id, last1)
  WHERE last1 - t1 > interval '6 hours';

-- The definition version whose walks are complete (the rebuild after its step backfills ran);
-- until then results walk the step matches themselves.
ALTER TABLE funnels ADD COLUMN walks_version integer;

-- Conversions carry the converting event's touch (what last-touch attribution credits), so
-- attribution reads no events. Existing goal conversions take it from their events, once.
ALTER TABLE conversions
  ADD COLUMN utm_source text,
  ADD COLUMN utm_medium text,
  ADD COLUMN referrer_domain text;
UPDATE conversions c
   SET utm_source = e.utm_source, utm_medium = e.utm_medium, referrer_domain = e.referrer_domain
  FROM events e
 WHERE e.event_id = c.event_id AND e.event_time = c.event_time AND e.website_id = c.website_id
   AND c.funnel_id IS NULL
   AND (e.utm_source IS NOT NULL OR e.utm_medium IS NOT NULL OR e.referrer_domain IS NOT NULL);
