-- The backfill's tail pass re-checks the events the processor inserted since shortly before a
-- goal's definition changed (`processed_at >= …`, see processor/jobs/backfill.worker.ts).
-- Without an index that is a scan of every retained event of the website, as long as the
-- main pass itself. `processed_at` grows with each chunk's physical order (rows are appended
-- as they are processed), which is what a BRIN index summarises well: a few pages per chunk,
-- next to nothing to maintain on the live path (a new range is summarised by autovacuum).
CREATE INDEX events_processed_at_brin ON events USING brin (processed_at)
  WITH (pages_per_range = 32, autosummarize = on);
