import type { Db } from '../../shared/db/pool.js';
import { SqlParams } from '../../shared/db/sql-params.js';
import {
  statsRepository,
  type GoalBucket,
  type SessionScope,
} from '../../shared/db/repositories/stats.repository.js';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import { ClientError, validationError } from '../../shared/errors/errors.js';
import { goalConditionSql } from '../../shared/matching/goal-condition-sql.js';
import { resolveRybbitGoal } from '../goals/goal-input.js';
import type { RybbitGoalInput } from '../goals/goal.schemas.js';
import { addDays, isValidTimeZone, resolveDayRange, todayIn } from './date-range.js';
import { resolveWindow } from './stats.service.js';
import { parseRybbitFilters, rawRate, resolveIncludeBots } from './stats-params.js';
import type { GoalPreview } from './stats.schemas.js';

/** The query parameters every Rybbit statistics route takes. */
export interface RybbitScopeQuery {
  start_date?: string;
  end_date?: string;
  time_zone?: string;
  filters?: string;
}

/** At most this many buckets per time-series request. */
export const MAX_SERIES_BUCKETS = 2_000;
/** A preview reads raw events: its window is at most this many days… */
export const MAX_PREVIEW_DAYS = 90;
/** …and its query runs at most this long. */
export const PREVIEW_TIMEOUT_MS = 10_000;

/** Shortest length of each bucket in ms (months and years vary; the cap uses their minimum). */
const BUCKET_MS: Record<GoalBucket, number> = {
  minute: 60_000,
  five_minutes: 300_000,
  ten_minutes: 600_000,
  fifteen_minutes: 900_000,
  hour: 3_600_000,
  day: 82_800_000, // a 23-hour DST day
  week: 7 * 86_400_000 - 3_600_000,
  month: 28 * 86_400_000 - 3_600_000,
  year: 365 * 86_400_000 - 3_600_000,
};

/**
 * Rybbit scope: both dates absent → all retained data; otherwise the Sparklytics rules (one
 * absent is defaulted from the other, 400-day cap). Rybbit has no bot parameter: the website's
 * bot policy decides.
 */
export async function rybbitScope(
  db: Db,
  site: Website,
  query: RybbitScopeQuery,
): Promise<SessionScope> {
  const tz = { timezone: query.time_zone, websiteTimezone: site.timezone };
  const filters = parseRybbitFilters(query.filters);
  const includeBots = resolveIncludeBots(undefined, site.bot_policy);
  if (query.start_date === undefined && query.end_date === undefined) {
    // Still validate the time zone, which would otherwise be silently ignored.
    resolveDayRange({ ...tz, timezoneField: 'time_zone' });
    return { websiteId: site.id, lo: '-infinity', hi: 'infinity', includeBots, filters };
  }
  const range = resolveDayRange({
    start_date: query.start_date,
    end_date: query.end_date,
    ...tz,
    timezoneField: 'time_zone',
  });
  const w = await resolveWindow(db, range);
  return { websiteId: site.id, lo: w.lo, hi: w.hi, includeBots, filters };
}

/** The scope's window length in ms; an unbounded window takes the website's sessions' span. */
async function windowMs(db: Db, scope: SessionScope): Promise<number> {
  if (scope.lo !== '-infinity' && scope.hi !== 'infinity') {
    return new Date(scope.hi).getTime() - new Date(scope.lo).getTime();
  }
  const { lo, hi } = await statsRepository.sessionSpan(db, scope.websiteId);
  return lo && hi ? hi.getTime() - lo.getTime() : 0;
}

/** 400 naming `bucket` when the scope's window holds more than {@link MAX_SERIES_BUCKETS}. */
export async function checkBucketCount(
  db: Db,
  scope: SessionScope,
  bucket: GoalBucket,
): Promise<void> {
  const n = Math.floor((await windowMs(db, scope)) / BUCKET_MS[bucket]) + 1;
  if (n > MAX_SERIES_BUCKETS) {
    throw validationError(
      `the window holds more than ${MAX_SERIES_BUCKETS} ${bucket} buckets; use a larger bucket or a shorter window`,
      'bucket',
    );
  }
}

/**
 * What an unsaved Rybbit goal would have converted, from raw events: the goal is resolved as
 * a create would resolve it, the window defaults to the last {@link MAX_PREVIEW_DAYS} days and
 * may be no longer, and the query runs under `timeoutMs` of statement timeout (past it: 400
 * `preview_timeout`). A condition SQL cannot reproduce exactly is a 400 `unsupported_condition`.
 */
export async function previewRybbitGoal(
  db: Db,
  website: Website,
  input: RybbitGoalInput,
  query: RybbitScopeQuery,
  bucket: GoalBucket,
  timeoutMs: number,
): Promise<GoalPreview> {
  const fields = resolveRybbitGoal(null, input);
  const scope = await rawEventsScope(db, website, query, 'preview');
  await checkBucketCount(db, scope, bucket);
  const params = new SqlParams();
  const condition = goalConditionSql(
    {
      ...fields,
      id: 'preview',
      website_id: website.id,
      definition_version: 1,
      name: undefined,
    } as unknown as Parameters<typeof goalConditionSql>[0],
    params,
  );
  if (condition === null) {
    throw new ClientError(400, 'unsupported_condition', 'Invalid goal configuration', 'config');
  }
  const tz = query.time_zone ?? website.timezone;
  try {
    const r = await statsRepository.goalPreview(
      db,
      scope,
      params,
      condition,
      bucket,
      tz,
      timeoutMs,
    );
    return { ...r, conversion_rate: rawRate(r.conversions, r.total_sessions) };
  } catch (err) {
    if ((err as { code?: string }).code === '57014') {
      throw new ClientError(
        400,
        'preview_timeout',
        'the preview took too long; use a shorter window',
        'start_date',
      );
    }
    throw err;
  }
}

/**
 * The scope of a query over raw events (a goal preview, an ad-hoc funnel analysis): the Rybbit
 * parameters, the last {@link MAX_PREVIEW_DAYS} days when no date is given, and never longer
 * (400 naming `start_date`).
 */
export async function rawEventsScope(
  db: Db,
  website: Website,
  query: RybbitScopeQuery,
  what: 'preview' | 'analysis',
): Promise<SessionScope> {
  const scope = await rybbitScope(db, website, previewQuery(website, query));
  const ms = await windowMs(db, scope);
  if (ms > MAX_PREVIEW_DAYS * 86_400_000 + 3_600_000) {
    throw validationError(
      `a${what === 'analysis' ? 'n' : ''} ${what} window is at most ${MAX_PREVIEW_DAYS} days`,
      'start_date',
    );
  }
  return scope;
}

/** With both dates absent, a preview covers the last {@link MAX_PREVIEW_DAYS} days. */
function previewQuery<Q extends RybbitScopeQuery>(website: Website, q: Q): Q {
  if (q.start_date !== undefined || q.end_date !== undefined) return q;
  const zone = q.time_zone && isValidTimeZone(q.time_zone) ? q.time_zone : website.timezone;
  return { ...q, start_date: addDays(todayIn(zone), -(MAX_PREVIEW_DAYS - 1)) };
}
