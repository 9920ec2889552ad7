import type { ConditionRenderer } from './conversion.repository.js';
import type { Queryable } from '../pool.js';
import { SqlParams } from '../sql-params.js';
import {
  afterEndedSql,
  endedKeySql,
  qualifiesSql,
  scopeParams,
  type ConvertingSessionRow,
  type ScopeParams,
  type SessionScope,
} from './stats.repository.js';

/**
 * Funnel results. A funnel's steps are walked per session over its *step matches*
 * `m(mask, session_id, t, q, i)`: the event time, arrival sequence and event id of every event
 * of the window that matches a step, and the steps it matches as bits (step n: 1 << (n − 1)).
 * Step 1 is reached at the session's earliest match; step n at the earliest match of step n
 * strictly after step n−1's in (t, q, i), so one event never counts for two steps and
 * same-time events advance in the order they arrived. With a conversion window, every step
 * must follow step 1 within it. Only the qualifying sessions' events count (filters select
 * sessions, as in goal statistics; bot sessions unless asked).
 *
 * The matches come from one of two sources:
 * - a saved funnel's step goals: their conversions, which the processor writes as events
 *   arrive and the backfill writes for the past, so a saved funnel never reads raw events;
 * - ad-hoc steps (Rybbit's analyze): the window's raw events, each step's condition rendered
 *   as SQL by the goal matcher's own module (`goal-condition-sql.ts`).
 */
export type StepSource =
  | { kind: 'saved'; stepGoalIds: readonly string[] }
  | { kind: 'adhoc'; conditions: readonly ConditionRenderer[] };

export interface FunnelScope extends SessionScope {
  source: StepSource;
  windowSeconds: number | null;
}

const stepCount = (s: StepSource) =>
  s.kind === 'saved' ? s.stepGoalIds.length : s.conditions.length;

/** CTE `m`: the step matches of the scope. */
function matchesCte(scope: FunnelScope, sp: ScopeParams, p: SqlParams): string {
  const { source } = scope;
  if (source.kind === 'saved') {
    const ids = p.add(source.stepGoalIds, 'text[]');
    return `m AS MATERIALIZED (
      SELECT 1 << (array_position(${ids}, c.goal_id) - 1) AS mask, c.session_id,
             c.event_time AS t, c.seq AS q, c.event_id AS i
        FROM conversions c
       WHERE c.goal_id = ANY(${ids}) AND c.website_id = ${sp.w}
         AND c.event_time >= ${sp.lo} AND c.event_time < ${sp.hi})`;
  }
  // One row per event that matches any step, its steps as bits (a condition repeated by
  // several steps is evaluated once). The scan is parallel-safe: sessions are checked at
  // step 1 (walkCtes), on far fewer rows.
  const bits = new Map<string, { cond: ConditionRenderer; bits: number }>();
  source.conditions.forEach((cond, k) => {
    const probe = new SqlParams();
    const key = JSON.stringify([cond(probe), probe.values]);
    const entry = bits.get(key) ?? { cond, bits: 0 };
    entry.bits |= 1 << k;
    bits.set(key, entry);
  });
  const mask = [...bits.values()]
    .map(({ cond, bits: b }) => `CASE WHEN (${cond(p)}) THEN ${b} ELSE 0 END`)
    .join(' | ');
  const any = [...bits.values()].map(({ cond }) => `(${cond(p)})`).join(' OR ');
  return `m AS MATERIALIZED (
    SELECT ${mask} AS mask, e.session_id, e.event_time AS t, e.seq AS q, e.event_id AS i
      FROM events e
     WHERE e.website_id = ${sp.w} AND e.event_time >= ${sp.lo} AND e.event_time < ${sp.hi}
       AND (${any}))`;
}

/**
 * CTEs `s1` … `sk`: per qualifying session, where it reached each step (t, q, i) and step 1's
 * time. Sessions are checked at step 1; `r` keeps, once, the later steps' matches of the
 * sessions that reached step 1, after it (and within the window), so every later step reads
 * those few rows instead of all matches.
 */
function walkCtes(k: number, windowSeconds: string | null, qualifies: string): string {
  const ctes = [
    `s1 AS MATERIALIZED (
      SELECT DISTINCT ON (m.session_id) m.session_id, m.t, m.q, m.i, m.t AS t1
        FROM m WHERE m.mask & 1 <> 0 AND ${qualifies}
       ORDER BY m.session_id, m.t, m.q, m.i)`,
  ];
  if (k < 2) return ctes.join(',\n');
  const within = windowSeconds === null ? '' : `AND m.t <= p.t1 + ${windowSeconds}`;
  ctes.push(`r AS MATERIALIZED (
      SELECT m.mask, m.session_id, m.t, m.q, m.i, p.t1
        FROM m JOIN s1 p ON p.session_id = m.session_id
       WHERE m.mask & ~1 <> 0 AND (m.t, m.q, m.i) > (p.t, p.q, p.i) ${within})`);
  ctes.push(`s2 AS MATERIALIZED (
      SELECT DISTINCT ON (r.session_id) r.session_id, r.t, r.q, r.i, r.t1
        FROM r WHERE r.mask & 2 <> 0 ORDER BY r.session_id, r.t, r.q, r.i)`);
  for (let n = 3; n <= k; n++) {
    ctes.push(`s${n} AS MATERIALIZED (
      SELECT DISTINCT ON (r.session_id) r.session_id, r.t, r.q, r.i, r.t1
        FROM r JOIN s${n - 1} p ON p.session_id = r.session_id
       WHERE r.mask & ${1 << (n - 1)} <> 0 AND (r.t, r.q, r.i) > (p.t, p.q, p.i)
       ORDER BY r.session_id, r.t, r.q, r.i)`);
  }
  return ctes.join(',\n');
}

/** The WITH clause of a funnel walk over `scope`. */
function walkSql(scope: FunnelScope, sp: ScopeParams, p: SqlParams): string {
  const window =
    scope.windowSeconds === null
      ? null
      : `${p.add(scope.windowSeconds, 'int')} * interval '1 second'`;
  return `WITH ${matchesCte(scope, sp, p)},\n${walkCtes(
    stepCount(scope.source),
    window,
    qualifiesSql(scope, sp, p, 'm'),
  )}`;
}

/** Seconds between two steps' times over the sessions that reached both: the exact median. */
const medianSql = (to: number, from: number) =>
  `(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM b.t - a.t))
      FROM s${to} b JOIN s${from} a ON a.session_id = b.session_id)`;

export interface FunnelWalkResult {
  /** Sessions that reached each step, step 1 first. */
  reached: number[];
  /** Per step: median seconds to the next step over sessions that reached it; null on the last. */
  medianToNext: Array<number | null>;
  /** Median seconds from step 1 to the last step over sessions that reached it. */
  medianToConvert: number | null;
}

/**
 * Ad-hoc steps scan the window's events. In a transaction, `q` lets that scan run on parallel
 * workers (the planner overestimates the rows that match a step, and with them the cost of
 * gathering them) and keeps a long window's matches in memory instead of spilling them.
 */
async function tuneForScan(q: Queryable, scope: FunnelScope): Promise<void> {
  if (scope.source.kind !== 'adhoc') return;
  await q.query(
    'funnel.scan_settings',
    `SELECT set_config('parallel_setup_cost', '10', true),
            set_config('parallel_tuple_cost', '0.001', true),
            set_config('work_mem', '128MB', true)`,
  );
}

export const funnelStatsRepository = {
  /**
   * Sessions reaching each step, step 1 first (the walk without its medians). Run ad-hoc
   * walks in a transaction (see tuneForScan).
   */
  async reached(q: Queryable, scope: FunnelScope): Promise<number[]> {
    await tuneForScan(q, scope);
    const p = new SqlParams();
    const sp = scopeParams(scope, p);
    const steps = Array.from({ length: stepCount(scope.source) }, (_, i) => i + 1);
    const { rows } = await q.query<{ reached: number[] }>(
      'funnel.reached',
      `${walkSql(scope, sp, p)}
       SELECT ARRAY[${steps.map((n) => `(SELECT count(*) FROM s${n})`).join(', ')}]::int[] AS reached`,
      p.values,
    );
    return rows[0]!.reached;
  },

  /** Sessions reaching each step, and the median times between steps. */
  async walk(q: Queryable, scope: FunnelScope): Promise<FunnelWalkResult> {
    await tuneForScan(q, scope);
    const p = new SqlParams();
    const sp = scopeParams(scope, p);
    const k = stepCount(scope.source);
    const steps = Array.from({ length: k }, (_, i) => i + 1);
    const { rows } = await q.query<{
      reached: number[];
      to_next: Array<number | null>;
      to_convert: number | null;
    }>(
      'funnel.walk',
      `${walkSql(scope, sp, p)}
       SELECT ARRAY[${steps.map((n) => `(SELECT count(*) FROM s${n})`).join(', ')}]::int[] AS reached,
              ARRAY[${steps.map((n) => (n < k ? medianSql(n + 1, n) : 'NULL')).join(', ')}]::float8[]
                AS to_next,
              ${medianSql(k, 1)}::float8 AS to_convert`,
      p.values,
    );
    const r = rows[0]!;
    return { reached: r.reached, medianToNext: r.to_next, medianToConvert: r.to_convert };
  },

  /**
   * Sessions that reached step `step` (`reached`), or reached it and not the next one
   * (`dropped`; none on the last step), newest `ended_at` first, then `session_id`. Paged by
   * offset (`total` is the full count) or by keyset (`after`: the last row's `ended_key` and
   * `session_id`; `total` then counts from the key on).
   */
  async stepSessions(
    q: Queryable,
    scope: FunnelScope,
    step: number,
    mode: 'reached' | 'dropped',
    page: { limit: number; offset?: number; after?: { endedKey: string; sessionId: string } },
  ): Promise<ConvertingSessionRow[]> {
    const k = stepCount(scope.source);
    if (mode === 'dropped' && step >= k) return [];
    await tuneForScan(q, scope);
    const p = new SqlParams();
    const sp = scopeParams(scope, p);
    const picked =
      mode === 'reached'
        ? `SELECT session_id FROM s${step}`
        : `SELECT session_id FROM s${step} EXCEPT SELECT session_id FROM s${step + 1}`;
    const { rows } = await q.query<ConvertingSessionRow>(
      'funnel.step_sessions',
      `${walkSql(scope, sp, p)}
       SELECT s.session_id, s.user_id, s.country, s.browser, s.os, s.device, s.entry_page,
              s.exit_page, s.pageviews, s.duration, s.started_at, s.ended_at, s.referrer_domain,
              s.channel,
              ${endedKeySql('s')} AS ended_key,
              count(*) OVER ()::int AS total
         FROM sessions s
        WHERE s.website_id = ${sp.w} AND s.session_id IN (${picked})
          AND ${afterEndedSql('s', p, page.after)}
        ORDER BY s.ended_at DESC, s.session_id ASC
        LIMIT ${p.add(page.limit)} OFFSET ${p.add(page.offset ?? 0)}`,
      p.values,
    );
    return rows;
  },

  /** Distinct sessions of the scope that reached step 1 of any of these saved funnels. */
  async enteredAny(
    q: Queryable,
    scope: SessionScope,
    firstStepGoalIds: readonly string[],
  ): Promise<number> {
    if (firstStepGoalIds.length === 0) return 0;
    const p = new SqlParams();
    const sp = scopeParams(scope, p);
    const { rows } = await q.query<{ n: number }>(
      'funnel.entered_any',
      `SELECT count(DISTINCT c.session_id)::int AS n FROM conversions c
        WHERE c.goal_id = ANY(${p.add(firstStepGoalIds, 'text[]')}) AND c.website_id = ${sp.w}
          AND c.event_time >= ${sp.lo} AND c.event_time < ${sp.hi}
          AND ${qualifiesSql(scope, sp, p, 'c')}`,
      p.values,
    );
    return rows[0]!.n;
  },
};
