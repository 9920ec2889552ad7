import type { DayRange } from '../stats/date-range.js';
import type { Queryable } from './pool.js';

export interface GoalStatsRow {
  conversions: number;
  converting_sessions: number;
  total_sessions: number;
}

export const statsRepository = {
  /** Totals for one goal over calendar days [start, end] in the range's time zone. */
  async goalTotals(
    q: Queryable,
    websiteId: string,
    goalId: string,
    range: DayRange,
  ): Promise<GoalStatsRow> {
    const { rows } = await q.query<GoalStatsRow>(
      'stats.goal_totals',
      `WITH b AS (
         SELECT ($3::date)::timestamp AT TIME ZONE $5 AS lo,
                ($4::date + 1)::timestamp AT TIME ZONE $5 AS hi
       ), c AS (
         SELECT count(*)::int AS conversions, count(DISTINCT session_id)::int AS converting_sessions
           FROM conversions, b
          WHERE goal_id = $2 AND website_id = $1 AND event_time >= b.lo AND event_time < b.hi
       ), t AS (
         SELECT count(DISTINCT session_id)::int AS total_sessions
           FROM events, b
          WHERE website_id = $1 AND event_time >= b.lo AND event_time < b.hi
       )
       SELECT conversions, converting_sessions, total_sessions FROM c, t`,
      [websiteId, goalId, range.start, range.end, range.timezone],
    );
    return rows[0]!;
  },
};
