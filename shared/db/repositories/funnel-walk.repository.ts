import type { Queryable } from '../pool.js';
import { SqlParams } from '../sql-params.js';
import { qualifiesSql, scopeParams, type SessionScope } from './stats.repository.js';

/**
 * Stored funnel walks (migration 017): per saved funnel and session, when the session reached
 * each step over all of its step matches, so a saved funnel's results count rows instead of
 * walking every match of the window.
 *
 * A walk is computed by index probes (`conversions_funnel_walk_idx`): step 1 at the session's
 * earliest match, step n at the earliest match of step n after step n−1's (time, arrival
 * sequence, event id), within the funnel's conversion window: one probe per step (and one for
 * step 1's latest match), each bounded by the session's span, whatever the session's length.
 *
 * Consistency: a walk is recomputed, in a statement of its own, by a transaction that holds
 * the session's `sessions` row lock, so it sees every match committed by any transaction that
 * held that lock before it. The processor holds it (its session upsert) when it writes matches
 * and refreshes walks in the same transaction; the rebuild takes it before recomputing; the
 * backfill writes matches without it, and the rebuild runs after the backfill.
 */

/** A (funnel, session) whose walk to recompute. */
export interface WalkKey {
  funnel_id: string;
  session_id: string;
  website_id: string;
}

/** Sessions whose step-1 matches span more than this are in `funnel_walks_long_idx`. */
const LONG_SPAN = `interval '6 hours'`;

/**
 * CTEs `st` (the funnels' step goals and windows) and `walked(funnel_id, session_id, t1,
 * reached, s_lo, s_hi)`: the walks of the pairs of CTE `pairs(funnel_id, session_id,
 * website_id)` over their matches in [lo, hi) (SQL expressions), with their sessions' spans.
 * Needs WITH RECURSIVE; pairs without a step-1 match are absent.
 */
function walkCtes(lo: string, hi: string): string {
  // The session's own span bounds every probe, so each reads the one or two chunks it lies in.
  const probe = (alias: string, after: string) => `CROSS JOIN LATERAL (
      SELECT c.event_time, c.seq, c.event_id FROM conversions c
       WHERE c.funnel_id IS NOT NULL AND c.session_id = ${alias}.session_id
         AND c.goal_id = st.goal_id AND c.event_time >= ${lo} AND c.event_time < ${hi}
         AND c.event_time >= ${alias}.s_lo AND c.event_time <= ${alias}.s_hi AND ${after}
       ORDER BY c.event_time, c.seq, c.event_id LIMIT 1) m`;
  return `st AS (
      SELECT g.funnel_id, g.step_order, g.id AS goal_id, f.window_seconds
        FROM goals g JOIN funnels f ON f.id = g.funnel_id
       WHERE g.funnel_id IN (SELECT DISTINCT funnel_id FROM pairs)),
    b AS (
      SELECT p.funnel_id, p.session_id,
             coalesce(s.started_at, '-infinity') AS s_lo, coalesce(s.ended_at, 'infinity') AS s_hi
        FROM pairs p LEFT JOIN sessions s
          ON s.website_id = p.website_id AND s.session_id = p.session_id),
    w AS (
      SELECT b.funnel_id, b.session_id, b.s_lo, b.s_hi, 1 AS n, m.event_time AS t, m.seq AS q,
             m.event_id AS i, m.event_time AS t1, ARRAY[m.event_time] AS reached
        FROM b JOIN st ON st.funnel_id = b.funnel_id AND st.step_order = 1
        ${probe('b', 'true')}
      UNION ALL
      SELECT w.funnel_id, w.session_id, w.s_lo, w.s_hi, w.n + 1, m.event_time, m.seq,
             m.event_id, w.t1, w.reached || m.event_time
        FROM w JOIN st ON st.funnel_id = w.funnel_id AND st.step_order = w.n + 1
        ${probe(
          'w',
          `c.event_time >= w.t AND (c.event_time, c.seq, c.event_id) > (w.t, w.q, w.i)
           AND (st.window_seconds IS NULL
                OR c.event_time <= w.t1 + st.window_seconds * interval '1 second')`,
        )}),
    walked AS (
      SELECT DISTINCT ON (funnel_id, session_id) funnel_id, session_id, t1, reached, s_lo, s_hi
        FROM w ORDER BY funnel_id, session_id, n DESC)`;
}

const PAIRS = `pairs AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                  AS p(funnel_id, session_id, website_id))`;

function pairArrays(keys: readonly WalkKey[]): [string[], string[], string[]] {
  return [
    keys.map((k) => k.funnel_id),
    keys.map((k) => k.session_id),
    keys.map((k) => k.website_id),
  ];
}

export interface FunnelReachScope extends SessionScope {
  funnelId: string;
  steps: number;
}

/**
 * The stored walks of a window [lo, hi): a stored walk is the window's walk when its step 1
 * lies in the window, cut at `hi`; sessions that reached step 1 before the window and matched
 * it again inside are walked again over the window's matches (CTE `walked`), found by two
 * small index ranges: step 1 at most 6 hours before `lo`, and the rare longer sessions. CTE
 * `x(reached)` holds both kinds; `reachedSql` counts, per step, those that reached it inside
 * the window.
 */
function windowWalksSql(scope: FunnelReachScope, p: SqlParams) {
  const sp = scopeParams(scope, p);
  const f = p.add(scope.funnelId, 'text');
  const steps = Array.from({ length: scope.steps }, (_, i) => i + 1);
  const sql = `WITH RECURSIVE pairs AS (
         SELECT w.funnel_id, w.session_id, w.website_id FROM funnel_walks w
          WHERE w.funnel_id = ${f} AND w.t1 >= ${sp.lo} - ${LONG_SPAN} AND w.t1 < ${sp.lo}
            AND w.last1 >= ${sp.lo} AND ${qualifiesSql(scope, sp, p, 'w')}
         UNION
         SELECT w.funnel_id, w.session_id, w.website_id FROM funnel_walks w
          WHERE w.funnel_id = ${f} AND w.last1 >= ${sp.lo} AND w.last1 - w.t1 > ${LONG_SPAN}
            AND w.t1 < ${sp.lo} - ${LONG_SPAN} AND ${qualifiesSql(scope, sp, p, 'w')}),
       ${walkCtes(sp.lo, sp.hi)},
       x AS (
         SELECT w.reached FROM funnel_walks w
          WHERE w.funnel_id = ${f} AND w.t1 >= ${sp.lo} AND w.t1 < ${sp.hi}
            AND ${qualifiesSql(scope, sp, p, 'w')}
         UNION ALL
         SELECT k.reached FROM walked k)`;
  // Per step: the sessions of `x` that reached it inside the window.
  const reachedSql = `ARRAY[${steps
    .map((n) => `count(*) FILTER (WHERE x.reached[${n}] < ${sp.hi})`)
    .join(', ')}]::int[]`;
  return { sql, sp, steps, reachedSql };
}

export const funnelWalkRepository = {
  /**
   * Recomputes the walks of these (funnel, session) pairs over all their matches: upserts the
   * ones that reach step 1, deletes the others. The caller holds the sessions' row locks (see
   * the module comment); keys in (funnel, session) order keep lock order stable.
   */
  async refresh(q: Queryable, keys: readonly WalkKey[]): Promise<void> {
    if (keys.length === 0) return;
    await q.query(
      'funnel_walk.refresh',
      `WITH RECURSIVE ${PAIRS}, ${walkCtes(`'-infinity'::timestamptz`, `'infinity'::timestamptz`)},
       up AS (
         INSERT INTO funnel_walks AS fw (funnel_id, session_id, website_id, t1, last1, reached)
         SELECT k.funnel_id, k.session_id, p.website_id, k.t1, l.t, k.reached
           FROM walked k JOIN pairs p USING (funnel_id, session_id)
           JOIN st ON st.funnel_id = k.funnel_id AND st.step_order = 1
           CROSS JOIN LATERAL (
             SELECT c.event_time AS t FROM conversions c
              WHERE c.funnel_id IS NOT NULL AND c.session_id = k.session_id
                AND c.goal_id = st.goal_id AND c.event_time >= k.s_lo AND c.event_time <= k.s_hi
              ORDER BY c.event_time DESC, c.seq DESC, c.event_id DESC LIMIT 1) l
          ORDER BY k.funnel_id, k.session_id
         ON CONFLICT (funnel_id, session_id) DO UPDATE
            SET t1 = EXCLUDED.t1, last1 = EXCLUDED.last1, reached = EXCLUDED.reached
          WHERE (fw.t1, fw.last1, fw.reached)
                IS DISTINCT FROM (EXCLUDED.t1, EXCLUDED.last1, EXCLUDED.reached))
       DELETE FROM funnel_walks fw USING (
         SELECT funnel_id, session_id FROM pairs EXCEPT SELECT funnel_id, session_id FROM walked
       ) gone
        WHERE fw.funnel_id = gone.funnel_id AND fw.session_id = gone.session_id`,
      pairArrays(keys),
    );
  },

  /**
   * The sessions with a match of step 1 (`step1GoalId`) in [lo, hi), their `sessions` rows
   * locked (waiting at most `lockTimeoutMs`; SQLSTATE 55P03 past it), in session order. Run
   * in the transaction that then refreshes them.
   */
  async lockStep1Sessions(
    q: Queryable,
    websiteId: string,
    step1GoalId: string,
    lo: Date,
    hi: Date,
    lockTimeoutMs: number,
  ): Promise<string[]> {
    await q.query('funnel_walk.lock_timeout', `SELECT set_config('lock_timeout', $1, true)`, [
      `${lockTimeoutMs}ms`,
    ]);
    const { rows } = await q.query<{ session_id: string }>(
      'funnel_walk.lock_sessions',
      `SELECT s.session_id FROM sessions s
        WHERE s.website_id = $1 AND s.session_id IN (
          SELECT c.session_id FROM conversions c
           WHERE c.goal_id = $2 AND c.event_time >= $3 AND c.event_time < $4)
        ORDER BY s.session_id FOR NO KEY UPDATE`,
      [websiteId, step1GoalId, lo, hi],
    );
    return rows.map((r) => r.session_id);
  },

  /** The first and last time of step 1's matches (null: none). */
  async step1Bounds(q: Queryable, step1GoalId: string): Promise<{ min: Date; max: Date } | null> {
    const { rows } = await q.query<{ min: Date | null; max: Date | null }>(
      'funnel_walk.step1_bounds',
      `SELECT (SELECT min(event_time) FROM conversions WHERE goal_id = $1) AS min,
              (SELECT max(event_time) FROM conversions WHERE goal_id = $1) AS max`,
      [step1GoalId],
    );
    const r = rows[0]!;
    return r.min === null || r.max === null ? null : { min: r.min, max: r.max };
  },

  /**
   * Deletes the funnel's walks whose session no longer has a match of step 1 (left over from
   * replaced steps), at most `limit`; resolves to the rows deleted.
   */
  async deleteStale(q: Queryable, funnelId: string, limit: number): Promise<number> {
    const res = await q.query(
      'funnel_walk.delete_stale',
      `DELETE FROM funnel_walks fw USING (
         SELECT w.session_id FROM funnel_walks w
          WHERE w.funnel_id = $1 AND NOT EXISTS (
            SELECT 1 FROM conversions c JOIN goals g ON g.id = c.goal_id
             WHERE c.funnel_id IS NOT NULL AND c.session_id = w.session_id
               AND g.funnel_id = $1 AND g.step_order = 1)
          LIMIT $2) d
        WHERE fw.funnel_id = $1 AND fw.session_id = d.session_id`,
      [funnelId, limit],
    );
    return res.rowCount ?? 0;
  },

  /** Deletes walks of a deleted funnel, at most `limit`; resolves to the rows deleted. */
  async deleteForFunnel(q: Queryable, funnelId: string, limit: number): Promise<number> {
    const res = await q.query(
      'funnel_walk.delete_for_funnel',
      `DELETE FROM funnel_walks fw USING (
         SELECT session_id FROM funnel_walks WHERE funnel_id = $1 LIMIT $2) d
        WHERE fw.funnel_id = $1 AND fw.session_id = d.session_id`,
      [funnelId, limit],
    );
    return res.rowCount ?? 0;
  },

  /** Deletes walks whose every step and step-1 match lies before `cutoff` (retention). */
  async deleteEndedBefore(q: Queryable, cutoff: Date): Promise<number> {
    const res = await q.query(
      'funnel_walk.delete_ended_before',
      `DELETE FROM funnel_walks WHERE last1 < $1 AND reached[cardinality(reached)] < $1`,
      [cutoff],
    );
    return res.rowCount ?? 0;
  },

  /** VACUUM (ANALYZE) of the walks (outside a transaction). */
  async vacuum(q: Queryable): Promise<void> {
    await q.query('funnel_walk.vacuum', 'VACUUM (ANALYZE) funnel_walks');
  },

  /** The funnels whose stored walks are not complete for their definition, oldest first. */
  async behind(q: Queryable): Promise<string[]> {
    const { rows } = await q.query<{ id: string }>(
      'funnel_walk.behind',
      `SELECT id FROM funnels WHERE walks_version IS DISTINCT FROM definition_version
        ORDER BY created_at, numeric_id`,
    );
    return rows.map((r) => r.id);
  },

  /** Marks the walks complete for `version`, unless the funnel moved on; true when marked. */
  async markReady(q: Queryable, funnelId: string, version: number): Promise<boolean> {
    const res = await q.query(
      'funnel_walk.mark_ready',
      `UPDATE funnels SET walks_version = $2 WHERE id = $1 AND definition_version = $2`,
      [funnelId, version],
    );
    return (res.rowCount ?? 0) > 0;
  },

  /**
   * Sessions of the scope reaching each step of a saved funnel whose walks are complete (see
   * {@link windowWalksSql}).
   */
  async reached(q: Queryable, scope: FunnelReachScope): Promise<number[]> {
    const p = new SqlParams();
    const { sql, reachedSql } = windowWalksSql(scope, p);
    const { rows } = await q.query<{ reached: number[] }>(
      'funnel_walk.reached',
      `${sql} SELECT ${reachedSql} AS reached FROM x`,
      p.values,
    );
    return rows[0]!.reached;
  },

  /**
   * The sessions reaching each step and the exact median seconds between consecutive steps
   * and from step 1 to the last, over the sessions that reached both, from the stored walks.
   */
  async reachedWithMedians(
    q: Queryable,
    scope: FunnelReachScope,
  ): Promise<{ reached: number[]; toNext: Array<number | null>; toConvert: number | null }> {
    const p = new SqlParams();
    const { sql, sp, steps, reachedSql } = windowWalksSql(scope, p);
    const k = scope.steps;
    const median = (to: number, from: number) =>
      `percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM x.reached[${to}] - x.reached[${from}]))
         FILTER (WHERE x.reached[${to}] < ${sp.hi})`;
    const { rows } = await q.query<{
      reached: number[];
      to_next: Array<number | null>;
      to_convert: number | null;
    }>(
      'funnel_walk.reached_with_medians',
      `${sql}
       SELECT ${reachedSql} AS reached,
              ARRAY[${steps.map((n) => (n < k ? median(n + 1, n) : 'NULL')).join(', ')}]::float8[]
                AS to_next,
              ${median(k, 1)}::float8 AS to_convert
         FROM x`,
      p.values,
    );
    const r = rows[0]!;
    return { reached: r.reached, toNext: r.to_next, toConvert: r.to_convert };
  },
};
