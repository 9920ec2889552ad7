import type { Db } from '../../shared/db/pool.js';
import type { SessionScope } from '../../shared/db/repositories/stats.repository.js';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import { ClientError } from '../../shared/errors/errors.js';
import { addDays, daysBetween, isCalendarDate, isValidTimeZone, todayIn } from './date-range.js';
import { resolveWindow } from './stats.service.js';
import {
  resolveIncludeBots,
  SPARKLYTICS_FILTERS,
  sparklyticsFilters,
  type SparklyticsFilterParam,
} from './stats-params.js';

/**
 * The query rules of Sparklytics' newer routes (funnel results, attribution, revenue summary):
 * every problem is a 400 `validation_error` naming the parameter (the goal statistics routes
 * answer 422), filter values are trimmed and length-checked.
 */

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

export type StrictQuery = Partial<
  Record<'start_date' | 'end_date' | 'timezone' | 'include_bots' | SparklyticsFilterParam, string>
>;

/** A results query problem: 400 `validation_error` naming the parameter. */
const bad = (message: string, field: string) =>
  new ClientError(400, 'validation_error', message, field);

/**
 * The window and sessions a query asks for. Dates are strict `YYYY-MM-DD`; `end_date` defaults
 * to today in the effective time zone (`timezone`, else the website's), `start_date` to
 * `days.default − 1` days before the end; at most `days.max` days. The window runs from local
 * midnight of the first day to local midnight after the last. Filter values are trimmed; a
 * blank or too long one is refused.
 */
export async function strictScope(
  db: Db,
  site: Website,
  query: StrictQuery,
  days: { default: number; max: number },
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
  const start = query.start_date ?? addDays(end, -(days.default - 1));
  const span = daysBetween(start, end) + 1;
  if (span < 1) throw bad('end_date is before start_date', 'end_date');
  if (span > days.max) {
    throw bad(`date range too large: ${span} days (max ${days.max})`, 'start_date');
  }
  const trimmed: StrictQuery = {};
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
