/**
 * `npm run bench:query`: statistics latency on a large dataset, against a baseline of
 * straightforward SQL over raw events, in the same run.
 *
 * Loads BENCH_EVENTS events / BENCH_SESSIONS sessions / 50 goals for one website (90 days,
 * generated in SQL with generate_series) into a separate database (`goalpost_bench`, created
 * if missing), derives conversions and sessions with set-based SQL, then measures p50/p95 of:
 * the Sparklytics stats (30 days, no filter; 30 days, country + utm_source), the Rybbit list
 * with 50 goals, the converting-sessions list, a saved 4-step funnel's results (its step
 * matches written by the real backfill, whose duration is printed), Rybbit's analysis of the
 * same 4 steps ad hoc, and attribution, each through the real API app (inject).
 * Baseline: the same figures by naive SQL over `events` (goal matching by path, sessions by
 * DISTINCT session_id). Prints the ratio baseline / ours.
 */
import { Type } from '@sinclair/typebox';
import pg from 'pg';
import { buildApiApp } from '../api/app.js';
import { apiDbSettings } from '../api/config.js';
import { loadConfig } from '../shared/config/load-config.js';
import { migrate } from '../shared/db/migrate.js';
import { createDb } from '../shared/db/pool.js';
import { createLogger } from '../shared/logger.js';
import { createRedis } from '../shared/redis/redis.js';
import { loadBenchDataset } from './bench-dataset.js';
import { runBackfill } from '../processor/jobs/backfill.worker.js';
import { goalRepository } from '../shared/db/repositories/goal.repository.js';
import { RedisEnv } from '../shared/config/env.js';

const config = loadConfig(
  Type.Object({
    ...RedisEnv,
    BENCH_ADMIN_DATABASE_URL: Type.String({
      default: 'postgres://postgres@127.0.0.1:25432/postgres',
    }),
    BENCH_DATABASE_URL: Type.String({
      default: 'postgres://postgres@127.0.0.1:25432/goalpost_bench',
    }),
    BENCH_EVENTS: Type.Integer({ minimum: 1000, default: 10_000_000 }),
    BENCH_SESSIONS: Type.Integer({ minimum: 100, default: 1_000_000 }),
    BENCH_RUNS: Type.Integer({ minimum: 5, default: 40 }),
    /** `false` skips the (slow) baseline queries while iterating on ours; the ratio is then not printed. */
    BENCH_BASELINE: Type.Boolean({ default: true }),
    /** Comma-separated parts of case names to run (empty: every case). */
    BENCH_CASES: Type.String({ default: '' }),
  }),
);
const SITE = 'site_benchbench';
const KEY = `spk_selfhosted_${'be'.repeat(16)}`;
const log = (msg: string) => console.log(`[bench:query] ${msg}`);

const admin = new pg.Client({ connectionString: config.BENCH_ADMIN_DATABASE_URL });
await admin.connect();
const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
  'goalpost_bench',
]);
if (exists.rowCount === 0) await admin.query('CREATE DATABASE goalpost_bench');
await admin.end();

// `error`: the load's own statements are slow by design, and their slow_query warnings would
// bury the figures.
const logger = createLogger('bench-query', 'error');
// The API's own connection settings, as in production (api/index.ts).
const db = createDb(
  {
    url: config.BENCH_DATABASE_URL,
    max: 4,
    applicationName: 'bench-query',
    settings: apiDbSettings(10_000),
  },
  logger,
);
const E = config.BENCH_EVENTS;
const S = config.BENCH_SESSIONS;
// Migrations and the load run for minutes by design: not under the API's statement timeout.
const loadDb = createDb(
  { url: config.BENCH_DATABASE_URL, max: 1, applicationName: 'bench-query-load' },
  logger,
);
await migrate(loadDb, logger);
await loadBenchDataset(loadDb, { site: SITE, events: E, sessions: S, log });
await loadDb.end();

const redis = createRedis(config.REDIS_URL, logger, { name: 'bench-query' });
const app = await buildApiApp({ db, redis, logger, bootstrapApiKey: KEY });
const goal = 'goal_' + '1'.padStart(21, '0');
const end = new Date().toISOString().slice(0, 10);
const start = new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10);
const range = `start_date=${start}&end_date=${end}`;

async function measure(
  name: string,
  fn: () => Promise<void>,
): Promise<{ p50: number; p95: number }> {
  await fn(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < config.BENCH_RUNS; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!;
  return { p50: q(0.5), p95: q(0.95) };
}
const inject = (url: string, body?: object) => async () => {
  const res = await app.inject({
    method: body === undefined ? 'GET' : 'POST',
    url,
    headers: { authorization: `Bearer ${KEY}` },
    ...(body === undefined ? {} : { payload: body }),
  });
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
};
const sql = (text: string, params: unknown[]) => async () => {
  await db.query('bench.baseline', text, params);
};
const lo = `($2::date)::timestamp AT TIME ZONE 'UTC'`;
const hi = `($3::date + 1)::timestamp AT TIME ZONE 'UTC'`;
const baseStats = (extra: string) => `
  SELECT (SELECT count(DISTINCT session_id) FROM events WHERE website_id = $1 AND event_time >= ${lo} AND event_time < ${hi} AND NOT is_bot ${extra}) AS total,
         (SELECT count(*) FROM events WHERE website_id = $1 AND event_time >= ${lo} AND event_time < ${hi} AND NOT is_bot AND path = '/p/1' ${extra}) AS conv,
         (SELECT count(DISTINCT session_id) FROM events WHERE website_id = $1 AND event_time >= ${lo} AND event_time < ${hi} AND NOT is_bot AND path = '/p/1' ${extra}) AS convs`;
/**
 * The funnel: step 1 (`/p/1**`, goals 1 and 10–19) is reached by about 21% of the window's
 * sessions (the run prints the share; the issue asks for at least 20%); the later steps narrow
 * it down. Every event of session k is a view of `/page/(k mod
 * 40)` except every seventh, a view of `/p/N`.
 */
const FUNNEL_STEPS = ['/p/1**', '/page/2*', '/p/2**', '/page/2*'];
/** The same walk by straightforward SQL over raw events (LIKE for the globs). */
const like = ['/p/1%', '/page/2_%', '/p/2%', '/page/2_%'];
const funnelBaseline = `
  WITH e AS (SELECT session_id, event_time AS t, path FROM events
              WHERE website_id = $1 AND event_time >= ${lo} AND event_time < ${hi} AND NOT is_bot),
  s1 AS (SELECT session_id, min(t) AS t FROM e WHERE path LIKE '${like[0]}' GROUP BY 1),
  ${[2, 3, 4]
    .map(
      (
        n,
      ) => `s${n} AS (SELECT e.session_id, min(e.t) AS t FROM e JOIN s${n - 1} p USING (session_id)
              WHERE e.path LIKE '${like[n - 1]}' AND e.t > p.t GROUP BY 1)`,
    )
    .join(',\n  ')}
  SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), (SELECT count(*) FROM s3),
         (SELECT count(*) FROM s4)`;
/** Goal 1's conversions by the converting event's channel, from raw events. */
const attributionBaseline = `
  SELECT CASE WHEN utm_source IS NOT NULL THEN utm_source || ' / utm'
              WHEN referrer_domain IS NOT NULL THEN referrer_domain || ' / referral'
              ELSE '(direct) / direct' END AS channel, count(*), count(*) * 9.99
    FROM events WHERE website_id = $1 AND event_time >= ${lo} AND event_time < ${hi}
     AND NOT is_bot AND path = '/p/1'
   GROUP BY 1 ORDER BY 2 DESC`;

/**
 * The saved 4-step funnel, created through the API and backfilled by the real backfill (its
 * step goals two at a time, as BACKFILL_CONCURRENCY's default runs them) the first time; a
 * rerun reuses it.
 */
async function benchFunnel(): Promise<string> {
  const list = await app.inject({
    method: 'GET',
    url: `/api/websites/${SITE}/funnels`,
    headers: { authorization: `Bearer ${KEY}` },
  });
  const found = list
    .json<{ data: Array<{ id: string; name: string; backfill: { state: string } | null }> }>()
    .data.find((f) => f.name === 'bench funnel');
  if (found?.backfill?.state === 'done') {
    log(`funnel: reusing ${found.id} (backfilled in an earlier run)`);
    return found.id;
  }
  if (found) {
    await app.inject({
      method: 'DELETE',
      url: `/api/websites/${SITE}/funnels/${found.id}`,
      headers: { authorization: `Bearer ${KEY}` },
    });
  }
  const res = await app.inject({
    method: 'POST',
    url: `/api/websites/${SITE}/funnels`,
    headers: { authorization: `Bearer ${KEY}` },
    payload: {
      name: 'bench funnel',
      steps: FUNNEL_STEPS.map((v) => ({
        step_type: 'page_view',
        match_operator: 'glob',
        match_value: v,
      })),
    },
  });
  if (res.statusCode !== 201) throw new Error(`create funnel: ${res.statusCode} ${res.body}`);
  const id = res.json<{ data: { id: string } }>().data.id;
  const steps = await goalRepository.stepsOfFunnels(db, [id]);
  const t0 = performance.now();
  const deps = { db, logger, sliceTargetMs: 400, settleMs: 0, tailMarginMs: 0 };
  const queue = [...steps];
  await Promise.all(
    [0, 1].map(async () => {
      for (let s = queue.shift(); s; s = queue.shift()) {
        await runBackfill(
          deps,
          { website_id: SITE, goal_id: s.id, definition_version: 1 },
          Date.now(),
        );
      }
    }),
  );
  const { rows } = await db.query<{ n: number }>(
    'bench.funnel_matches',
    'SELECT count(*)::int AS n FROM conversions WHERE goal_id = ANY($1)',
    [steps.map((s) => s.id)],
  );
  log(
    `funnel: ${id} backfilled by the real backfill in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
      `(4 step goals over ${E} events, two at a time, then its stored walks; ${rows[0]!.n} step matches)`,
  );
  return id;
}

// DE + google (sessions k ≡ 5 mod 20): US + google would be exactly the bot sessions
// (k ≡ 0 mod 20), which the website's bot policy excludes, and the case would count nothing.
const filt = `AND session_id IN (SELECT session_id FROM events f WHERE f.website_id = $1 AND f.event_time >= ${lo} - interval '1 day' AND f.event_time < ${hi} AND f.country = 'DE' AND f.utm_source = 'google')`;

const funnelId = await benchFunnel();
{
  const res = await app.inject({
    method: 'GET',
    url: `/api/websites/${SITE}/funnels/${funnelId}/results?${range}`,
    headers: { authorization: `Bearer ${KEY}` },
  });
  const entered = res.json<{ data: { total_sessions_entered: number } }>().data
    .total_sessions_entered;
  const { rows } = await db.query<{ n: number }>(
    'bench.window_sessions',
    `SELECT count(*)::int AS n FROM sessions WHERE website_id = $1 AND NOT is_bot
        AND started_at < ${hi} AND ended_at >= ${lo}`,
    [SITE, start, end],
  );
  const all = rows[0]!.n;
  log(
    `funnel: step 1 reached by ${entered} of the window's ${all} sessions (${((100 * entered) / all).toFixed(1)}%)`,
  );
}

/** [name, ours, baseline, target p95 in ms (null: no target in the issue)] */
const cases: Array<[string, () => Promise<void>, () => Promise<void>, number | null]> = [
  [
    'stats 30 days, no filter',
    inject(`/api/websites/${SITE}/goals/${goal}/stats?${range}`),
    sql(baseStats(''), [SITE, start, end]),
    50,
  ],
  [
    'stats 30 days, country + utm_source',
    inject(
      `/api/websites/${SITE}/goals/${goal}/stats?${range}&filter_country=DE&filter_utm_source=google`,
    ),
    sql(baseStats(filt), [SITE, start, end]),
    50,
  ],
  [
    'stats 30 days, daily timeseries',
    inject(`/api/websites/${SITE}/goals/${goal}/stats?${range}&include=timeseries`),
    sql(
      `SELECT d, count(DISTINCT session_id), count(*) FILTER (WHERE path = '/p/1')
         FROM (SELECT date_trunc('day', event_time) AS d, session_id, path FROM events
                WHERE website_id = $1 AND event_time >= ${lo} AND event_time < ${hi} AND NOT is_bot) x
        GROUP BY d`,
      [SITE, start, end],
    ),
    null,
  ],
  [
    'Rybbit list, 50 goals, 30 days',
    inject(`/api/goals/${SITE}?${range}&page_size=50`),
    sql(
      `SELECT path, count(DISTINCT session_id), (SELECT count(DISTINCT session_id) FROM events WHERE website_id = $1 AND event_time >= ${lo} AND event_time < ${hi} AND NOT is_bot)
           FROM events WHERE website_id = $1 AND event_time >= ${lo} AND event_time < ${hi} AND NOT is_bot AND path LIKE '/p/%' GROUP BY path`,
      [SITE, start, end],
    ),
    150,
  ],
  [
    'sessions list, 30 days, 25 rows',
    inject(`/api/goals/1/sessions/${SITE}?${range}`),
    sql(
      `SELECT session_id, min(event_time), max(event_time), count(*) FROM events WHERE website_id = $1 AND NOT is_bot AND session_id IN (
           SELECT session_id FROM events WHERE website_id = $1 AND event_time >= ${lo} AND event_time < ${hi} AND path = '/p/1')
         GROUP BY session_id ORDER BY max(event_time) DESC LIMIT 25`,
      [SITE, start, end],
    ),
    null,
  ],
  [
    'saved funnel results, 4 steps, 30 days',
    inject(`/api/websites/${SITE}/funnels/${funnelId}/results?${range}`),
    sql(funnelBaseline, [SITE, start, end]),
    100,
  ],
  [
    'Rybbit analyze, 4 ad-hoc steps, 30 days',
    inject(`/api/sites/${SITE}/funnels/analyze?${range}`, {
      steps: FUNNEL_STEPS.map((v) => ({ type: 'page', value: v })),
    }),
    sql(funnelBaseline, [SITE, start, end]),
    2000,
  ],
  [
    'attribution, last touch, 30 days',
    inject(`/api/websites/${SITE}/attribution?goal_id=${goal}&${range}`),
    sql(attributionBaseline, [SITE, start, end]),
    100,
  ],
];
// The Rybbit sessions route takes the numeric goal id: find goal 1's.
const n = await db.query<{ numeric_id: number }>(
  'bench.goal',
  'SELECT numeric_id FROM goals WHERE id = $1',
  [goal],
);
cases.find(([name]) => name.startsWith('sessions list'))![1] = inject(
  `/api/goals/${n.rows[0]!.numeric_id}/sessions/${SITE}?${range}`,
);

log(`dataset: ${E} events, ${S} sessions, 50 goals; ${config.BENCH_RUNS} runs each`);
const only = config.BENCH_CASES.split(',').filter((x) => x !== '');
for (const [name, ours, base, target] of cases) {
  if (only.length > 0 && !only.some((o) => name.includes(o))) continue;
  let a: { p50: number; p95: number };
  try {
    a = await measure(name, ours);
  } catch (err) {
    // A case that fails (a query past the API's statement timeout answers 503) is a figure too.
    log(
      `${name}: FAILED (${(err as Error).message.slice(0, 200)})${target === null ? '' : ` | target p95 ≤ ${target} ms: MISSED`}`,
    );
    continue;
  }
  const verdict =
    target === null ? '' : ` | target p95 ≤ ${target} ms: ${a.p95 <= target ? 'met' : 'MISSED'}`;
  const ourFigures = `${name}: ours p50 ${a.p50.toFixed(1)} ms p95 ${a.p95.toFixed(1)} ms`;
  if (!config.BENCH_BASELINE) {
    log(`${ourFigures}${verdict}`);
    continue;
  }
  const b = await measure(name, base);
  log(
    `${ourFigures} | baseline p50 ${b.p50.toFixed(1)} ms p95 ${b.p95.toFixed(1)} ms | ratio (p95 baseline/ours) ${(b.p95 / a.p95).toFixed(2)}${verdict}`,
  );
}
await app.close();
redis.disconnect();
await db.end();
