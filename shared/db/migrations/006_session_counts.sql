-- Session starts and ends per website, 15-minute bucket and bot flag, so that the statistics
-- count "sessions overlapping [lo, hi)" without scanning `sessions`
-- (shared/db/stats.repository.ts):
--
--   overlapping(lo, hi) = #{started_at in [lo, hi)} + open(lo)
--   open(x)             = #{started_at < x AND ended_at >= x}
--   open(y) - open(x)   = #{started_at in [x, y)} - #{ended_at in [x, y)}       (x <= y)
--
-- The first term is a sum over at most 96 buckets a day read from this table (exact whenever
-- the bounds fall on 15-minute boundaries, which every local midnight and hour of today's
-- time zones does); open(lo), the sessions still open at lo, is a short index probe of
-- `sessions`; the last line gives open() at every later bucket boundary from the same rows,
-- which is what a timeseries needs.
--
-- The table is maintained by statement-level triggers on `sessions` reading the transition
-- tables, so every writer (processor, backfill, retention, tests) keeps it exact with one
-- aggregated statement per statement on `sessions`, and a replayed batch that changes no
-- session row changes nothing here either.
--
-- Concurrency: the processor writes from several connections at once, and the current bucket
-- of a busy website is touched by every one of them. `shard` (the writer's backend pid mod 64)
-- gives each connection its own row, so concurrent transactions do not queue on one row lock
-- until commit; readers sum over the shards (a single shard's row can be negative). Two
-- connections whose pids share a shard take that shard's transaction-level advisory lock
-- first: an INSERT … ON CONFLICT fires the insert and the update trigger one after the other,
-- each writing its rows in key order, and two such statements could otherwise lock the same
-- rows in opposite orders and deadlock.
CREATE TABLE session_counts (
  website_id text        NOT NULL,
  bucket     timestamptz NOT NULL,
  is_bot     boolean     NOT NULL,
  shard      smallint    NOT NULL,
  -- Sessions whose started_at / ended_at falls in [bucket, bucket + 15 minutes).
  starts     bigint      NOT NULL,
  ends       bigint      NOT NULL,
  PRIMARY KEY (website_id, bucket, is_bot, shard)
);

-- The 15-minute bucket of an instant (UTC-aligned; every current UTC offset is a multiple of
-- 15 minutes, so local midnights are bucket boundaries).
CREATE FUNCTION session_bucket(t timestamptz) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN date_bin('15 minutes', t, timestamptz '2000-01-01 00:00:00+00');

-- Serialises the writers that share this connection's shard (see above), until commit.
CREATE FUNCTION session_counts_lock() RETURNS void LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(20260006, pg_backend_pid() % 64)
$$;

-- Inserted sessions count in (+1), deleted ones out (-1): one function for both triggers,
-- which name their transition table `changed_rows`.
CREATE FUNCTION session_counts_on_insert_or_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sign constant integer := CASE TG_OP WHEN 'DELETE' THEN -1 ELSE 1 END;
BEGIN
  PERFORM session_counts_lock();
  INSERT INTO session_counts AS c (website_id, bucket, is_bot, shard, starts, ends)
  SELECT website_id, bucket, is_bot, pg_backend_pid() % 64, sign * sum(st), sign * sum(en)
    FROM (SELECT website_id, session_bucket(started_at) AS bucket, is_bot, 1 AS st, 0 AS en FROM changed_rows
          UNION ALL
          SELECT website_id, session_bucket(ended_at), is_bot, 0, 1 FROM changed_rows) x
   GROUP BY 1, 2, 3
   ORDER BY 1, 2, 3
  ON CONFLICT (website_id, bucket, is_bot, shard)
  DO UPDATE SET starts = c.starts + EXCLUDED.starts, ends = c.ends + EXCLUDED.ends;
  IF TG_OP = 'DELETE' THEN
    -- Buckets whose sessions are all gone (retention) no longer need their rows.
    DELETE FROM session_counts c
     USING (SELECT k.website_id, k.bucket, k.is_bot
              FROM session_counts k
              JOIN (SELECT website_id, session_bucket(started_at) AS bucket, is_bot FROM changed_rows
                    UNION
                    SELECT website_id, session_bucket(ended_at), is_bot FROM changed_rows) g
                USING (website_id, bucket, is_bot)
             GROUP BY 1, 2, 3
            HAVING sum(k.starts) = 0 AND sum(k.ends) = 0) z
     WHERE c.website_id = z.website_id AND c.bucket = z.bucket AND c.is_bot = z.is_bot;
  END IF;
  RETURN NULL;
END $$;

-- An update moves a session's contributions only when the bucket of its start (an earlier
-- event arrived late) or of its end (a later event) changes, or its bot flag does; most
-- updates stay within their buckets and contribute nothing.
CREATE FUNCTION session_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM session_counts_lock();
  INSERT INTO session_counts AS c (website_id, bucket, is_bot, shard, starts, ends)
  SELECT website_id, bucket, is_bot, pg_backend_pid() % 64, sum(st), sum(en)
    FROM (SELECT o.website_id, o.is_bot AS old_bot, n.is_bot AS new_bot,
                 session_bucket(o.started_at) AS old_start, session_bucket(n.started_at) AS new_start,
                 session_bucket(o.ended_at) AS old_end, session_bucket(n.ended_at) AS new_end
            FROM old_rows o JOIN new_rows n USING (website_id, session_id)) m,
         LATERAL (VALUES (old_start, old_bot, -1, 0), (new_start, new_bot, 1, 0),
                         (old_end, old_bot, 0, -1), (new_end, new_bot, 0, 1)) AS v(bucket, is_bot, st, en)
   WHERE m.old_start <> m.new_start OR m.old_end <> m.new_end OR m.old_bot <> m.new_bot
   GROUP BY 1, 2, 3
  HAVING sum(st) <> 0 OR sum(en) <> 0
   ORDER BY 1, 2, 3
  ON CONFLICT (website_id, bucket, is_bot, shard)
  DO UPDATE SET starts = c.starts + EXCLUDED.starts, ends = c.ends + EXCLUDED.ends;
  RETURN NULL;
END $$;

CREATE FUNCTION session_counts_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE session_counts;
  RETURN NULL;
END $$;

CREATE TRIGGER session_counts_insert AFTER INSERT ON sessions
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
  EXECUTE FUNCTION session_counts_on_insert_or_delete();
CREATE TRIGGER session_counts_update AFTER UPDATE ON sessions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION session_counts_on_update();
CREATE TRIGGER session_counts_delete AFTER DELETE ON sessions
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
  EXECUTE FUNCTION session_counts_on_insert_or_delete();
CREATE TRIGGER session_counts_truncate AFTER TRUNCATE ON sessions
  FOR EACH STATEMENT EXECUTE FUNCTION session_counts_on_truncate();

-- Existing sessions (an upgrade).
INSERT INTO session_counts (website_id, bucket, is_bot, shard, starts, ends)
SELECT website_id, bucket, is_bot, 0, sum(st), sum(en)
  FROM (SELECT website_id, session_bucket(started_at) AS bucket, is_bot, 1 AS st, 0 AS en FROM sessions
        UNION ALL
        SELECT website_id, session_bucket(ended_at), is_bot, 0, 1 FROM sessions) x
 GROUP BY 1, 2, 3;

-- open(lo): the sessions that started in the day before lo are found by a range scan of this
-- covering index (it replaces the plain started_at index of 004, which served the same
-- scans); the rare sessions longer than a day by the partial index below.
CREATE INDEX sessions_website_started_cover_idx
  ON sessions (website_id, started_at) INCLUDE (ended_at, is_bot);
DROP INDEX IF EXISTS sessions_website_started_idx;
CREATE INDEX sessions_long_idx
  ON sessions (website_id, started_at) INCLUDE (ended_at, is_bot) WHERE duration > 86400;
