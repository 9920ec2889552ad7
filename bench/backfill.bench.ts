/**
 * `npm run bench:backfill`: how fast a new goal counts the past (issue 15), against one
 * hand-written `INSERT … SELECT` of the same conversions, in the same run.
 *
 * Dataset: bench:query's (bench-dataset.ts: BENCH_EVENTS events / BENCH_SESSIONS sessions over
 * 90 days, one website `site_backfill01`), in a database of its own (BENCH_DATABASE, created if missing, loaded
 * once and reused while it holds exactly BENCH_EVENTS events). The processor, the API and
 * ingest run as child processes from the build (dist/), as `npm start` runs them, against that
 * database, on a Kafka topic, consumer group and BullMQ prefix of this run.
 *
 * 1. Baseline: one `INSERT … SELECT` of the goal's conversions written by hand (pageview,
 *    `starts_with(path, '/p/1')`, fixed value), timed, then deleted (a warm-up count of the
 *    website's events runs first so neither side reads a cold cache alone).
 * 2. Quiet: the same goal created through the API (`POST …/goals`); time from the 201 to
 *    `backfill.state = done` (read from the goal object), events scanned per second, and the
 *    conversions checked against the baseline's count. Targets: ≤ 60 s, ≤ 2× the baseline.
 * 3. Under live traffic: BENCH_LIVE_RATE events/s through ingest (`POST /api/collect`,
 *    10 events per request, pages of the same website, some matching the goal) for
 *    BENCH_LIVE_LEAD_SECONDS, then a second such goal is created and backfilled while the
 *    traffic goes on. Freshness = ingest's 202 → the event's row readable, p50/p95 before and
 *    during the backfill. Targets: freshness p95 ≤ 2 s, backfill ≤ 3 min.
 *
 * Knobs (environment): BENCH_EVENTS (default 10,000,000; e.g. 200000 for a quick check),
 * BENCH_SESSIONS (default BENCH_EVENTS / 10), BENCH_DATABASE (default goalpost_bench_backfill,
 * on the server of DATABASE_URL), BENCH_LIVE_RATE (1000), BENCH_LIVE_LEAD_SECONDS (5),
 * BENCH_LIVE (false skips part 3), BENCH_SLICE_TARGET_MS (the processor's
 * BACKFILL_SLICE_TARGET_MS; 0 = its default), BENCH_PAUSE_RATIO (the processor's
 * BACKFILL_PAUSE_RATIO; empty = its default), BENCH_MATCH (`starts_with`, default, or `glob_ci`:
 * the same conversions by a goal without SQL rendering, to measure the streamed fallback).
 * Everything the run creates (goals, their
 * conversions, the live events, topic, queue keys) is deleted at the end; the dataset stays.
 */
import { Type } from '@sinclair/typebox';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { DatabaseEnv, KafkaEnv, RedisEnv } from '../shared/config/env.js';
import { loadConfig } from '../shared/config/load-config.js';
import { migrate } from '../shared/db/migrate.js';
import { createDb } from '../shared/db/pool.js';
import { createKafka } from '../shared/kafka/kafka.js';
import { createLogger } from '../shared/logger.js';
import { createRedis } from '../shared/redis/redis.js';
import { REPO_ROOT, serviceArgs } from '../scripts/services.js';
import { loadBenchDataset } from './bench-dataset.js';
import { deleteBenchKeys, fmt, freePort, waitHttp } from './bench-util.js';

const config = loadConfig(
  Type.Object({
    ...DatabaseEnv,
    ...KafkaEnv,
    ...RedisEnv,
    BENCH_EVENTS: Type.Integer({ minimum: 1000, default: 10_000_000 }),
    /** 0: BENCH_EVENTS / 10. */
    BENCH_SESSIONS: Type.Integer({ minimum: 0, default: 0 }),
    BENCH_DATABASE: Type.String({
      pattern: '^[a-z_][a-z0-9_]*$',
      default: 'goalpost_bench_backfill',
    }),
    BENCH_LIVE: Type.Boolean({ default: true }),
    BENCH_LIVE_RATE: Type.Integer({ minimum: 10, default: 1000 }),
    BENCH_LIVE_LEAD_SECONDS: Type.Integer({ minimum: 1, default: 5 }),
    BENCH_SLICE_TARGET_MS: Type.Integer({ minimum: 0, default: 0 }),
    /** The processor's BACKFILL_PAUSE_RATIO; empty = its default. */
    BENCH_PAUSE_RATIO: Type.String({ pattern: '^([0-9]+(\\.[0-9]+)?)?$', default: '' }),
    /**
     * `starts_with`: the goal of the issue (the `set` plan); `glob_ci`: the same conversions
     * by a case-insensitive glob `/P/1**`, which has no SQL rendering (the `streamed` plan).
     */
    BENCH_MATCH: Type.Union([Type.Literal('starts_with'), Type.Literal('glob_ci')], {
      default: 'starts_with',
    }),
  }),
);
// Not bench:query's website id: both benches share Redis, where goal caches are per website.
const SITE = 'site_backfill01';
const KEY = `spk_selfhosted_${'bf'.repeat(16)}`;
const E = config.BENCH_EVENTS;
const S = config.BENCH_SESSIONS || Math.max(100, Math.floor(E / 10));
const out = (msg: string) => console.log(`[bench:backfill] ${msg}`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// --- database ------------------------------------------------------------------------------
const benchUrl = new URL(config.DATABASE_URL);
benchUrl.pathname = `/${config.BENCH_DATABASE}`;
const adminUrl = new URL(config.DATABASE_URL);
adminUrl.pathname = '/postgres';
const admin = new pg.Client({ connectionString: adminUrl.toString() });
await admin.connect();
const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
  config.BENCH_DATABASE,
]);
if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${config.BENCH_DATABASE}`);
await admin.end();
// `error`: the load's statements are slow by design; their slow_query warnings would bury the
// figures.
const logger = createLogger('bench-backfill', 'error');
const db = createDb(
  { url: benchUrl.toString(), max: 4, applicationName: 'bench-backfill' },
  logger,
);
await migrate(db, logger);
await loadBenchDataset(db, { site: SITE, events: E, sessions: S, log: out });
// The dataset has 50 goals, the API's limit per website: two make room for this run's goals
// (48 stay, so the live processor matches live traffic against a realistic goal list).
await db.query('bench.room', `DELETE FROM goals WHERE website_id = $1 AND id = ANY($2)`, [
  SITE,
  [49, 50].map((g) => 'goal_' + String(g).padStart(21, '0')),
]);

// --- services --------------------------------------------------------------------------------
const run = `bench-backfill-${randomUUID().slice(0, 8)}`;
const topic = `${run}.events`;
const apiPort = await freePort();
const ingestPort = await freePort();
const common = {
  DATABASE_URL: benchUrl.toString(),
  REDIS_URL: config.REDIS_URL,
  KAFKA_BROKERS: config.KAFKA_BROKERS,
  KAFKA_EVENTS_TOPIC: topic,
  BULLMQ_PREFIX: run,
  KAFKAJS_NO_PARTITIONER_WARNING: '1',
};
const children: ChildProcess[] = [];
const requestFailures = new Map<string, number>();
/** Starts a service from dist/; its log lines go to `onLog` (warnings and errors printed). */
function start(name: 'processor' | 'api' | 'ingest', env: Record<string, string>) {
  const child = spawn(process.execPath, serviceArgs(REPO_ROOT, name), {
    env: { ...common, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  createInterface({ input: child.stdout }).on('line', (line) => {
    let entry: Record<string, unknown> | null = null;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      /* not a log line */
    }
    if (entry && typeof entry.msg === 'string' && entry.msg.startsWith('backfill_')) {
      backfillLog(entry);
    } else if (entry?.msg === 'request_failed') {
      // Counted, not printed: the live part reports refusals (load shedding) as a figure.
      requestFailures.set(name, (requestFailures.get(name) ?? 0) + 1);
    } else if (!entry || Number(entry.level) >= 40) {
      process.stdout.write(`[${name}] ${line}\n`);
    }
  });
  return child;
}
let lastProgressLine = 0;
function backfillLog(entry: Record<string, unknown>) {
  if (entry.msg === 'backfill_progress' && Date.now() - lastProgressLine < 5_000) return;
  lastProgressLine = Date.now();
  const { events_scanned: scanned, progress, events_per_s: rate, seconds } = entry;
  const text = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  out(
    `  processor: ${text(entry.msg)} plan=${text(entry.plan)} scanned=${fmt(Number(scanned ?? 0))}` +
      (progress !== undefined ? ` progress=${text(progress)}` : '') +
      (rate !== undefined ? ` (${fmt(Number(rate))} events/s)` : '') +
      (seconds !== undefined ? ` in ${Number(seconds).toFixed(1)} s` : ''),
  );
}
start('processor', {
  KAFKA_DLQ_TOPIC: `${run}.dlq`,
  KAFKA_CONSUMER_GROUP: run,
  METRICS_PORT: '0',
  LOG_LEVEL: 'info',
  ...(config.BENCH_SLICE_TARGET_MS > 0
    ? { BACKFILL_SLICE_TARGET_MS: String(config.BENCH_SLICE_TARGET_MS) }
    : {}),
  ...(config.BENCH_PAUSE_RATIO !== '' ? { BACKFILL_PAUSE_RATIO: config.BENCH_PAUSE_RATIO } : {}),
});
start('api', {
  API_PORT: String(apiPort),
  GOALPOST_BOOTSTRAP_API_KEY: KEY,
  METRICS_PORT: '0',
  LOG_LEVEL: 'warn',
});
const apiUrl = `http://127.0.0.1:${apiPort}`;
const ingestUrl = `http://127.0.0.1:${ingestPort}`;
await waitHttp(`${apiUrl}/health`, 'GET', 60_000);

const goalsCreated: string[] = [];
let live: ReturnType<typeof startLiveTraffic> | null = null;
const liveIds: string[] = [];
let failed = false;
try {
  // --- 1. baseline -------------------------------------------------------------------------
  await db.query('bench.warm', 'SELECT count(*) FROM events WHERE website_id = $1', [SITE]);
  const baselineGoal = `goal_${'b'.repeat(21)}`;
  const b0 = performance.now();
  const baseline = await db.query(
    'bench.baseline',
    `INSERT INTO conversions (goal_id, event_id, event_time, website_id, session_id, value,
       currency, is_bot, definition_version)
     SELECT $2, event_id, event_time, website_id, session_id, 9.99, 'USD', is_bot, 1
       FROM events WHERE website_id = $1 AND type = 'pageview' AND starts_with(path, '/p/1')
     ON CONFLICT DO NOTHING`,
    [SITE, baselineGoal],
  );
  const baselineMs = performance.now() - b0;
  const expected = baseline.rowCount ?? 0;
  await db.query('bench.baseline_clear', 'DELETE FROM conversions WHERE goal_id = $1', [
    baselineGoal,
  ]);
  out(`baseline: one INSERT … SELECT of ${fmt(expected)} conversions in ${secs(baselineMs)}`);

  // --- 2. quiet ----------------------------------------------------------------------------
  const quiet = await backfillThroughApi('quiet');
  if (quiet.conversions !== expected) {
    failed = true;
    out(`MISMATCH: the backfill wrote ${quiet.conversions}, the baseline ${expected}`);
  }
  const ratio = quiet.ms / baselineMs;
  out(
    `quiet: done ${secs(quiet.ms)} after the 201, ${fmt(quiet.scanned)} events scanned ` +
      `(${fmt(quiet.scanned / (quiet.ms / 1000))} events/s), ${fmt(quiet.conversions)} conversions; ` +
      `ratio to baseline ${ratio.toFixed(2)}× (targets: ≤ 60 s, ≤ 2×); ` +
      `status still at most ${secs(quiet.maxStill)} (target ≤ 2 s)`,
  );

  // --- 3. live traffic ---------------------------------------------------------------------
  if (config.BENCH_LIVE) {
    start('ingest', {
      INGEST_PORT: String(ingestPort),
      INGEST_RATE_LIMIT_IP_PER_MINUTE: '1000000000',
      INGEST_RATE_LIMIT_WEBSITE_PER_MINUTE: '1000000000',
      INGEST_BOT_RATE_HEURISTIC: 'false',
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
    });
    await waitHttp(`${ingestUrl}/ready`, 'GET', 60_000);
    live = startLiveTraffic();
    await new Promise((r) => setTimeout(r, config.BENCH_LIVE_LEAD_SECONDS * 1000));
    const underLoad = await backfillThroughApi('live');
    await new Promise((r) => setTimeout(r, 2_000));
    const f = await live.stop();
    const doneAt = underLoad.createdAt + underLoad.ms;
    const during = percentiles(f.filter((p) => p.sent >= underLoad.createdAt && p.sent <= doneAt));
    const before = percentiles(f.filter((p) => p.sent < underLoad.createdAt));
    out(
      `live: ${config.BENCH_LIVE_RATE} events/s offered, ${fmt(f.length)} accepted; ` +
        `freshness before the backfill p50 ${before.p50} ms, p95 ${before.p95} ms; ` +
        `during p50 ${during.p50} ms, p95 ${during.p95} ms (${during.unseen} never seen)`,
    );
    out(
      `live: backfill done ${secs(underLoad.ms)} after the 201, ${fmt(underLoad.scanned)} events ` +
        `scanned (${fmt(underLoad.scanned / (underLoad.ms / 1000))} events/s), status still ` +
        `at most ${secs(underLoad.maxStill)} (targets: freshness p95 ≤ 2000 ms, backfill ≤ 180 s, ` +
        `status moves every ≤ 2 s)`,
    );
    const wrong = await liveConversionCheck(underLoad.goalId);
    if (wrong !== 0) {
      failed = true;
      out(
        `MISMATCH: ${wrong} events of /p/1… without or with a wrong conversion after the live run`,
      );
    }
  }
} catch (err) {
  failed = true;
  out(`FAILED: ${(err as Error).stack ?? String(err)}`);
} finally {
  await live?.stop();
  await cleanup();
}
if (failed) process.exitCode = 1;

/** Creates the goal through the API and waits for its backfill; the figures of the run. */
async function backfillThroughApi(label: string) {
  const res = await fetch(`${apiUrl}/api/websites/${SITE}/goals`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: `bench backfill ${label} ${run}`,
      goal_type: 'pageview',
      ...(config.BENCH_MATCH === 'glob_ci'
        ? { match_operator: 'glob', match_value: '/P/1**', case_sensitive: false }
        : { match_operator: 'starts_with', match_value: '/p/1' }),
      value_mode: 'fixed',
      fixed_value: 9.99,
      currency: 'USD',
    }),
  });
  if (res.status !== 201) throw new Error(`create goal: ${res.status} ${await res.text()}`);
  const createdAt = Date.now();
  const t0 = performance.now();
  const goalId = ((await res.json()) as { data: { id: string } }).data.id;
  goalsCreated.push(goalId);
  out(`${label}: goal ${goalId} created (201)`);
  let lastPrint = 0;
  // The longest time the goal's status stood still (progress and events scanned), as seen by
  // polling every 250 ms from the 201 (the wait for the job to start included).
  let lastMove = 0;
  let lastSeen = '';
  let maxStill = 0;
  for (;;) {
    const g = await fetch(`${apiUrl}/api/websites/${SITE}/goals/${goalId}`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    const b = ((await g.json()) as { data: { backfill: Record<string, unknown> } }).data.backfill;
    const ms = performance.now() - t0;
    const seen = `${String(b.state)} ${String(b.progress)} ${String(b.events_scanned)}`;
    if (seen !== lastSeen) {
      maxStill = Math.max(maxStill, ms - lastMove);
      lastMove = ms;
      lastSeen = seen;
    }
    if (b.state === 'done') {
      const { rows } = await db.query<{ n: number }>(
        'bench.conversions',
        'SELECT count(*)::int AS n FROM conversions WHERE goal_id = $1',
        [goalId],
      );
      return {
        goalId,
        createdAt,
        ms,
        maxStill,
        scanned: Number(b.events_scanned),
        conversions: rows[0]!.n,
      };
    }
    if (b.state === 'failed') throw new Error(`backfill failed: ${String(b.error)}`);
    if (ms - lastPrint >= 5_000) {
      lastPrint = ms;
      out(
        `  ${label} ${secs(ms)}: ${String(b.state)}, progress ${String(b.progress)}, ` +
          `${fmt(Number(b.events_scanned))} events scanned`,
      );
    }
    if (ms > 30 * 60_000) throw new Error('backfill not done after 30 minutes');
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Probe {
  id: string;
  sent: number;
  seen: number | null;
}

/** Open-loop traffic at BENCH_LIVE_RATE through ingest, with the freshness of every event. */
function startLiveTraffic() {
  const probes = new Map<string, Probe>();
  const waiting = new Set<string>();
  const t0 = Date.now();
  let sent = 0;
  let running = true;
  let refused = 0;
  let stoppedAt = 0;
  const inFlight = new Set<Promise<void>>();
  const sender = setInterval(() => {
    const due = Math.floor(((Date.now() - t0) / 1000) * config.BENCH_LIVE_RATE) - sent;
    for (let i = 0; i + 10 <= due; i += 10) {
      const items = Array.from({ length: 10 }, (_, k) => {
        const n = sent + k;
        return {
          website_id: SITE,
          type: 'pageview',
          url: `https://b.example${n % 7 === 0 ? `/p/${1 + (n % 50)}` : `/page/${n % 40}`}`,
          screen: '1440x900',
          language: 'en-US',
          visitor_id: `live-${n % 5000}`,
          event_id: randomUUID(),
        };
      });
      sent += 10;
      const p = fetch(`${ingestUrl}/api/collect`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
          'accept-language': 'en-US,en;q=0.9',
        },
        body: JSON.stringify(items),
      }).then(
        async (r) => {
          await r.arrayBuffer();
          if (r.status !== 202) {
            refused += items.length;
            return;
          }
          for (const it of items) {
            probes.set(it.event_id, { id: it.event_id, sent: Date.now(), seen: null });
            waiting.add(it.event_id);
            liveIds.push(it.event_id);
          }
        },
        () => {
          refused += items.length;
        },
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }, 10);
  const poller = (async () => {
    while (running || waiting.size > 0) {
      const ids = [...waiting];
      if (ids.length > 0) {
        const { rows } = await db.query<{ id: string }>(
          'bench.fresh',
          `SELECT event_id::text AS id FROM events
            WHERE website_id = $1 AND event_time >= $2 AND event_id = ANY($3::uuid[])`,
          [SITE, new Date(t0 - 60_000), ids],
        );
        const now = Date.now();
        for (const r of rows) {
          const p = probes.get(r.id);
          if (p && p.seen === null) p.seen = now;
          waiting.delete(r.id);
        }
      }
      if (!running && Date.now() - stoppedAt > 10_000) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop(): Promise<Probe[]> {
      if (!running) return [...probes.values()];
      clearInterval(sender);
      await Promise.all([...inFlight]);
      running = false;
      stoppedAt = Date.now();
      await poller;
      if (refused > 0) {
        out(
          `live: ${fmt(refused)} events refused by ingest ` +
            `(${requestFailures.get('ingest') ?? 0} failed requests logged)`,
        );
      }
      return [...probes.values()];
    },
  };
}

function percentiles(probes: Probe[]) {
  const ms = probes
    .filter((p) => p.seen !== null)
    .map((p) => p.seen! - p.sent)
    .sort((a, b) => a - b);
  const q = (x: number) =>
    ms.length === 0 ? NaN : ms[Math.min(ms.length - 1, Math.floor(x * ms.length))]!;
  return { p50: q(0.5), p95: q(0.95), unseen: probes.length - ms.length };
}

/**
 * Matching events (pageviews starting with /p/1) of the website without exactly one
 * conversion of the goal, plus conversions of events that do not match: 0 when the backfill
 * and the live processor together counted every event once.
 */
async function liveConversionCheck(goalId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'bench.live_check',
    `SELECT ((SELECT count(*) FROM events e WHERE e.website_id = $1 AND e.type = 'pageview'
                AND starts_with(e.path, '/p/1')
                AND NOT EXISTS (SELECT 1 FROM conversions c WHERE c.goal_id = $2
                                  AND c.event_id = e.event_id AND c.event_time = e.event_time))
           + (SELECT count(*) FROM conversions c WHERE c.goal_id = $2 AND NOT EXISTS (
                SELECT 1 FROM events e WHERE e.website_id = $1 AND e.event_id = c.event_id
                   AND e.event_time = c.event_time AND e.type = 'pageview'
                   AND starts_with(e.path, '/p/1'))))::int AS n`,
    [SITE, goalId],
  );
  return rows[0]!.n;
}

async function cleanup() {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(
    children.map((c) =>
      c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)),
    ),
  );
  for (const g of goalsCreated) {
    await db.query('bench.clear_conversions', 'DELETE FROM conversions WHERE goal_id = $1', [g]);
    await db.query('bench.clear_goal', 'DELETE FROM goals WHERE id = $1', [g]);
  }
  // The live events (and their conversions of the dataset's goals): the dataset stays as
  // loaded, so the next run reuses it.
  for (let i = 0; i < liveIds.length; i += 10_000) {
    const ids = liveIds.slice(i, i + 10_000);
    await db.query(
      'bench.clear_live_conversions',
      'DELETE FROM conversions WHERE website_id = $1 AND event_id = ANY($2::uuid[])',
      [SITE, ids],
    );
    await db.query(
      'bench.clear_live',
      'DELETE FROM events WHERE website_id = $1 AND event_id = ANY($2::uuid[])',
      [SITE, ids],
    );
  }
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: run }, logger);
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  await kafkaAdmin.deleteTopics({ topics: [topic, `${run}.dlq`] }).catch(() => undefined);
  await kafkaAdmin.disconnect();
  const redis = createRedis(config.REDIS_URL, logger, {
    name: 'bench-backfill-cleanup',
    enableOfflineQueue: true,
  });
  await deleteBenchKeys(redis, [SITE], run);
  redis.disconnect();
  await db.end();
}
