import type { Queryable } from '../pool.js';
import { SqlParams } from '../sql-params.js';
import { qualifiesSql, scopeParams, type SessionScope } from './stats.repository.js';

/**
 * Attribution: the conversions of one goal in a window, each credited to one channel, from
 * the conversions the processor precomputed (their value is the goal's value, as the matcher
 * computed it) and the touch's attributes:
 * - `last_touch`: the converting event's own UTM source and medium and referrer domain, which
 *   the conversion row carries (migration 017);
 * - `first_touch`, session scope: the session's landing (`sessions`: its first pageview's, else
 *   its first event's attributes), which is the session's first event in the window whenever
 *   the session started inside it;
 * - `first_touch`, visitor scope: the landing of the visitor's earliest session that started in
 *   the `lookbackDays` before the conversion, for sessions with a stable visitor id (`user_id`,
 *   the client's own id); other sessions fall back to their own landing.
 *
 * A channel is `"<source> / <medium>"`: source = the trimmed UTM source, else the referrer
 * domain, else `(direct)`; medium = the trimmed UTM medium, else `utm` (source from UTM), else
 * `referral` (source from the referrer), else `direct`.
 */
export type AttributionModel = 'first_touch' | 'last_touch';

export interface AttributionScope extends SessionScope {
  goalId: string;
  model: AttributionModel;
  /** Visitor scope: how far back a visitor's earlier sessions count; null = session scope. */
  lookbackDays: number | null;
}

export interface AttributionRow {
  channel: string;
  conversions: number;
  /** Exact decimal text of the summed values (conversions without a value count 0). */
  revenue: string;
}

const CHANNEL_SQL = `CASE
    WHEN nullif(btrim(t.utm_source), '') IS NOT NULL
      THEN btrim(t.utm_source) || ' / ' || coalesce(nullif(btrim(t.utm_medium), ''), 'utm')
    WHEN nullif(t.referrer_domain, '') IS NOT NULL
      THEN t.referrer_domain || ' / ' || coalesce(nullif(btrim(t.utm_medium), ''), 'referral')
    ELSE '(direct) / ' || coalesce(nullif(btrim(t.utm_medium), ''), 'direct')
  END`;

export const attributionRepository = {
  /** Conversions and revenue per channel, most conversions first, then revenue, then name. */
  async byChannel(q: Queryable, scope: AttributionScope): Promise<AttributionRow[]> {
    const p = new SqlParams();
    const sp = scopeParams(scope, p);
    const touch = (alias: string) =>
      `${alias}.utm_source, ${alias}.utm_medium, ${alias}.referrer_domain`;
    let touches: string;
    if (scope.model === 'last_touch') {
      touches = `SELECT c.v, ${touch('c')} FROM c`;
    } else if (scope.lookbackDays === null) {
      touches = `SELECT c.v, ${touch('s')} FROM c
        JOIN sessions s ON s.website_id = ${sp.w} AND s.session_id = c.session_id`;
    } else {
      // The visitor's earliest session in the look-back, when it has a stable id; else its own.
      const back = `${p.add(scope.lookbackDays, 'int')} * interval '1 day'`;
      const pick = (col: string) => `CASE WHEN f.found THEN f.${col} ELSE s.${col} END AS ${col}`;
      touches = `SELECT c.v, ${pick('utm_source')}, ${pick('utm_medium')}, ${pick('referrer_domain')}
          FROM c JOIN sessions s ON s.website_id = ${sp.w} AND s.session_id = c.session_id
          LEFT JOIN LATERAL (
            SELECT true AS found, f.utm_source, f.utm_medium, f.referrer_domain FROM sessions f
             WHERE s.user_id IS NOT NULL AND f.website_id = ${sp.w} AND f.user_id = s.user_id
               AND f.started_at >= c.event_time - ${back} AND f.started_at <= c.event_time
             ORDER BY f.started_at, f.session_id LIMIT 1) f ON true`;
    }
    const { rows } = await q.query<AttributionRow>(
      'attribution.by_channel',
      `WITH c AS MATERIALIZED (
         SELECT c.event_id, c.event_time, c.session_id, coalesce(c.value, 0) AS v,
                c.utm_source, c.utm_medium, c.referrer_domain
           FROM conversions c
          WHERE c.goal_id = ${p.add(scope.goalId)} AND c.website_id = ${sp.w}
            AND c.event_time >= ${sp.lo} AND c.event_time < ${sp.hi}
            AND ${qualifiesSql(scope, sp, p, 'c')}
       ), t AS (${touches})
       SELECT ${CHANNEL_SQL} AS channel, count(*)::int AS conversions, sum(t.v)::text AS revenue
         FROM t GROUP BY 1
        ORDER BY 2 DESC, sum(t.v) DESC, 1`,
      p.values,
    );
    return rows;
  },
};
