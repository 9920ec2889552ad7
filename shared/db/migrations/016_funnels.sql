-- Issue 17: funnels, one model for both API dialects (and an index for attribution).
--
-- A funnel is an ordered list of 2–8 steps. Each step is a goal row of its own (a *step goal*:
-- `funnel_id` and `step_order` set), so the processor matches steps with the one goal matcher
-- as events stream in, writes their matches as conversions in the same transaction as the
-- events, and a new or changed funnel is backfilled by the goal backfill jobs, superseded the
-- same way. Step goals are not goals to the API: every goal route, list, limit and name rule
-- leaves them out. Results walk the step goals' conversions per session.
CREATE TABLE funnels (
  id                 text PRIMARY KEY CHECK (id ~ '^fun_[0-9a-z]{21}$'),
  numeric_id         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  website_id         text NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  name               text NOT NULL,
  -- Ours: the last step must follow the first within this many seconds; NULL = no limit.
  window_seconds     integer CHECK (window_seconds > 0),
  -- Bumped whenever the steps change (their step goals are then replaced).
  definition_version integer NOT NULL DEFAULT 1,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX funnels_website_idx ON funnels (website_id, created_at);
-- Names are unique per website ignoring case, as goal names are.
CREATE UNIQUE INDEX funnels_website_name_ci_key ON funnels (website_id, lower(name));

-- At most 20 funnels per website, enforced as the goal limit is (see migration 002).
CREATE FUNCTION funnels_enforce_limit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  PERFORM 1 FROM websites WHERE id = NEW.website_id FOR NO KEY UPDATE;
  SELECT count(*) INTO n FROM funnels WHERE website_id = NEW.website_id;
  IF n >= 20 THEN
    RAISE EXCEPTION 'maximum of 20 funnels per website reached'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'funnels_per_website_limit';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER funnels_per_website_limit
  BEFORE INSERT ON funnels
  FOR EACH ROW EXECUTE FUNCTION funnels_enforce_limit();

ALTER TABLE goals
  ADD COLUMN funnel_id  text REFERENCES funnels (id) ON DELETE CASCADE,
  ADD COLUMN step_order smallint,
  ADD CONSTRAINT goals_funnel_step_check CHECK ((funnel_id IS NULL) = (step_order IS NULL)),
  ADD CONSTRAINT goals_funnel_step_key UNIQUE (funnel_id, step_order);

-- Step goals take no goal name and count against no goal limit: the step's label is kept in
-- `name`, and labels may repeat.
DROP INDEX goals_website_name_ci_key;
CREATE UNIQUE INDEX goals_website_name_ci_key ON goals (website_id, lower(name))
  WHERE funnel_id IS NULL;

CREATE OR REPLACE FUNCTION goals_enforce_limit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  IF NEW.funnel_id IS NOT NULL THEN
    RETURN NEW;
  END IF;
  PERFORM 1 FROM websites WHERE id = NEW.website_id FOR NO KEY UPDATE;
  SELECT count(*) INTO n FROM goals WHERE website_id = NEW.website_id AND funnel_id IS NULL;
  IF n >= 50 THEN
    RAISE EXCEPTION 'maximum of 50 goals per website reached'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'goals_per_website_limit';
  END IF;
  RETURN NEW;
END
$$;

-- Step order within a session is (event time, arrival sequence, event id), as for sessions
-- (migration 013): conversions now carry the event's arrival sequence. Rows written before
-- this migration read 0, as their events did.
ALTER TABLE conversions ADD COLUMN seq smallint NOT NULL DEFAULT 0;

-- Attribution by visitor (`scope=visitor`): a visitor's earlier sessions by their stable id.
CREATE INDEX sessions_user_started_idx ON sessions (website_id, user_id, started_at)
  WHERE user_id IS NOT NULL;
