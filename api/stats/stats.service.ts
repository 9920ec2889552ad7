import type { Goal } from '../../shared/db/repositories/goal.repository.js';
import type { Queryable } from '../../shared/db/pool.js';
import {
  statsRepository,
  type ConvertingSessionRow,
  type SessionScope,
} from '../../shared/db/repositories/stats.repository.js';
import { validationError } from '../../shared/errors/errors.js';
import { addDays, daysBetween, type DayRange } from './date-range.js';
import type { SessionFilter } from '../../shared/db/repositories/session-filters.sql.js';
import { localIso, rawRate, round, trendPct } from './stats-params.js';
import type { GoalStats, SessionPage, SessionView } from './stats.schemas.js';

/** A range resolved to instants: [lo, hi) and the previous period [prevLo, lo). */
export interface Window {
  range: DayRange;
  lo: Date;
  hi: Date;
  prevLo: Date;
  days: number;
}

/** Local midnights of the first day, the day after the last, and the previous period's start. */
export async function resolveWindow(q: Queryable, range: DayRange): Promise<Window> {
  const days = daysBetween(range.start, range.end) + 1;
  const [lo, hi, prevLo] = await statsRepository.dayStarts(
    q,
    [range.start, addDays(range.end, 1), addDays(range.start, -days)],
    range.timezone,
  );
  return { range, lo: lo!, hi: hi!, prevLo: prevLo!, days };
}

/** Hour buckets over at most this many days (24 × 31 + 1 points). */
export const MAX_HOURLY_DAYS = 31;

export async function goalStats(
  q: Queryable,
  opts: {
    goal: Goal;
    window: Window;
    includeBots: boolean;
    filters: SessionFilter[];
    timeseries: 'day' | 'hour' | null;
  },
): Promise<GoalStats> {
  const { goal, window: w } = opts;
  const scope: SessionScope = {
    websiteId: goal.website_id,
    lo: w.lo,
    hi: w.hi,
    includeBots: opts.includeBots,
    filters: opts.filters,
  };
  const { current: c, previous: p } = await statsRepository.goalStats(q, {
    ...scope,
    goalId: goal.id,
    prevLo: w.prevLo,
  });
  const hasValue = goal.value_mode !== 'none';
  const rate = rawRate(c.converting_sessions, c.total_sessions);
  // "No events at all" in the previous window: every stored pageview or custom event belongs
  // to a session, so no qualifying session means no qualifying event.
  const prevRate = p.total_sessions === 0 ? null : rawRate(p.converting_sessions, p.total_sessions);
  const out: GoalStats = {
    goal_id: goal.id,
    start_date: w.range.start,
    end_date: w.range.end,
    timezone: w.range.timezone,
    include_bots: opts.includeBots,
    conversions: c.conversions,
    converting_sessions: c.converting_sessions,
    total_sessions: c.total_sessions,
    conversion_rate: round(rate, 4),
    prev_conversions: p.total_sessions === 0 ? null : p.conversions,
    prev_conversion_rate: prevRate === null ? null : round(prevRate, 4),
    trend_pct: trendPct(rate, prevRate),
    currency: goal.currency,
    total_value: hasValue ? Number(c.total_value ?? '0') : null,
    average_value: hasValue && c.average_value !== null ? Number(c.average_value) : null,
  };
  if (opts.timeseries !== null) {
    const hourly = opts.timeseries === 'hour';
    if (hourly && w.days > MAX_HOURLY_DAYS) {
      throw validationError(
        `granularity=hour covers at most ${MAX_HOURLY_DAYS} days`,
        'granularity',
      );
    }
    const count = hourly ? Math.round((w.hi.getTime() - w.lo.getTime()) / 3_600_000) : w.days;
    const rows = await statsRepository.goalTimeseries(
      q,
      { ...scope, goalId: goal.id },
      hourly
        ? { kind: 'hour', count }
        : { kind: 'day', count, startDate: w.range.start, timezone: w.range.timezone },
    );
    out.timeseries = rows.map((r) => ({
      period: hourly
        ? localIso(new Date(w.lo.getTime() + r.i * 3_600_000), w.range.timezone)
        : addDays(w.range.start, r.i),
      conversions: r.conversions,
      converting_sessions: r.converting_sessions,
      total_sessions: r.total_sessions,
      conversion_rate: round(rawRate(r.converting_sessions, r.total_sessions), 4),
      total_value: hasValue ? Number(r.total_value ?? '0') : null,
    }));
  }
  return out;
}

export const toSessionView = (r: ConvertingSessionRow): SessionView => ({
  session_id: r.session_id,
  user_id: r.user_id,
  country: r.country,
  browser: r.browser,
  operating_system: r.os,
  device_type: r.device,
  entry_page: r.entry_page,
  exit_page: r.exit_page,
  pageviews: r.pageviews,
  session_duration: r.duration,
  session_start: r.started_at.toISOString(),
  session_end: r.ended_at.toISOString(),
  referrer: r.referrer_domain,
  channel: r.channel,
});

/** A page of at most `limit` sessions out of `limit + 1` rows read, and the next page's cursor. */
export function sessionPage(rows: readonly ConvertingSessionRow[], limit: number): SessionPage {
  const page = rows.slice(0, limit);
  return {
    data: page.map(toSessionView),
    next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null,
  };
}

/** Opaque keyset cursor: the last row's end (microseconds) and id. */
export const encodeCursor = (r: ConvertingSessionRow): string =>
  Buffer.from(JSON.stringify([r.ended_key, r.session_id])).toString('base64url');

export function decodeCursor(raw: string): { endedKey: string; sessionId: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      isUtcMicros(v[0]) &&
      typeof v[1] === 'string' &&
      v[1].length <= 200 &&
      !v[1].includes('\u0000')
    ) {
      return { endedKey: v[0], sessionId: v[1] };
    }
  } catch {
    // fall through
  }
  throw validationError('cursor is not one this API returned', 'cursor');
}

/** `2026-03-08T12:00:00.123456Z` naming an instant that exists (not 2026-02-30, not 25:00). */
function isUtcMicros(s: string): boolean {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})Z$/.exec(s);
  if (!m) return false;
  const ms = Date.parse(`${m[1]}Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 19) === m[1];
}
