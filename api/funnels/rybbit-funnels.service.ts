import {
  funnelStatsRepository,
  type FunnelScope,
} from '../../shared/db/repositories/funnel-stats.repository.js';
import { funnelWalkRepository } from '../../shared/db/repositories/funnel-walk.repository.js';
import type { Db } from '../../shared/db/pool.js';
import { SqlParams } from '../../shared/db/sql-params.js';
import type { SessionScope } from '../../shared/db/repositories/stats.repository.js';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import { ClientError } from '../../shared/errors/errors.js';
import { goalConditionSql } from '../../shared/matching/goal-condition-sql.js';
import { round } from '../stats/stats-params.js';
import type { StepFields } from './funnel-input.js';
import { ratio, savedScope } from './funnel-results.service.js';
import type { FunnelView } from './funnel-view.js';

/** Funnels in Rybbit's funnel summary: the oldest 50. */
export const SUMMARY_FUNNELS = 50;

/**
 * Ad-hoc steps as a walk over raw events: each step's condition rendered as SQL by the goal
 * matcher's own module. A condition SQL cannot reproduce exactly is refused (400).
 */
export function adhocFunnelScope(
  site: Website,
  steps: readonly StepFields[],
  scope: SessionScope,
): FunnelScope {
  const conditions = steps.map((s, i) => {
    const def = {
      ...s,
      id: `adhoc_${i}`,
      website_id: site.id,
      definition_version: 1,
    };
    if (goalConditionSql(def, new SqlParams()) === null) {
      throw new ClientError(
        400,
        'unsupported_condition',
        `steps[${i}]: this condition cannot be analyzed ad hoc; save the funnel instead`,
        `steps[${i}]`,
      );
    }
    return (p: SqlParams) => goalConditionSql(def, p)!;
  });
  return { ...scope, source: { kind: 'adhoc', conditions }, windowSeconds: null };
}

export interface RybbitStepResult {
  step_number: number;
  step_name: string;
  sessions: number;
  visitors: number;
  conversion_rate: number;
  dropoff_rate: number;
}

/** Rybbit's analysis rows: percentages rounded to 2 decimals; 0 when step 1 has no session. */
export function rybbitRows(
  labels: readonly string[],
  reached: readonly number[],
): RybbitStepResult[] {
  const first = reached[0] ?? 0;
  return labels.map((label, i) => {
    const n = reached[i] ?? 0;
    return {
      step_number: i + 1,
      step_name: label,
      sessions: n,
      visitors: n,
      conversion_rate: round(ratio(n, first) * 100, 2),
      dropoff_rate: i === 0 || !reached[i - 1] ? 0 : round((1 - n / reached[i - 1]!) * 100, 2),
    };
  });
}

/** Rybbit's funnel summary over the 50 oldest saved funnels. */
export async function funnelSummary(db: Db, funnels: readonly FunnelView[], scope: SessionScope) {
  const picked = funnels.filter((f) => f.steps.length >= 2).slice(0, SUMMARY_FUNNELS);
  const out = [];
  for (const f of picked) {
    const w = await walkWithMedians(db, f, scope);
    out.push({
      funnel_id: f.numeric_id,
      steps: w.reached.map((sessions, i) => ({
        sessions,
        median_seconds_to_next: w.medianToNext[i] ?? null,
      })),
      median_seconds_to_convert: w.medianToConvert,
    });
  }
  const entered = await funnelStatsRepository.enteredAny(
    db,
    scope,
    picked.map((f) => f.steps[0]!.id),
  );
  return {
    sessions_entered_any: entered,
    truncated: funnels.filter((f) => f.steps.length >= 2).length > SUMMARY_FUNNELS,
    funnels: out,
  };
}

/** A saved funnel's walk with medians: from its stored walks once they are complete. */
async function walkWithMedians(db: Db, f: FunnelView, scope: SessionScope) {
  if (f.walks_version !== f.definition_version) {
    return funnelStatsRepository.walk(db, savedScope(f, scope));
  }
  const w = await funnelWalkRepository.reachedWithMedians(db, {
    ...scope,
    funnelId: f.id,
    steps: f.steps.length,
  });
  return { reached: w.reached, medianToNext: w.toNext, medianToConvert: w.toConvert };
}
