import {
  attributionRepository,
  type AttributionModel,
} from '../../shared/db/repositories/attribution.repository.js';
import type { Goal } from '../../shared/db/repositories/goal.repository.js';
import type { Db } from '../../shared/db/pool.js';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import { ClientError } from '../../shared/errors/errors.js';
import { MAX_RANGE_DAYS } from '../stats/date-range.js';
import { strictScope, type StrictQuery } from '../stats/strict-scope.js';
import type { Attribution } from './attribution.schemas.js';

/** Attribution windows: the last 7 days by default; as long as goal statistics allow. */
export const ATTRIBUTION_DAYS = { default: 7, max: MAX_RANGE_DAYS };
/** Visitor scope: look-back default and limit, in days. */
export const LOOKBACK_DAYS = { default: 30, max: 90 };

export interface AttributionQuery extends StrictQuery {
  model?: string;
  scope?: string;
  lookback_days?: string;
}

const bad = (message: string, field: string) =>
  new ClientError(400, 'validation_error', message, field);

/** `model`: `first_touch` | `last_touch`; absent or empty → `last_touch`. */
function parseModel(raw: string | undefined): AttributionModel {
  if (raw === undefined || raw === '') return 'last_touch';
  if (raw === 'first_touch' || raw === 'last_touch') return raw;
  throw bad('model must be one of: first_touch, last_touch', 'model');
}

/** Ours: `scope=session` (default) or `visitor` with `lookback_days` (1–90, default 30). */
function parseLookback(query: AttributionQuery): number | null {
  const scope = query.scope ?? 'session';
  if (scope !== 'session' && scope !== 'visitor') {
    throw bad('scope must be one of: session, visitor', 'scope');
  }
  if (scope === 'session') {
    if (query.lookback_days !== undefined) {
      throw bad('lookback_days applies to scope=visitor only', 'lookback_days');
    }
    return null;
  }
  const raw = query.lookback_days;
  if (raw === undefined) return LOOKBACK_DAYS.default;
  if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > LOOKBACK_DAYS.max) {
    throw bad(`lookback_days must be an integer from 1 to ${LOOKBACK_DAYS.max}`, 'lookback_days');
  }
  return Number(raw);
}

/**
 * A goal's conversions in the window credited to channels (see attributionRepository), with
 * revenue from the goal's value settings and the goal's currency. Shares are fractions of all
 * conversions (0 when there are none).
 */
export async function attribution(
  db: Db,
  site: Website,
  goal: Goal,
  query: AttributionQuery,
): Promise<Attribution> {
  const model = parseModel(query.model);
  const lookbackDays = parseLookback(query);
  const { model: _m, scope: _s, lookback_days: _l, ...rest } = query;
  const scope = await strictScope(db, site, rest, ATTRIBUTION_DAYS);
  const rows = await attributionRepository.byChannel(db, {
    ...scope,
    goalId: goal.id,
    model,
    lookbackDays,
  });
  const total = rows.reduce((n, r) => n + r.conversions, 0);
  const revenue = rows.reduce((n, r) => n + Number(r.revenue), 0);
  return {
    goal_id: goal.id,
    model,
    currency: goal.currency,
    rows: rows.map((r) => ({
      channel: r.channel,
      conversions: r.conversions,
      revenue: Number(r.revenue),
      share: total === 0 ? 0 : r.conversions / total,
    })),
    totals: { conversions: total, revenue },
  };
}
