/**
 * The session_counts rollup (migration 006) against the `sessions` table it summarises, on
 * the real database: every kind of write to `sessions` (insert, upsert that moves a session's
 * start or end or flips its bot flag, delete) keeps it exact, and the statistics' counting of
 * "sessions overlapping [lo, hi)" from it, totals and per-bucket timeseries, equals the scan of
 * `sessions` for windows that cut through sessions, including sessions longer than a day and
 * bots.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  statsRepository,
  type Buckets,
  type Instant,
} from '../../shared/db/repositories/stats.repository.js';
import type { SessionFilter } from '../../shared/db/repositories/session-filters.sql.js';
import { openTestDeps } from '../helpers/deps.js';
import { uniqueSuffix } from '../helpers/test-env.js';

const deps = openTestDeps('session-counts');
const site = `site_counts${uniqueSuffix()}`;
afterAll(async () => {
  await deps.db.query('test.cleanup', 'DELETE FROM sessions WHERE website_id = $1', [site]);
  await deps.close();
});

const T0 = Date.parse('2026-03-01T00:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** Inserts or upserts sessions the way the processor does (ON CONFLICT DO UPDATE). */
async function upsert(rows: Array<[id: string, start: number, end: number, bot: boolean]>) {
  await deps.db.query(
    'test.sessions_upsert',
    `INSERT INTO sessions (website_id, session_id, visitor_id, started_at, ended_at, first_event_id, is_bot)
     SELECT $1, id, 'v-' || id, s, e, gen_random_uuid(), b
       FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::boolean[]) AS u(id, s, e, b)
     ON CONFLICT (website_id, session_id) DO UPDATE SET
       started_at = LEAST(sessions.started_at, EXCLUDED.started_at),
       ended_at = GREATEST(sessions.ended_at, EXCLUDED.ended_at),
       is_bot = sessions.is_bot OR EXCLUDED.is_bot`,
    [
      site,
      rows.map((r) => r[0]),
      rows.map((r) => at(r[1])),
      rows.map((r) => at(r[2])),
      rows.map((r) => r[3]),
    ],
  );
}

/** The rollup summed over shards, and the same figures grouped straight from `sessions`. */
async function rollupVsSessions() {
  const q = (sql: string) =>
    deps.db
      .query<{ bucket: Date; is_bot: boolean; st: number; en: number }>('test.rollup', sql, [site])
      .then((r) => r.rows.map((x) => `${x.bucket.toISOString()} ${x.is_bot} ${x.st} ${x.en}`));
  return {
    rollup: await q(`SELECT bucket, is_bot, sum(starts)::int AS st, sum(ends)::int AS en
                       FROM session_counts WHERE website_id = $1 GROUP BY 1, 2
                     HAVING sum(starts) <> 0 OR sum(ends) <> 0 ORDER BY 1, 2`),
    sessions: await q(`SELECT bucket, is_bot, sum(st)::int AS st, sum(en)::int AS en
                         FROM (SELECT session_bucket(started_at) AS bucket, is_bot, 1 AS st, 0 AS en
                                 FROM sessions WHERE website_id = $1
                               UNION ALL
                               SELECT session_bucket(ended_at), is_bot, 0, 1
                                 FROM sessions WHERE website_id = $1) x
                        GROUP BY 1, 2 ORDER BY 1, 2`),
  };
}

/** A filter every session satisfies: it sends the count down the `sessions` scan. */
const SCAN: SessionFilter[] = [{ field: 'country', operator: 'not_equals', values: ['ZZ'] }];

async function totalSessions(lo: Instant, hi: Instant, includeBots: boolean, filters = SCAN) {
  const r = await statsRepository.goalListMetrics(deps.db, {
    websiteId: site,
    lo,
    hi,
    includeBots,
    filters,
    goalIds: ['goal_none'],
  });
  return r.total_sessions;
}

/** Windows on 15-minute boundaries around the sessions below, and the unbounded one. */
const WINDOWS: Array<[Instant, Instant]> = [
  [at(0), at(60)],
  [at(15), at(30)],
  [at(45), at(24 * 60)],
  [at(-3 * 24 * 60), at(0)],
  [at(24 * 60), at(3 * 24 * 60)],
  [at(-15), at(15)],
  ['-infinity', 'infinity'],
  ['-infinity', at(30)],
  [at(30), 'infinity'],
];

/** Per-bucket session counts of a timeseries over [lo, lo + count buckets). */
async function seriesSessions(
  lo: string,
  buckets: Buckets,
  includeBots: boolean,
  filters = SCAN,
): Promise<number[]> {
  const hours = buckets.kind === 'hour' ? buckets.count : buckets.count * 24;
  const rows = await statsRepository.goalTimeseries(
    deps.db,
    {
      websiteId: site,
      lo,
      hi: new Date(Date.parse(lo) + hours * 3_600_000).toISOString(),
      includeBots,
      filters,
      goalId: 'goal_none',
    },
    buckets,
  );
  return rows.map((r) => r.total_sessions);
}

async function expectCountsAgree() {
  const { rollup, sessions } = await rollupVsSessions();
  expect(rollup).toEqual(sessions);
  for (const [lo, hi] of WINDOWS) {
    for (const bots of [true, false]) {
      const fast = await totalSessions(lo, hi, bots, []);
      const scan = await totalSessions(lo, hi, bots);
      expect({ lo, hi, bots, n: fast }).toEqual({ lo, hi, bots, n: scan });
    }
  }
  // Timeseries: hour buckets around the sessions, and UTC days from three days before.
  const series: Array<[string, Buckets]> = [
    [at(-120), { kind: 'hour', count: 30 }],
    [at(-15), { kind: 'hour', count: 3 }],
    [
      at(-3 * 24 * 60),
      { kind: 'day', count: 6, startDate: at(-3 * 24 * 60).slice(0, 10), timezone: 'UTC' },
    ],
  ];
  for (const [lo, buckets] of series) {
    for (const bots of [true, false]) {
      const fast = await seriesSessions(lo, buckets, bots, []);
      expect(fast.some((n) => n > 0)).toBe(true);
      expect({ lo, bots, fast }).toEqual({
        lo,
        bots,
        fast: await seriesSessions(lo, buckets, bots),
      });
    }
  }
}

describe('session_counts', () => {
  it('counts overlapping sessions like the scan of sessions, through inserts, moves and deletes', async () => {
    await upsert([
      ['a', 0, 10, false], // starts on a window bound
      ['b', 14, 16, false], // straddles the 15-minute bound
      ['c', -20, 5, false], // open at 0, started in the day before
      ['d', -3 * 24 * 60 - 7, 40, false], // open at 0, started three days before (long)
      ['e', -40, -1, false], // ended before 0
      ['f', 60, 70, true], // a bot, starts exactly at a window's end
      ['g', 24 * 60 + 1, 24 * 60 + 2, false],
      ['h', 29, 31, true],
    ]);
    await expectCountsAgree();
    // a, b, c, d; h is a bot; e ended before the window; f starts at its end.
    expect(await totalSessions(at(0), at(60), false, [])).toBe(4);
    expect(await totalSessions(at(0), at(60), true, [])).toBe(5);

    // In one statement: a late, earlier event moves b's start into the previous bucket, g
    // turns into a bot and ends later, a new session arrives, and a is extended within its
    // end bucket.
    await upsert([
      ['b', 3, 15, false],
      ['g', 24 * 60 + 1, 24 * 60 + 5, true],
      ['i', 16, 17, false],
      ['a', 0, 12, false],
    ]);
    await expectCountsAgree();

    // A replay of the same statement changes nothing.
    await upsert([['i', 16, 17, false]]);
    await expectCountsAgree();

    // Retention-style delete, then a plain UPDATE moving a start by more than a day.
    await deps.db.query(
      'test.sessions_delete',
      `DELETE FROM sessions WHERE website_id = $1 AND ended_at < $2`,
      [site, at(6)],
    );
    await deps.db.query(
      'test.sessions_move',
      `UPDATE sessions SET started_at = started_at - interval '2 days' WHERE website_id = $1 AND session_id = 'g'`,
      [site],
    );
    await expectCountsAgree();

    // Deleting every session sweeps the rows of the buckets it emptied. Rows emptied earlier by
    // moves may stay behind at zero (the update trigger, on the processor's hot path, does not
    // sweep); nothing non-zero remains.
    const groups = `SELECT bucket, is_bot FROM session_counts WHERE website_id = $1 GROUP BY 1, 2`;
    const before = await deps.db.query<{ bucket: Date }>('test.rollup_groups', groups, [site]);
    const swept = await rollupVsSessions();
    await deps.db.query('test.sessions_delete', 'DELETE FROM sessions WHERE website_id = $1', [
      site,
    ]);
    const left = await deps.db.query<{ groups: number; nonzero: number }>(
      'test.rollup_left',
      `SELECT count(*)::int AS groups,
              count(*) FILTER (WHERE st <> 0 OR en <> 0)::int AS nonzero
         FROM (SELECT bucket, is_bot, sum(starts) AS st, sum(ends) AS en FROM session_counts
                WHERE website_id = $1 GROUP BY 1, 2) x`,
      [site],
    );
    expect(left.rows[0]!.nonzero).toBe(0);
    // The groups the deleted sessions occupied are gone; only earlier, emptied ones remain.
    expect(left.rows[0]!.groups).toBe(before.rows.length - swept.sessions.length);
  });

  it('stays exact under concurrent writers moving sessions across shared buckets', async () => {
    // Four connections, each with its own sessions (as processor partitions own visitors), all
    // in the same buckets: every statement inserts new sessions and moves earlier ones, in
    // transactions of several statements, all at once.
    const writers = Array.from({ length: 4 }, (_, w) =>
      deps.db.tx(async (q) => {
        for (let k = 0; k < 10; k++) {
          const ids = [`w${w}-${k}`, `w${w}-${k}-b`];
          await q.query(
            'test.sessions_upsert',
            `INSERT INTO sessions (website_id, session_id, visitor_id, started_at, ended_at, first_event_id, is_bot)
             SELECT $1, id, 'v', $3::timestamptz - make_interval(mins => $4 * 7), $3, gen_random_uuid(), $4 % 3 = 0
               FROM unnest($2::text[]) AS id
             ON CONFLICT (website_id, session_id) DO UPDATE SET
               started_at = LEAST(sessions.started_at, EXCLUDED.started_at),
               is_bot = sessions.is_bot OR EXCLUDED.is_bot`,
            [site, k === 0 ? ids : [...ids, `w${w}-${k - 1}`], at(500), k],
          );
        }
      }),
    );
    await Promise.all(writers);
    const { rollup, sessions } = await rollupVsSessions();
    expect(sessions.length).toBeGreaterThan(5);
    expect(rollup).toEqual(sessions);
  });

  it('takes the scan when a bound is not on a 15-minute boundary, with the same meaning', async () => {
    const id = randomUUID().slice(0, 8);
    await upsert([[`x${id}`, 100, 107, false]]);
    // [at(101), at(106)) is inside the session: it overlaps although it started before lo.
    expect(await totalSessions(at(101), at(106), false, [])).toBe(1);
    expect(await totalSessions(at(108), at(120), false, [])).toBe(0);
  });
});
