import type { Logger } from '../logger.js';
import { classifyStoredRegex } from '../matching/regex.js';
import { goalRepository } from './repositories/goal.repository.js';
import type { Queryable } from './pool.js';

/** The engine generation of issue 12 (re2js, Goalpost regex dialect); 1 was JavaScript. */
export const PATTERN_ENGINE = 2;

/** What the check did to one goal. */
export interface PatternCheckResult {
  goal_id: string;
  website_id: string;
  verdict: 'same' | 'rewritten' | 'refused';
  pattern: string;
  rewrite?: string;
  reason?: string;
}

/**
 * Checks the regex goals stored before the current engine (`pattern_engine` NULL, see
 * migration 010) with the one classifier of `shared/matching/regex.ts`, which SQL cannot run:
 *
 * - `same`: the Goalpost dialect reads the text as JavaScript did; only marked checked.
 * - `rewritten`: the text is replaced by its exact Goalpost equivalent (same matches, so the
 *   definition version stays and no backfill runs); the old text is kept in
 *   `pattern_rewritten_from`.
 * - `refused`: `pattern_issue` says why; the goal never matches and shows as invalid until its
 *   pattern is changed.
 *
 * Each change is logged (`goal_pattern_rewritten`, `goal_pattern_refused`), which is the list
 * the issue asks the migration to give; the columns keep it queryable. Runs under the
 * migration lock, on every start, and is a no-op once every goal is checked.
 */
export async function checkStoredGoalPatterns(
  client: Queryable,
  logger: Logger,
): Promise<PatternCheckResult[]> {
  const results: PatternCheckResult[] = [];
  for (const g of await goalRepository.uncheckedRegexGoals(client)) {
    const v = classifyStoredRegex(g.match_value, !g.case_sensitive);
    const base = { goal_id: g.id, website_id: g.website_id, pattern: g.match_value };
    if (v.verdict === 'same') {
      await goalRepository.markPatternChecked(client, g.id, PATTERN_ENGINE, {});
      results.push({ ...base, verdict: 'same' });
    } else if (v.verdict === 'rewritten') {
      await goalRepository.markPatternChecked(client, g.id, PATTERN_ENGINE, { rewrite: v.rewrite });
      logger.warn({ ...base, rewrite: v.rewrite }, 'goal_pattern_rewritten');
      results.push({ ...base, verdict: 'rewritten', rewrite: v.rewrite });
    } else {
      await goalRepository.markPatternChecked(client, g.id, PATTERN_ENGINE, { issue: v.reason });
      logger.warn({ ...base, reason: v.reason }, 'goal_pattern_refused');
      results.push({ ...base, verdict: 'refused', reason: v.reason });
    }
  }
  // Goals whose operator is not regex but were never marked (cannot happen after 010; cheap).
  await goalRepository.markNonRegexChecked(client, PATTERN_ENGINE);
  return results;
}
