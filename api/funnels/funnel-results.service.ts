import {
  funnelStatsRepository,
  type FunnelScope,
} from '../../shared/db/funnel-stats.repository.js';
import type { Db } from '../../shared/db/pool.js';
import type { SessionScope } from '../../shared/db/stats.repository.js';
import type { Website } from '../../shared/db/website.repository.js';
import { ClientError } from '../../shared/errors/errors.js';
import {
  addDays,
  daysBetween,
  isCalendarDate,
  isValidTimeZone,
  todayIn,
} from '../stats/date-range.js';
import { resolveWindow } from '../stats/stats.service.js';
import {
  resolveIncludeBots,
  SPARKLYTICS_FILTERS,
  sparklyticsFilters,
  type SparklyticsFilterParam,
} from '../stats/stats-params.js';
import type { FunnelResults } from './funnel.schemas.js';
import type { FunnelView } from './funnel.service.js';

/** Sparklytics' longest results window, inclusive days. */
export const MAX_RESULTS_DAYS = 90;
/** Default window: the last 30 days. */
const DEFAULT_RESULTS_DAYS = 30;

/** Longest value of each Sparklytics filter (bytes there; characters here, as elsewhere). */
const FILTER_MAX: Record<SparklyticsFilterParam, number> = {
  filter_country: 64,
  filter_page: 512,
  filter_referrer: 512,
  filter_browser: 128,
  filter_os: 128,
  filter_device: 64,
  filter_language: 64,
  filter_utm_source: 256,
  filter_utm_medium: 256,
  filter_utm_campaign: 256,
  filter_region: 128,
  filter_city: 128,
  filter_hostname: 255,
};

export type ResultsQuery = Partial<
  Record<'start_date' | 'end_date' | 'timezone' | 'include_bots' | SparklyticsFilterParam, string>
>;

/** A results query problem: 400 `validation_error` naming the parameter. */
const bad = (message: string, field: string) =>
  new ClientError(400, 'validation_error', message, field);

/**
 * The window and sessions a Sparklytics funnel-results query asks for. Dates are strict
 * `YYYY-MM-DD`; `end_date` defaults to today in the effective time zone (`timezone`, else the
 * website's), `start_date` to 29 days before the end; at most 90 days. The window runs from
 * local midnight of the first day to local midnight after the last. Filter values are trimmed;
 * a blank or too long one is refused.
 */
export async function resultsScope(
  db: Db,
  site: Website,
  query: ResultsQuery,
  now: Date = new Date(),
): Promise<SessionScope> {
  if (query.timezone !== undefined && !isValidTimeZone(query.timezone)) {
    throw bad('invalid timezone', 'timezone');
  }
  const timezone = query.timezone ?? site.timezone;
  for (const field of ['start_date', 'end_date'] as const) {
    const v = query[field];
    if (v !== undefined && !isCalendarDate(v)) {
      throw bad(`invalid ${field} (expected YYYY-MM-DD)`, field);
    }
  }
  const end = query.end_date ?? todayIn(isValidTimeZone(timezone) ? timezone : 'UTC', now);
  const start = query.start_date ?? addDays(end, -(DEFAULT_RESULTS_DAYS - 1));
  const days = daysBetween(start, end) + 1;
  if (days < 1) throw bad('end_date is before start_date', 'end_date');
  if (days > MAX_RESULTS_DAYS) {
    throw bad(`date range too large: ${days} days (max ${MAX_RESULTS_DAYS})`, 'start_date');
  }
  const trimmed: ResultsQuery = {};
  for (const param of Object.keys(SPARKLYTICS_FILTERS) as SparklyticsFilterParam[]) {
    const v = query[param]?.trim();
    if (v === undefined) continue;
    if (v === '' || [...v].length > FILTER_MAX[param]) {
      throw bad(`${param} must be 1–${FILTER_MAX[param]} characters`, param);
    }
    trimmed[param] = v;
  }
  let includeBots: boolean;
  try {
    includeBots = resolveIncludeBots(query.include_bots, site.bot_policy);
  } catch {
    throw bad('include_bots must be true or false', 'include_bots');
  }
  const w = await resolveWindow(db, {
    start,
    end,
    timezone: isValidTimeZone(timezone) ? timezone : 'UTC',
  });
  return {
    websiteId: site.id,
    lo: w.lo,
    hi: w.hi,
    includeBots,
    filters: sparklyticsFilters(trimmed),
  };
}

/** reached / of, 0 when `of` is 0 (never NaN or infinite). */
export const ratio = (reached: number, of: number) => (of === 0 ? 0 : reached / of);

/** The saved funnel's step matches in `scope`, as Sparklytics' results. */
export async function funnelResults(
  db: Db,
  funnel: FunnelView,
  scope: SessionScope,
): Promise<FunnelResults> {
  const { reached } = await funnelStatsRepository.walk(db, savedScope(funnel, scope));
  const first = reached[0] ?? 0;
  return {
    funnel_id: funnel.id,
    name: funnel.name,
    total_sessions_entered: first,
    final_conversion_rate: ratio(reached.at(-1) ?? 0, first),
    backfill: funnel.backfill && {
      state: funnel.backfill.state,
      progress: funnel.backfill.progress,
      events_scanned: funnel.backfill.events_scanned,
      started_at: funnel.backfill.started_at,
      finished_at: funnel.backfill.finished_at,
    },
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
