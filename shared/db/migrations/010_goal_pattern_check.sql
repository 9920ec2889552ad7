-- Issue 12: goal patterns run on a linear-time engine. Regexes are now the Goalpost dialect
-- (RE2 syntax, run by re2js); before, they were JavaScript regexes. A regex stored before this
-- migration may be read differently by the new engine, or refused by it. These columns record
-- what the stored-pattern check (shared/db/goal-pattern-check.ts, run by the migration runner
-- right after the numbered files) found:
--   pattern_engine          the engine generation the pattern was checked for; NULL = not yet
--                           checked (regex goals stored before this migration)
--   pattern_issue           why the pattern cannot run as stored; NULL = it runs. A goal with an
--                           issue never matches until its pattern is changed (which clears it,
--                           bumps the definition version and so backfills the goal)
--   pattern_rewritten_from  the JavaScript text a regex had before the check rewrote it into an
--                           exact Goalpost equivalent (same matches, different spelling)
ALTER TABLE goals
  ADD COLUMN pattern_engine smallint,
  ADD COLUMN pattern_issue text,
  ADD COLUMN pattern_rewritten_from text;

-- Plain operators and globs mean exactly what they meant: only regexes need the check.
UPDATE goals SET pattern_engine = 2 WHERE match_operator <> 'regex';

-- Goals written from now on are validated by the API against the new engine.
ALTER TABLE goals ALTER COLUMN pattern_engine SET DEFAULT 2;

CREATE INDEX goals_pattern_unchecked_idx ON goals (id) WHERE pattern_engine IS NULL;
