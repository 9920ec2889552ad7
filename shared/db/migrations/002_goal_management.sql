-- Goal management invariants, enforced by the database so they hold under concurrency
-- (application checks alone race: two requests can both see 49 goals, or both see a name free).

-- Goal names are unique per website ignoring case. lower() follows the database's UTF-8
-- ctype, so `Signup` and `SIGNUP` (and `Café`/`CAFÉ`) collide.
CREATE UNIQUE INDEX goals_website_name_ci_key ON goals (website_id, lower(name));

-- At most 50 goals per website. Every insert first locks its website row, so inserts for one
-- website run one at a time; the count that follows is a fresh READ COMMITTED snapshot taken
-- after the lock was granted, so it sees every goal committed by the previous holder.
-- FOR NO KEY UPDATE does not conflict with the FOR KEY SHARE lock the goals→websites foreign
-- key takes, so other writers referencing the website are not blocked.
CREATE FUNCTION goals_enforce_limit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  PERFORM 1 FROM websites WHERE id = NEW.website_id FOR NO KEY UPDATE;
  SELECT count(*) INTO n FROM goals WHERE website_id = NEW.website_id;
  IF n >= 50 THEN
    RAISE EXCEPTION 'maximum of 50 goals per website reached'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'goals_per_website_limit';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER goals_per_website_limit
  BEFORE INSERT ON goals
  FOR EACH ROW EXECUTE FUNCTION goals_enforce_limit();

-- Re-enqueueing backfills that never reached the queue (Redis down at write time) scans for
-- this state at API start-up.
CREATE INDEX goals_backfill_queued_idx ON goals ((backfill ->> 'state'))
  WHERE backfill ->> 'state' = 'queued';
