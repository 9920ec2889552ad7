-- Brings every database to today's definition of the session rollup of migration 006.
--
-- 006 was rewritten after it had been applied somewhere: first as `session_start_counts`
-- (starts only, one trigger function per operation), then as `session_counts` with ends and
-- separate insert and delete functions, finally with one function for inserts and deletes that
-- also sweeps emptied buckets. The migration runner tracks migrations by number, so a database
-- that ran an earlier 006 kept that earlier definition (and a `session_start_counts` database
-- has no `session_counts` at all, which today's statistics read). This migration removes what
-- any earlier 006 created and (re)creates today's objects, then recounts the rollup from
-- `sessions`, so it leaves every database in the same state, whichever 006 it ran. (It also
-- runs on databases that ran today's 006, where it changes nothing but the recount.)

-- No session writer may run between the recount and the new triggers.
LOCK TABLE sessions IN SHARE ROW EXCLUSIVE MODE;

-- The first 006: session_start_counts.
DROP TRIGGER IF EXISTS session_start_counts_insert ON sessions;
DROP TRIGGER IF EXISTS session_start_counts_update ON sessions;
DROP TRIGGER IF EXISTS session_start_counts_delete ON sessions;
DROP TRIGGER IF EXISTS session_start_counts_truncate ON sessions;
DROP FUNCTION IF EXISTS session_start_counts_on_insert();
DROP FUNCTION IF EXISTS session_start_counts_on_update();
DROP FUNCTION IF EXISTS session_start_counts_on_delete();
DROP FUNCTION IF EXISTS session_start_counts_on_truncate();
DROP FUNCTION IF EXISTS session_start_counts_lock();
DROP TABLE IF EXISTS session_start_counts;

-- The second 006: separate insert and delete functions; every trigger is recreated below.
DROP TRIGGER IF EXISTS session_counts_insert ON sessions;
DROP TRIGGER IF EXISTS session_counts_update ON sessions;
DROP TRIGGER IF EXISTS session_counts_delete ON sessions;
DROP TRIGGER IF EXISTS session_counts_truncate ON sessions;
DROP FUNCTION IF EXISTS session_counts_on_insert();
DROP FUNCTION IF EXISTS session_counts_on_delete();

-- Today's 006 (see that file for how the rollup is read and why it is sharded).
CREATE TABLE IF NOT EXISTS session_counts (
  website_id text        NOT NULL,
  bucket     timestamptz NOT NULL,
  is_bot     boolean     NOT NULL,
  shard      smallint    NOT NULL,
  starts     bigint      NOT NULL,
  ends       bigint      NOT NULL,
  PRIMARY KEY (website_id, bucket, is_bot, shard)
);

-- The 15-minute bucket of an instant (UTC-aligned; every current UTC offset is a multiple of
-- 15 minutes, so local midnights are bucket boundaries).
CREATE OR REPLACE FUNCTION session_bucket(t timestamptz) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN date_bin('15 minutes', t, timestamptz '2000-01-01 00:00:00+00');

-- Serialises the writers that share this connection's shard (see above), until commit.
CREATE OR REPLACE FUNCTION session_counts_lock() RETURNS void LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(20260006, pg_backend_pid() % 64)
$$;

-- Inserted sessions count in (+1), deleted ones out (-1): one function for both triggers,
-- which name their transition table `changed_rows`.
CREATE OR REPLACE FUNCTION session_counts_on_insert_or_delete() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION session_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION session_counts_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- Recount from `sessions`, whatever an earlier definition left.
TRUNCATE session_counts;
INSERT INTO session_counts (website_id, bucket, is_bot, shard, starts, ends)
SELECT website_id, bucket, is_bot, 0, sum(st), sum(en)
  FROM (SELECT website_id, session_bucket(started_at) AS bucket, is_bot, 1 AS st, 0 AS en FROM sessions
        UNION ALL
        SELECT website_id, session_bucket(ended_at), is_bot, 0, 1 FROM sessions) x
 GROUP BY 1, 2, 3;

CREATE INDEX IF NOT EXISTS sessions_website_started_cover_idx
  ON sessions (website_id, started_at) INCLUDE (ended_at, is_bot);
DROP INDEX IF EXISTS sessions_website_started_idx;
CREATE INDEX IF NOT EXISTS sessions_long_idx
  ON sessions (website_id, started_at) INCLUDE (ended_at, is_bot) WHERE duration > 86400;
