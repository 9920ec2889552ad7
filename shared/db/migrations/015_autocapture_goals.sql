-- Issue 16: goals on autocaptured events, and the per-website capture switches.
--
-- Goal types: besides `event` and `pageview`, the autocapture types match events stored with
-- the same type (shared/goals/goal-definition.ts). `any` matches every event of the goal's
-- type (Rybbit's empty valuePattern); the API allows it on autocapture goals only.
ALTER TABLE goals DROP CONSTRAINT goals_goal_type_check;
ALTER TABLE goals ADD CONSTRAINT goals_goal_type_check CHECK (goal_type IN
  ('event', 'pageview', 'outbound', 'file_download', 'button_click', 'form_submit', 'copy'));
ALTER TABLE goals DROP CONSTRAINT goals_match_operator_check;
ALTER TABLE goals ADD CONSTRAINT goals_match_operator_check CHECK (match_operator IN
  ('equals', 'starts_with', 'ends_with', 'contains', 'glob', 'regex', 'any'));

-- Pageview goals may require an exact hostname; NULL = any host.
ALTER TABLE goals ADD COLUMN hostname text;

-- What the trackers capture on their own for this website. Keys absent from the object take
-- their defaults (shared/goals/tracking-settings.ts): outbound links and file downloads on,
-- button clicks, copies and form interactions off, Plausible's file extension list.
ALTER TABLE websites ADD COLUMN tracking jsonb NOT NULL DEFAULT '{}';
