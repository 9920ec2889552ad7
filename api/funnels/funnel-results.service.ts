import {
  funnelStatsRepository,
  type FunnelScope,
} from '../../shared/db/repositories/funnel-stats.repository.js';
import { funnelWalkRepository } from '../../shared/db/repositories/funnel-walk.repository.js';
import type { Db } from '../../shared/db/pool.js';
import type { SessionScope } from '../../shared/db/repositories/stats.repository.js';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import { strictScope, type StrictQuery } from '../stats/strict-scope.js';
import { backfillView } from '../goals/goal.schemas.js';
import type { FunnelResults } from './funnel.schemas.js';
import type { FunnelView } from './funnel-view.js';

/** Sparklytics' funnel results: the last 30 days by default, at most 90. */
export const RESULTS_DAYS = { default: 30, max: 90 };

/** The window and sessions of a funnel-results query (see {@link strictScope}). */
export const resultsScope = (db: Db, site: Website, query: StrictQuery) =>
  strictScope(db, site, query, RESULTS_DAYS);

/** reached / of, 0 when `of` is 0 (never NaN or infinite). */
export const ratio = (reached: number, of: number) => (of === 0 ? 0 : reached / of);

/** The saved funnel's step matches in `scope`, as Sparklytics' results. */
export async function funnelResults(
  db: Db,
  funnel: FunnelView,
  scope: SessionScope,
): Promise<FunnelResults> {
  // Stored walks once they are complete for this definition; meanwhile (its backfill and the
  // walk rebuild after it) the walk over the step matches written so far.
  const reached =
    funnel.walks_version === funnel.definition_version
      ? await funnelWalkRepository.reached(db, {
          ...scope,
          funnelId: funnel.id,
          steps: funnel.steps.length,
        })
      : await funnelStatsRepository.reached(db, savedScope(funnel, scope));
  const first = reached[0] ?? 0;
  return {
    funnel_id: funnel.id,
    name: funnel.name,
    total_sessions_entered: first,
    final_conversion_rate: ratio(reached.at(-1) ?? 0, first),
    backfill: backfillView(funnel.backfill),
    steps: funnel.steps.map((s, i) => {
      const n = reached[i] ?? 0;
      const last = i === reached.length - 1;
      const dropped = last ? 0 : Math.max(0, n - (reached[i + 1] ?? 0));
      return {
        step_order: s.step_order,
        label: s.name,
        sessions_reached: n,
        drop_off_count: dropped,
        drop_off_rate: last ? 0 : ratio(dropped, n),
        conversion_rate_from_start: ratio(n, first),
        conversion_rate_from_previous: i === 0 ? (n > 0 ? 1 : 0) : ratio(n, reached[i - 1] ?? 0),
      };
    }),
  };
}

/** A saved funnel's walk over its step goals' matches. */
export const savedScope = (funnel: FunnelView, scope: SessionScope): FunnelScope => ({
  ...scope,
  source: { kind: 'saved', stepGoalIds: funnel.steps.map((s) => s.id) },
  windowSeconds: funnel.window_seconds,
});
