import type { Queryable } from '../pool.js';
import { sessionFilterSql, type SessionFilter } from './session-filters.sql.js';
import { SqlParams } from '../sql-params.js';

/**
 * Goal statistics. They read the conversions the processor precomputed and the `sessions`
 * table; raw events are only probed for the event-level session filters.
 *
 * "Sessions with any event in [lo, hi)" is computed as "sessions whose span
 * [started_at, ended_at] overlaps [lo, hi)". The two are the same because a session never has
 * a gap longer than 30 minutes between consecutive events (ingest starts a new session after
 * 30 minutes of inactivity, see ingest/sessions/session.store.ts) while every range or bucket
 * asked here is at least one hour long: a session that overlaps a bucket has an event in it.
 */

/** An instant bound: ISO string, Date, or `-infinity`/`infinity` for "all retained data". */
export type Instant = Date | string;

/** Which sessions count: website, overlap window, bot setting, filters. */
export interface SessionScope {
  websiteId: string;
  lo: Instant;
  hi: Instant;
  includeBots: boolean;
  filters: readonly SessionFilter[];
}

export interface GoalPeriodRow {
  total_sessions: number;
  conversions: number;
  converting_sessions: number;
  /** Exact decimal text; null when no conversion had a value. */
  total_value: string | null;
  /** Conversions that carried a value. */
  valued: number;
  /** Exact decimal text of total_value / valued (20 decimal places), null when none. */
  average_value: string | null;
}

export interface GoalStatsResult {
  current: GoalPeriodRow;
  previous: GoalPeriodRow;
}

export interface TimeseriesRow {
  i: number;
  total_sessions: number;
  conversions: number;
  converting_sessions: number;
  total_value: string | null;
}

/** Day buckets are local calendar days from `startDate`; hour buckets are hours from `lo`. */
export type Buckets =
  | { kind: 'day'; startDate: string; timezone: string; count: number }
  | { kind: 'hour'; count: number };

export interface GoalListMetricsRow {
  goal_id: string;
  converting_sessions: number;
  conversions: number;
}

export interface ConvertingSessionRow {
  session_id: string;
  user_id: string | null;
  country: string | null;
  browser: string | null;
  os: string | null;
  device: string | null;
  entry_page: string | null;
  exit_page: string | null;
  pageviews: number;
  duration: number;
  started_at: Date;
  ended_at: Date;
  /** `ended_at` with microseconds, UTC, for keyset cursors. */
  ended_key: string;
  referrer_domain: string | null;
  channel: string | null;
  total: number;
}

/** Placeholders of a scope's website, window bounds and bot setting. */
export interface ScopeParams {
  w: string;
  lo: string;
  hi: string;
  bots: string;
}

export function scopeParams(scope: SessionScope, p: SqlParams): ScopeParams {
  return {
    w: p.add(scope.websiteId),
    lo: p.add(scope.lo, 'timestamptz'),
    hi: p.add(scope.hi, 'timestamptz'),
    bots: p.add(scope.includeBots, 'boolean'),
  };
}

/** The qualifying sessions of `scope` (placeholders `sp`), selecting `columns`. */
export function scopedSessionsSql(
  scope: SessionScope,
  sp: ScopeParams,
  p: SqlParams,
  columns: string,
): string {
  return `SELECT ${columns} FROM sessions s
     WHERE s.website_id = ${sp.w} AND s.started_at < ${sp.hi} AND s.ended_at >= ${sp.lo}
       AND (${sp.bots} OR NOT s.is_bot)
       AND ${sessionFilterSql(scope.filters, p)}`;
}

/** A session row's `ended_at` as the exact text of a keyset cursor (`ended_key`). */
export const endedKeySql = (alias: string) =>
  `to_char(${alias}.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * SQL: the session row `alias` comes after the cursor `after` in newest-`ended_at`-first,
 * then `session_id` order (every row when there is none).
 */
export function afterEndedSql(
  alias: string,
  p: SqlParams,
  after?: { endedKey: string; sessionId: string },
): string {
  if (!after) return 'true';
  const k = p.add(after.endedKey, 'timestamptz');
  const id = p.add(after.sessionId);
  return `(${alias}.ended_at < ${k} OR (${alias}.ended_at = ${k} AND ${alias}.session_id > ${id}))`;
}

/** SQL: `alias.session_id` belongs to a qualifying session of the scope. */
export function qualifiesSql(
  scope: SessionScope,
  sp: ScopeParams,
  p: SqlParams,
  alias: string,
): string {
  if (scope.filters.length > 0) {
    return `${alias}.session_id IN (${scopedSessionsSql(scope, sp, p, 's.session_id')})`;
  }
  // No filters: only bot sessions are left out, read from the small partial index of
  // migration 008 into one hash (see unfilteredConversionsCte).
  return `${alias}.session_id NOT IN (
      SELECT b.session_id FROM sessions b
       WHERE NOT ${sp.bots} AND b.website_id = ${sp.w} AND b.is_bot
         AND b.ended_at >= ${sp.lo} AND b.started_at < ${sp.hi})`;
}

/** An instant on a 15-minute boundary (UTC), or ±infinity: a bucket bound of session_counts. */
function onBucketBoundary(t: Instant): boolean {
  if (t === 'infinity' || t === '-infinity') return true;
  const ms = (t instanceof Date ? t : new Date(t)).getTime();
  return Number.isFinite(ms) && ms % 900_000 === 0;
}

/**
 * Whether the qualifying sessions of `scope` can be counted from `session_counts`
 * (migration 006) instead of scanning `sessions`: no filters (the rollup keeps only the bot
 * flag) and every bound on a bucket boundary (always true for local midnights and hours in
 * today's time zones; anything else takes the scan, which gives the same numbers).
 */
const countable = (scope: SessionScope, ...bounds: Instant[]): boolean =>
  scope.filters.length === 0 && bounds.every(onBucketBoundary);

/**
 * Scalar SQL: the sessions of website `w` open at `lo` (started before it, not ended before
 * it; bots included when `bots`), by two index probes: sessions that started in the day before
 * `lo` (covering index), and sessions longer than a day (partial index, rare). Arguments are
 * SQL expressions (placeholders with their casts).
 */
function openAtSql(w: string, lo: string, bots: string): string {
  const open = (cond: string) => `(SELECT count(*) FROM sessions o
       WHERE o.website_id = ${w} AND ${cond} AND o.ended_at >= ${lo}
         AND (${bots} OR NOT o.is_bot))`;
  return `(${open(`o.started_at < ${lo} AND o.started_at >= ${lo} - interval '1 day'`)}
    + ${open(`o.duration > 86400 AND o.started_at < ${lo} - interval '1 day'`)})`;
}

/**
 * Scalar SQL: sessions of website `w` overlapping [lo, hi), as the sessions that started in
 * [lo, hi), summed from the 15-minute buckets of `session_counts`, plus those open at `lo`.
 */
function sessionCountSql(w: string, lo: string, hi: string, bots: string): string {
  return `((SELECT coalesce(sum(k.starts), 0) FROM session_counts k
      WHERE k.website_id = ${w} AND k.bucket >= ${lo} AND k.bucket < ${hi}
        AND (${bots} OR NOT k.is_bot))
    + ${openAtSql(w, lo, bots)})::int`;
}

/**
 * CTE `c`: the conversions of the goals `goals` of website `w` in [lo, hi), without those of
 * bot sessions unless `bots` (the counterpart of joining conversions to the scanned sessions
 * when there are no filters). A conversion in [lo, hi) belongs to a session overlapping
 * [lo, hi), so the bot sessions to exclude are read from the small partial index of migration
 * 008 into one hash (`NOT IN` is a hashed subplan; `OFFSET 0` keeps it above the chunks'
 * Append, else it is rebuilt for every chunk), instead of probing `sessions` once per
 * conversion. (`NOT EXISTS` let the planner pick a merge anti-join that sorted every
 * conversion by session id: 3x slower for a goal list; a MATERIALIZED CTE in between cost
 * ~10 ms more.) A conversion whose session row is gone, which only retention can cause, counts
 * here and not in the filtered path; retention removes both by the same cutoff. Arguments are
 * SQL expressions.
 */
function unfilteredConversionsCte(
  goals: string,
  w: string,
  lo: string,
  hi: string,
  bots: string,
): string {
  return `c AS (
       SELECT * FROM (
         SELECT c.goal_id, c.event_time, c.session_id, c.value FROM conversions c
          WHERE c.goal_id = ANY(${goals}) AND c.website_id = ${w}
            AND c.event_time >= ${lo} AND c.event_time < ${hi}
         OFFSET 0) c
        WHERE c.session_id NOT IN (
          SELECT b.session_id FROM sessions b
           WHERE NOT ${bots} AND b.website_id = ${w} AND b.is_bot
             AND b.ended_at >= ${lo} AND b.started_at < ${hi}))`;
}

const PERIOD_COLUMNS = [
  'total_sessions',
  'conversions',
  'converting_sessions',
  'total_value',
  'valued',
  'average_value',
] as const;

/** Rybbit's bucket sizes for goal series (`goals/time-series`, `goals/preview`). */
export const GOAL_BUCKETS = [
  'minute',
  'five_minutes',
  'ten_minutes',
  'fifteen_minutes',
  'hour',
  'day',
  'week',
  'month',
  'year',
] as const;
export type GoalBucket = (typeof GOAL_BUCKETS)[number];

/**
 * SQL: the local start (timestamp without time zone, in `tz`) of the bucket holding the
 * instant `t`. Weeks start on Monday (ISO, as `date_trunc`); the n-minute buckets are aligned
 * to the local hour.
 */
function bucketStartSql(bucket: GoalBucket, t: string, tz: string): string {
  const local = `(${t} AT TIME ZONE ${tz})`;
  switch (bucket) {
    case 'five_minutes':
    case 'ten_minutes':
    case 'fifteen_minutes': {
      const n = { five_minutes: 5, ten_minutes: 10, fifteen_minutes: 15 }[bucket];
      return `date_bin(interval '${n} minutes', ${local}, timestamp '2000-01-01')`;
    }
    default:
      return `date_trunc('${bucket}', ${local})`;
  }
}

/** The step between local bucket starts. */
function bucketStepSql(bucket: GoalBucket): string {
  return {
    minute: "interval '1 minute'",
    five_minutes: "interval '5 minutes'",
    ten_minutes: "interval '10 minutes'",
    fifteen_minutes: "interval '15 minutes'",
    hour: "interval '1 hour'",
    day: "interval '1 day'",
    week: "interval '1 week'",
    month: "interval '1 month'",
    year: "interval '1 year'",
  }[bucket];
}

export interface GoalBucketRow {
  /** Bucket start in the requested zone, `YYYY-MM-DD HH:MI:SS`. */
  time: string;
  goal_id: string;
  conversions: number;
  total_sessions: number;
}

export const statsRepository = {
  /**
   * The instants at which the given local calendar dates begin in `timezone` (PostgreSQL's
   * DST rules: a date whose midnight does not exist starts at the first existing instant).
   */
  async dayStarts(q: Queryable, dates: readonly string[], timezone: string): Promise<Date[]> {
    const { rows } = await q.query<{ t: Date }>(
      'stats.day_starts',
      `SELECT (d::timestamp AT TIME ZONE $2) AS t FROM unnest($1::date[]) WITH ORDINALITY AS u(d, n)
        ORDER BY n`,
      [dates, timezone],
    );
    return rows.map((r) => r.t);
  },

  /** When a website's stored sessions begin and end (first start, last end); null when none. */
  async sessionSpan(
    q: Queryable,
    websiteId: string,
  ): Promise<{ lo: Date | null; hi: Date | null }> {
    const { rows } = await q.query<{ lo: Date | null; hi: Date | null }>(
      'stats.session_span',
      'SELECT min(started_at) AS lo, max(ended_at) AS hi FROM sessions WHERE website_id = $1',
      [websiteId],
    );
    return rows[0] ?? { lo: null, hi: null };
  },

  /**
   * One goal over the current period [lo, hi) and the previous one [prevLo, lo), in one query:
   * the qualifying sessions of both periods are selected once, conversions are joined to them
   * (so filters and the bot setting apply per session), and values are summed as `numeric`.
   */
  async goalStats(
    q: Queryable,
    scope: SessionScope & { goalId: string; prevLo: Instant },
  ): Promise<GoalStatsResult> {
    const period = (cond: string, totalSessions: string, p: string) => `
      ${totalSessions} AS ${p}total_sessions,
      count(*) FILTER (WHERE ${cond})::int AS ${p}conversions,
      count(DISTINCT c.session_id) FILTER (WHERE ${cond})::int AS ${p}converting_sessions,
      (sum(c.value) FILTER (WHERE ${cond}))::text AS ${p}total_value,
      count(c.value) FILTER (WHERE ${cond})::int AS ${p}valued,
      round(sum(c.value) FILTER (WHERE ${cond}) / NULLIF(count(c.value) FILTER (WHERE ${cond}), 0), 20)::text
        AS ${p}average_value`;
    let text: string;
    const p = new SqlParams();
    if (countable(scope, scope.prevLo, scope.lo, scope.hi)) {
      const w = p.add(scope.websiteId);
      const lo = p.add(scope.lo, 'timestamptz');
      const plo = p.add(scope.prevLo, 'timestamptz');
      const hi = p.add(scope.hi, 'timestamptz');
      const bots = p.add(scope.includeBots, 'boolean');
      const goals = p.add([scope.goalId], 'text[]');
      text = `WITH ${unfilteredConversionsCte(goals, w, plo, hi, bots)}
       SELECT ${period(`c.event_time >= ${lo}`, sessionCountSql(w, lo, hi, bots), '')},
              ${period(`c.event_time < ${lo}`, sessionCountSql(w, plo, lo, bots), 'p_')}
         FROM c`;
    } else {
      const sp = scopeParams({ ...scope, lo: scope.prevLo }, p);
      const s = scopedSessionsSql(scope, sp, p, 's.session_id, s.started_at, s.ended_at');
      const goal = p.add(scope.goalId);
      const lo = p.add(scope.lo, 'timestamptz');
      const count = (cond: string) => `(SELECT count(*) FROM s WHERE ${cond})::int`;
      text = `WITH s AS MATERIALIZED (${s}),
       c AS (
         SELECT c.event_time, c.session_id, c.value
           FROM conversions c JOIN s ON s.session_id = c.session_id
          WHERE c.goal_id = ${goal} AND c.website_id = ${sp.w}
            AND c.event_time >= ${sp.lo} AND c.event_time < ${sp.hi}
       )
       SELECT ${period(`c.event_time >= ${lo}`, count(`s.ended_at >= ${lo}`), '')},
              ${period(`c.event_time < ${lo}`, count(`s.started_at < ${lo}`), 'p_')}
         FROM c`;
    }
    const { rows } = await q.query<Record<string, string | number | null>>(
      'stats.goal_stats',
      text,
      p.values,
    );
    const r = rows[0]!;
    const pick = (prefix: string) =>
      Object.fromEntries(
        PERIOD_COLUMNS.map((k) => [k, r[`${prefix}${k}`]]),
      ) as unknown as GoalPeriodRow;
    return { current: pick(''), previous: pick('p_') };
  },

  /**
   * Per-bucket totals, zero-filled with generate_series (the Apache edition has no
   * time_bucket_gapfill). A session counts in every bucket its span overlaps; a conversion in
   * the bucket of its event time. Day buckets follow local calendar days (23 or 25 hours
   * across DST); hour buckets are real hours from `lo`, so a DST day has 23 or 25 of them.
   */
  async goalTimeseries(
    q: Queryable,
    scope: SessionScope & { goalId: string },
    buckets: Buckets,
  ): Promise<TimeseriesRow[]> {
    const fast = countable(scope, scope.lo, scope.hi);
    const p = new SqlParams();
    const sp = scopeParams(scope, p);
    const sessionsCte = fast
      ? unfilteredConversionsCte(p.add([scope.goalId], 'text[]'), sp.w, sp.lo, sp.hi, sp.bots)
      : `s AS MATERIALIZED (${scopedSessionsSql(scope, sp, p, 's.session_id, s.started_at, s.ended_at')}),
       c AS (
         SELECT c.event_time, c.session_id, c.value
           FROM conversions c JOIN s ON s.session_id = c.session_id
          WHERE c.goal_id = ${p.add(scope.goalId)} AND c.website_id = ${sp.w}
            AND c.event_time >= ${sp.lo} AND c.event_time < ${sp.hi}
       )`;
    const n = p.add(buckets.count, 'int');
    let idx: (t: string) => string;
    if (buckets.kind === 'day') {
      const d0 = p.add(buckets.startDate, 'date');
      const tz = p.add(buckets.timezone);
      idx = (t) => `((${t} AT TIME ZONE ${tz})::date - ${d0})`;
    } else {
      idx = (t) => `floor(extract(epoch FROM ${t} - ${sp.lo}) / 3600)::int`;
    }
    // Sessions per bucket. From the rollup: a bucket's sessions are those that start in it
    // plus those open at its start, and open(b) = open(lo) + starts − ends over [lo, b). From
    // the scan: a session counts in every bucket its span overlaps.
    const sb = fast
      ? `k AS (
         SELECT ${idx('k.bucket')} AS i, sum(k.starts) AS st, sum(k.ends) AS en
           FROM session_counts k
          WHERE k.website_id = ${sp.w} AND k.bucket >= ${sp.lo} AND k.bucket < ${sp.hi}
            AND (${sp.bots} OR NOT k.is_bot)
          GROUP BY 1
       ),
       sb AS (
         SELECT g.i, (coalesce(k.st, 0) + ${openAtSql(sp.w, sp.lo, sp.bots)}
                 + coalesce(sum(coalesce(k.st, 0) - coalesce(k.en, 0))
                     OVER (ORDER BY g.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))::int AS n
           FROM generate_series(0, ${n} - 1) AS g(i) LEFT JOIN k ON k.i = g.i
       )`
      : `sb AS (
         SELECT i, count(*)::int AS n
           FROM s, generate_series(greatest(${idx('s.started_at')}, 0),
                                   least(${idx('s.ended_at')}, ${n} - 1)) AS i
          GROUP BY i
       )`;
    const { rows } = await q.query<TimeseriesRow>(
      'stats.goal_timeseries',
      `WITH ${sessionsCte},
       ${sb},
       cb AS (
         SELECT ${idx('c.event_time')} AS i, count(*)::int AS conversions,
                count(DISTINCT c.session_id)::int AS converting_sessions,
                sum(c.value)::text AS total_value
           FROM c GROUP BY 1
       )
       SELECT g.i, COALESCE(sb.n, 0) AS total_sessions, COALESCE(cb.conversions, 0) AS conversions,
              COALESCE(cb.converting_sessions, 0) AS converting_sessions, cb.total_value
         FROM generate_series(0, ${n} - 1) AS g(i)
         LEFT JOIN sb ON sb.i = g.i LEFT JOIN cb ON cb.i = g.i
        ORDER BY g.i`,
      p.values,
    );
    return rows;
  },

  /**
   * Rybbit's goal time series: per bucket (local starts in `tz`) and goal, the sessions of the
   * scope with a conversion of the goal in the bucket, and the scope's sessions overlapping the
   * bucket (a session counts in every bucket its span touches, as in {@link goalTimeseries}).
   * Only buckets holding a session give rows, ordered by time and goal id. The span is clipped
   * to [lo, hi), so both dialects count the same sessions for the same window.
   */
  async goalBucketSeries(
    q: Queryable,
    scope: SessionScope & { goalIds: readonly string[] },
    bucket: GoalBucket,
    tz: string,
  ): Promise<GoalBucketRow[]> {
    const p = new SqlParams();
    const sp = scopeParams(scope, p);
    const zone = p.add(tz);
    const goals = p.add(scope.goalIds, 'text[]');
    const start = (t: string) => bucketStartSql(bucket, t, zone);
    const { rows } = await q.query<GoalBucketRow>(
      'stats.goal_bucket_series',
      `WITH s AS MATERIALIZED (${scopedSessionsSql(scope, sp, p, 's.session_id, s.started_at, s.ended_at')}),
       sb AS (
         SELECT b.t, count(*)::int AS n
           FROM s, generate_series(${start(`greatest(s.started_at, ${sp.lo})`)},
                                   ${start(`least(s.ended_at, ${sp.hi} - interval '1 microsecond')`)},
                                   ${bucketStepSql(bucket)}) AS b(t)
          GROUP BY b.t
       ),
       cb AS (
         SELECT ${start('c.event_time')} AS t, c.goal_id, count(DISTINCT c.session_id)::int AS n
           FROM conversions c JOIN s ON s.session_id = c.session_id
          WHERE c.goal_id = ANY(${goals}) AND c.website_id = ${sp.w}
            AND c.event_time >= ${sp.lo} AND c.event_time < ${sp.hi}
          GROUP BY 1, 2
       )
       SELECT to_char(sb.t, 'YYYY-MM-DD HH24:MI:SS') AS time, g.goal_id,
              coalesce(cb.n, 0) AS conversions, sb.n AS total_sessions
         FROM sb CROSS JOIN unnest(${goals}) AS g(goal_id)
         LEFT JOIN cb ON cb.t = sb.t AND cb.goal_id = g.goal_id
        ORDER BY sb.t, g.goal_id`,
      p.values,
    );
    return rows;
  },

  /** The scope's sessions that converted on any of `goalIds` in [lo, hi). */
  async convertingAnyCount(
    q: Queryable,
    scope: SessionScope & { goalIds: readonly string[] },
  ): Promise<number> {
    const p = new SqlParams();
    const sp = scopeParams(scope, p);
    const { rows } = await q.query<{ n: number }>(
      'stats.converting_any',
      `SELECT count(DISTINCT c.session_id)::int AS n
         FROM conversions c
         JOIN (${scopedSessionsSql(scope, sp, p, 's.session_id')}) s ON s.session_id = c.session_id
        WHERE c.goal_id = ANY(${p.add(scope.goalIds, 'text[]')}) AND c.website_id = ${sp.w}
          AND c.event_time >= ${sp.lo} AND c.event_time < ${sp.hi}`,
      p.values,
    );
    return rows[0]?.n ?? 0;
  },

  /**
   * A goal preview from raw events: `condition` (SQL from {@link goalConditionSql}, its
   * parameters already in `p`, events aliased `e`) over the events of the scope's sessions in
   * [lo, hi). Conversions are the sessions with a matching event; the series gives them per
   * bucket (rows only for buckets with one). Runs under `timeoutMs` of statement timeout.
   */
  async goalPreview(
    db: { tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> },
    scope: SessionScope,
    p: SqlParams,
    condition: string,
    bucket: GoalBucket,
    tz: string,
    timeoutMs: number,
  ): Promise<{
    conversions: number;
    total_sessions: number;
    series: Array<{ time: string; conversions: number }>;
  }> {
    const sp = scopeParams(scope, p);
    const zone = p.add(tz);
    return db.tx(async (q) => {
      await q.query('stats.preview_timeout', `SELECT set_config('statement_timeout', $1, true)`, [
        String(Math.max(1, Math.floor(timeoutMs))),
      ]);
      const { rows } = await q.query<{ t: string | null; n: number; total: number }>(
        'stats.goal_preview',
        `WITH s AS MATERIALIZED (${scopedSessionsSql(scope, sp, p, 's.session_id')}),
         m AS (
           SELECT e.session_id, e.event_time FROM events e JOIN s ON s.session_id = e.session_id
            WHERE e.website_id = ${sp.w} AND e.event_time >= ${sp.lo} AND e.event_time < ${sp.hi}
              AND (${sp.bots} OR NOT e.is_bot) AND ${condition}
         )
         SELECT NULL AS t, count(DISTINCT m.session_id)::int AS n, (SELECT count(*) FROM s)::int AS total FROM m
         UNION ALL
         SELECT to_char(${bucketStartSql(bucket, 'm.event_time', zone)}, 'YYYY-MM-DD HH24:MI:SS'),
                count(DISTINCT m.session_id)::int, 0
           FROM m GROUP BY 1
         ORDER BY 1 NULLS FIRST`,
        p.values,
      );
      const head = rows[0]!;
      return {
        conversions: head.n,
        total_sessions: head.total,
        series: rows.slice(1).map((r) => ({ time: r.t!, conversions: r.n })),
      };
    });
  },

  /**
   * Converting sessions and conversions of every given goal, plus the qualifying sessions, in
   * ONE query (the Rybbit goal list shows a page of goals with their metrics).
   */
  async goalListMetrics(
    q: Queryable,
    scope: SessionScope & { goalIds: readonly string[] },
  ): Promise<{ total_sessions: number; goals: Map<string, GoalListMetricsRow> }> {
    const p = new SqlParams();
    const sp = scopeParams(scope, p);
    const goals = p.add(scope.goalIds, 'text[]');
    let text: string;
    if (countable(scope, scope.lo, scope.hi)) {
      // Conversions per (goal, session) first, then per goal: two hash aggregates instead of
      // count(DISTINCT), which sorts every conversion of the page's goals.
      text = `WITH ${unfilteredConversionsCte(goals, sp.w, sp.lo, sp.hi, sp.bots)},
       per AS (SELECT c.goal_id, c.session_id, count(*) AS n FROM c GROUP BY 1, 2)
       SELECT g.goal_id, ${sessionCountSql(sp.w, sp.lo, sp.hi, sp.bots)} AS total_sessions,
              count(per.session_id)::int AS converting_sessions,
              coalesce(sum(per.n), 0)::int AS conversions
         FROM unnest(${goals}) AS g(goal_id) LEFT JOIN per ON per.goal_id = g.goal_id
        GROUP BY g.goal_id`;
    } else {
      text = `WITH s AS MATERIALIZED (${scopedSessionsSql(scope, sp, p, 's.session_id')})
       SELECT g.goal_id, (SELECT count(*) FROM s)::int AS total_sessions,
              count(DISTINCT c.session_id)::int AS converting_sessions,
              count(c.session_id)::int AS conversions
         FROM unnest(${goals}) AS g(goal_id)
         LEFT JOIN (conversions c JOIN s ON s.session_id = c.session_id)
           ON c.goal_id = g.goal_id AND c.website_id = ${sp.w}
          AND c.event_time >= ${sp.lo} AND c.event_time < ${sp.hi}
        GROUP BY g.goal_id`;
    }
    const { rows } = await q.query<GoalListMetricsRow & { total_sessions: number }>(
      'stats.goal_list_metrics',
      text,
      p.values,
    );
    let total = rows[0]?.total_sessions;
    if (total === undefined) {
      // No goals (the unnest is empty): the session count still answers.
      const cp = new SqlParams();
      const r = await q.query<{ n: number }>(
        'stats.session_count',
        `SELECT count(*)::int AS n
           FROM (${scopedSessionsSql(scope, scopeParams(scope, cp), cp, 's.session_id')}) x`,
        cp.values,
      );
      total = r.rows[0]!.n;
    }
    return { total_sessions: total, goals: new Map(rows.map((r) => [r.goal_id, r])) };
  },

  /**
   * Sessions of the scope with at least one conversion of the goal in [lo, hi), newest
   * `ended_at` first, then `session_id` ascending. Paged by offset (`total` is the full count)
   * or by keyset (`after`: the last row's `ended_key` and `session_id`).
   */
  async convertingSessions(
    q: Queryable,
    scope: SessionScope & { goalId: string },
    page: { limit: number; offset?: number; after?: { endedKey: string; sessionId: string } },
  ): Promise<ConvertingSessionRow[]> {
    const p = new SqlParams();
    const sp = scopeParams(scope, p);
    const cols = `s.session_id, s.user_id, s.country, s.browser, s.os, s.device, s.entry_page,
      s.exit_page, s.pageviews, s.duration, s.started_at, s.ended_at, s.referrer_domain, s.channel`;
    let source: string;
    if (scope.filters.length === 0) {
      // Driven by the goal's conversions (a converting session overlaps the window by
      // definition), then one primary-key probe per converting session: no scan of every
      // session of the window.
      const goals = p.add([scope.goalId], 'text[]');
      source = `WITH ${unfilteredConversionsCte(goals, sp.w, sp.lo, sp.hi, sp.bots)}
        SELECT ${cols} FROM sessions s
         WHERE s.website_id = ${sp.w} AND s.session_id IN (SELECT c.session_id FROM c)`;
    } else {
      source = `${scopedSessionsSql(scope, sp, p, cols)}
           AND s.session_id IN (
             SELECT c.session_id FROM conversions c
              WHERE c.goal_id = ${p.add(scope.goalId)} AND c.website_id = ${sp.w}
                AND c.event_time >= ${sp.lo} AND c.event_time < ${sp.hi})`;
    }
    const { rows } = await q.query<ConvertingSessionRow>(
      'stats.converting_sessions',
      `SELECT q.*, ${endedKeySql('q')} AS ended_key, count(*) OVER ()::int AS total
         FROM (${source}) q
        WHERE ${afterEndedSql('q', p, page.after)}
        ORDER BY q.ended_at DESC, q.session_id ASC
        LIMIT ${p.add(page.limit)} OFFSET ${p.add(page.offset ?? 0)}`,
      p.values,
    );
    return rows;
  },
};
