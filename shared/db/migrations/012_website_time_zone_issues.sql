-- Websites whose stored time zone the statistics cannot use: a name PostgreSQL does not know
-- (JavaScript accepted `US/Pacific-New`, which PostgreSQL's tzdata dropped) or an offset form
-- such as `+05:30`, which JavaScript on Node 22+ accepts and PostgreSQL reads with the sign
-- inverted. The API now refuses both at create and update; websites stored before that answer
-- 422 naming their zone on every statistics call until the zone is changed. This view lists
-- them at any time, and the migration names each one in the migration log.
CREATE VIEW website_time_zone_issues AS
SELECT w.id AS website_id, w.timezone
  FROM websites w
 WHERE w.timezone ~* '^(utc|gmt)?\s*[+-][0-9]'
    OR NOT EXISTS (SELECT 1 FROM pg_timezone_names z WHERE z.name = w.timezone);

DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT website_id, timezone FROM website_time_zone_issues ORDER BY website_id LOOP
    RAISE NOTICE 'website % has time zone "%", which the statistics cannot use: change it',
      r.website_id, r.timezone;
  END LOOP;
END $$;
