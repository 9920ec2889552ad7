/**
 * `npm run bench:pipeline`: the capacity of the whole pipeline on this machine, as one number:
 * the highest event rate it holds (issue 13 § 2).
 *
 * What runs: ingest, processor and api as `npm start` runs them (`node` + scripts/services.ts
 * on the build in dist/, the process environment passed through, every setting at its
 * default) against the local stack (PostgreSQL+TimescaleDB, Kafka, Redis), and this process as
 * the load generator, all on this machine. The exceptions, all of them:
 *   - what one load generator on one loopback address needs: ingest
 *     INGEST_RATE_LIMIT_IP_PER_MINUTE=1000000000 (the default, 1,200 events per client address
 *     a minute, would refuse it) and INGEST_BOT_RATE_HEURISTIC=false (the rate heuristic would
 *     score every event of its address as a bot's); api API_RATE_LIMIT_KEY_PER_MINUTE=1000000000
 *     (the freshness poller is one API key polling a hundred or more times a second). All
 *     requests come from 127.0.0.1, so ingest's GeoIP lookups are those of a loopback address;
 *   - isolation from a dev `npm start` on the same stack: a database of its own
 *     (`goalpost_bench_pipeline_<run>` on DATABASE_URL's server, created, migrated and dropped
 *     by the run), its own topics (`bench-pipeline-<run>.events`, `.dlq`), consumer group
 *     and BullMQ prefix (`bench-pipeline-<run>`), free ports for INGEST_PORT, API_PORT and each
 *     METRICS_PORT; its Kafka topics, group and Redis keys are deleted at the end;
 *   - its goals are created with their backfill marked done, as a deployment's goals are
 *     (otherwise the API would queue 5,000 backfills at start-up and they would run during the
 *     first steps).
 *
 * Data: BENCH_WEBSITES websites (domain `siteN.example`) × BENCH_GOALS goals: one freshness
 * probe goal (pageview path starts_with `/bench-probe/`) and the mixed goals of
 * bench/bench-fixture.ts (every match operator, property filters, the three value modes).
 * Traffic: Sparklytics `POST /api/collect` bodies as a browser sends them: per request one
 * website and one visitor (client visitor ids, BENCH_VISITORS_PER_WEBSITE per website) with a
 * browser's User-Agent, Accept-Language and Origin; 70 % pageviews over the fixture's 200 paths
 * (some with UTM parameters and a referrer), 30 % custom events with properties (plan, amount,
 * sku); no timestamps (ingest's receive time). BENCH_BATCH events per request (an array) in
 * the first ladder; single-event requests (one object, as browser trackers send) in the second.
 * Websites and visitors are drawn by a seeded generator, so every run sends the same traffic.
 *
 * Load: open loop (bench/open-loop.ts): requests leave on schedule whatever happened to the
 * earlier ones, over keep-alive connections, at most BENCH_MAX_IN_FLIGHT at once; a request due
 * beyond that fails (`in-flight limit`), it is never delayed. Each ladder: a warm-up of
 * BENCH_WARMUP_SECONDS at its first rate, then BENCH_STEP_SECONDS at each rate, up to its first
 * step that is not held. Before each step the consumer lag is let drain (at most 60 s).
 *
 * Figures per step:
 *   - requests offered, answered 202, refused (by status and error code), failed (by error);
 *   - freshness: once a second per website (or per each of the first BENCH_PROBE_WEBSITES),
 *     one request of the step comes from that website's probe visitor and its last event is a
 *     pageview `/bench-probe/<n>`; the poller reads the probe goal's `conversions` through
 *     `GET /api/websites/:id/goals/:goal/stats` every BENCH_POLL_MS for each website with a
 *     probe answered and not yet readable. The probes of a website share a Kafka key, so they
 *     are written in order and a count of k means its first k probes are readable (a probe
 *     refused but written anyway would shift that count: only in steps that fail anyway).
 *     Freshness = first poll answer showing the probe − its 202 (so up to one poll interval
 *     plus a poll's time late); p50/p95/p99/max over the step's probes, a probe not readable
 *     5 s after the step counted as never (∞);
 *   - consumer lag of the processor's group (log end − committed offset, summed over
 *     partitions) when the step starts and when its sending ends, in events and in seconds of
 *     the step's traffic;
 *   - CPU by process over the sending window, in cores and in µs per event answered 202:
 *     ingest, processor, api (which serves the freshness polls), PostgreSQL (its postmaster,
 *     from the data directory's postmaster.pid, with every backend and background process,
 *     those that exited included; also split by the client each backend serves, from
 *     pg_stat_activity's application_name, the rest being `background`), Kafka and Redis
 *     (the processes listening on their ports), the bench itself (load generator, poller, lag
 *     reads), the rest of the machine (other work on a shared machine shows here) and the
 *     whole machine;
 *   - memory at the end of the step: RSS of each process; PostgreSQL as the sum of the
 *     proportional set sizes of its processes (shared buffers counted once).
 * Held: every offered request answered 202 (no 429, no 503, no error), freshness p95 ≤ 1 s,
 * and lag at the end of the step at most one second of the step's traffic above its start.
 * Headline: the highest rate held per ladder against the targets (≥ 7,000 events/s in batches
 * of 10, ≥ 3,500 events/s in single events); the CPU per event by process at the knee (the
 * last step held) and what stopped the next step (its failed criteria, its busiest process).
 *
 * Baseline (same run): a bare Fastify server answering 202 (bench/bare-server.ts) receives the
 * same requests at the knee's rate for BENCH_BASELINE_SECONDS; its CPU per event is what the
 * HTTP part alone costs. Printed: ingest's and the whole pipeline's CPU per event at the knee
 * against it.
 *
 * Knobs: BENCH_RATES (events/s of the batch ladder, default 2000,…,8000,10000),
 * BENCH_SINGLE_RATES (of the single-event ladder, default 1000,…,5000; `none` skips it),
 * BENCH_STEP_SECONDS (30), BENCH_WARMUP_SECONDS (10), BENCH_WEBSITES (100), BENCH_GOALS (50,
 * the probe goal included), BENCH_BATCH (10), BENCH_VISITORS_PER_WEBSITE (1000),
 * BENCH_PROBE_WEBSITES (0 = every website carries probes), BENCH_POLL_MS (100),
 * BENCH_MAX_IN_FLIGHT (1024), BENCH_BASELINE_SECONDS (5; 0 skips it).
 * DATABASE_URL, KAFKA_BROKERS and REDIS_URL name the stack, as for the services.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import pg from 'pg';
import { KeyService } from '../api/keys/key.service.js';
import { DatabaseEnv, KafkaEnv, RedisEnv } from '../shared/config/env.js';
import { loadConfig } from '../shared/config/load-config.js';
import { goalRepository, type NewGoal } from '../shared/db/repositories/goal.repository.js';
import { migrate } from '../shared/db/migrate.js';
import { createDb } from '../shared/db/pool.js';
import { websiteRepository } from '../shared/db/repositories/website.repository.js';
import { newGoalId, newWebsiteId, randomId } from '../shared/ids.js';
import { createKafka } from '../shared/kafka/kafka.js';
import { createLogger } from '../shared/logger.js';
import { createRedis } from '../shared/redis/redis.js';
import { REPO_ROOT, serviceArgs, type Service } from '../scripts/services.js';
import { EVENT_NAMES, goalFor, PATHS } from './bench-fixture.js';
import {
  cpuSeconds,
  deleteBenchKeys,
  fmt,
  freePort,
  machineBusySeconds,
  pidListeningOn,
  processTree,
  pssMb,
  rssMb,
  treeCpuSeconds,
  waitHttp,
} from './bench-util.js';
import { errorCode, OpenLoopClient, type Outcome } from './open-loop.js';

const RATES = '^[0-9]+(,[0-9]+)*$';
const config = loadConfig(
  Type.Object({
    ...DatabaseEnv,
    ...KafkaEnv,
    ...RedisEnv,
    /** Events per second of the ladder with BENCH_BATCH events per request. */
    BENCH_RATES: Type.String({
      pattern: RATES,
      default: '2000,3000,4000,5000,6000,7000,8000,10000',
    }),
    /** Events per second of the single-event ladder; `none` skips it. */
    BENCH_SINGLE_RATES: Type.String({
      pattern: `${RATES}|^none$`,
      default: '1000,2000,2500,3000,3500,4000,5000',
    }),
    BENCH_STEP_SECONDS: Type.Integer({ minimum: 3, maximum: 600, default: 30 }),
    BENCH_WARMUP_SECONDS: Type.Integer({ minimum: 0, maximum: 600, default: 10 }),
    /**
     * The run's time budget: a step that would end past it is not started (the report says
     * so), and the drain before a step takes at most what is left.
     */
    BENCH_MAX_MINUTES: Type.Number({ minimum: 1, maximum: 240, default: 15 }),
    /**
     * Websites sharing the traffic evenly. Ingest's per-website limit stays at its default
     * (600,000 events a minute), so a rate above 10,000 events/s per website is refused.
     */
    BENCH_WEBSITES: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
    /** Goals per website, the probe goal included (the database allows 50). */
    BENCH_GOALS: Type.Integer({ minimum: 1, maximum: 50, default: 50 }),
    BENCH_BATCH: Type.Integer({ minimum: 1, maximum: 50, default: 10 }),
    BENCH_VISITORS_PER_WEBSITE: Type.Integer({ minimum: 1, default: 1000 }),
    /**
     * Websites that carry freshness probes (the first N); 0 = all, as the issue asks. Each
     * probe costs at least one API poll, so fewer probed websites take less of the machine.
     */
    BENCH_PROBE_WEBSITES: Type.Integer({ minimum: 0, default: 0 }),
    /** How often a website with a pending probe is polled through the API. */
    BENCH_POLL_MS: Type.Integer({ minimum: 10, maximum: 1000, default: 100 }),
    /**
     * Requests in flight at most (one keep-alive connection each): 200 ms of the top single-
     * event step; a request due beyond it fails rather than wait.
     */
    BENCH_MAX_IN_FLIGHT: Type.Integer({ minimum: 1, maximum: 10_000, default: 1024 }),
    /** Seconds of the bare-server baseline per ladder; 0 skips it. */
    BENCH_BASELINE_SECONDS: Type.Integer({ minimum: 0, maximum: 120, default: 5 }),
  }),
);

const CORES = availableParallelism();
const FRESHNESS_TARGET_MS = 1000;
const FRESHNESS_GRACE_MS = 5000;
const DRAIN_MAX_MS = 60_000;
const REQUEST_TIMEOUT_MS = 10_000;
const TARGETS = { batch: 7000, single: 3500 } as const;

const logger = createLogger('bench', 'error');
const startedAt = performance.now();
const log = (m: string) => {
  const s = Math.round((performance.now() - startedAt) / 1000);
  const clock = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  process.stdout.write(`[pipeline ${clock}] ${m}\n`);
};
const out = (m = '') => process.stdout.write(`${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const parseRates = (s: string) => (s === 'none' ? [] : s.split(',').map(Number));

const run = `bench-pipeline-${Date.now().toString(36)}-${randomId(4)}`;
const dbName = `goalpost_bench_pipeline_${run.slice('bench-pipeline-'.length).replace('-', '_')}`;
const dbUrl = (name: string) => {
  const u = new URL(config.DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
};
const topic = `${run}.events`;
const dlqTopic = `${run}.dlq`;

// --- traffic ------------------------------------------------------------------------------

/** xorshift32: the same traffic on every run. */
let seed = 0x9e3779b9;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;

const BROWSERS = [
  {
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    lang: 'en-US,en;q=0.9',
    screen: '1920x1080',
  },
  {
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    lang: 'de-DE,de;q=0.9,en;q=0.8',
    screen: '1440x900',
  },
  {
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    lang: 'fr-FR,fr;q=0.9',
    screen: '390x844',
  },
  {
    ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
    lang: 'es-ES,es;q=0.9',
    screen: '412x915',
  },
  {
    ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    lang: 'en-GB,en;q=0.8',
    screen: '2560x1440',
  },
  {
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
    lang: 'pl-PL,pl;q=0.9',
    screen: '1366x768',
  },
] as const;
const REFERRERS = ['https://www.google.com/', 'https://news.example/', 'https://t.co/x', null];

interface Site {
  id: string;
  host: string;
  probeGoal: string;
  /** Probes in send order; `next` is the first not yet known readable (or failed). */
  probes: Probe[];
  next: number;
  /** Probes (not failed) known readable so far. */
  readable: number;
  polling: boolean;
}
interface Probe {
  answeredAt: number | null;
  readableAt: number | null;
  failed: boolean;
}
const sites: Site[] = [];

/** One Sparklytics event of `visitor`: a pageview (70 %) or a custom event with properties. */
function sparklyticsEvent(site: Site, visitor: string, browser: (typeof BROWSERS)[number]) {
  const pageview = rand() < 0.7;
  const path = PATHS[Math.floor(rand() * rand() * PATHS.length)]!; // popular pages first
  const utm = rand() < 0.1 ? '?utm_source=newsletter&utm_medium=email&utm_campaign=summer' : '';
  const base = {
    website_id: site.id,
    url: `https://www.${site.host}${path}${pageview ? utm : ''}`,
    referrer: pageview ? pick(REFERRERS) : null,
    page_title: `Page ${path}`,
    screen: browser.screen,
    language: browser.lang.slice(0, 5),
    visitor_id: visitor,
  };
  if (pageview) return { ...base, type: 'pageview' as const };
  return {
    ...base,
    type: 'event' as const,
    event_name: pick(EVENT_NAMES),
    event_data: {
      plan: rand() < 0.4 ? 'pro' : 'free',
      amount: Math.round(rand() * 20000) / 100,
      sku: `sku-${Math.floor(rand() * 500)}`,
    },
  };
}

interface BuiltRequest {
  headers: Record<string, string>;
  body: string;
  events: number;
  probe: Probe | null;
}

/** A request of `batch` events from one visitor; from the probe visitor of `probeSite` when set. */
function buildRequest(batch: number, probeSite: Site | null): BuiltRequest {
  const site = probeSite ?? sites[Math.floor(rand() * sites.length)]!;
  const browser = probeSite ? BROWSERS[0] : pick(BROWSERS);
  const visitor = probeSite
    ? 'bench-probe'
    : `v${Math.floor(rand() * config.BENCH_VISITORS_PER_WEBSITE)}`;
  const events: object[] = [];
  for (let k = 0; k < batch; k++) events.push(sparklyticsEvent(site, visitor, browser));
  let probe: Probe | null = null;
  if (probeSite) {
    probe = { answeredAt: null, readableAt: null, failed: false };
    probeSite.probes.push(probe);
    events[batch - 1] = {
      website_id: site.id,
      type: 'pageview',
      url: `https://www.${site.host}/bench-probe/${probeSite.probes.length}`,
      page_title: 'Probe',
      screen: browser.screen,
      language: browser.lang.slice(0, 5),
      visitor_id: visitor,
    };
  }
  return {
    headers: {
      'content-type': 'application/json',
      'user-agent': browser.ua,
      'accept-language': browser.lang,
      origin: `https://www.${site.host}`,
    },
    body: JSON.stringify(batch === 1 ? events[0] : events),
    events: batch,
    probe,
  };
}

// --- load -------------------------------------------------------------------------------------

interface LoadStats {
  offered: number;
  offeredEvents: number;
  accepted: number;
  acceptedEvents: number;
  refused: Map<string, number>;
  failed: Map<string, number>;
  probes: Probe[];
  probesSkipped: number;
  pending: number;
  /** Most requests in flight at once. */
  maxPending: number;
  /** Send → answer of every answered request, ms. */
  latencies: number[];
}
const newLoadStats = (): LoadStats => ({
  offered: 0,
  offeredEvents: 0,
  accepted: 0,
  acceptedEvents: 0,
  refused: new Map(),
  failed: new Map(),
  probes: [],
  probesSkipped: 0,
  pending: 0,
  maxPending: 0,
  latencies: [],
});
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

let stopping = false;

/**
 * Sends `rate` events per second in requests of `batch` for `seconds`, on schedule (open
 * loop). With `probes`, one request a second per probed website is that website's probe
 * request, due at evenly spread times (website i at i/N of each second).
 */
async function runLoad(o: {
  client: OpenLoopClient;
  rate: number;
  batch: number;
  seconds: number;
  probes: boolean;
  stats: LoadStats;
}): Promise<void> {
  const perSecond = o.rate / o.batch;
  const total = Math.round(perSecond * o.seconds);
  const t0 = performance.now();
  let sent = 0;
  let probeSlot = 0;
  const probed = Math.min(config.BENCH_PROBE_WEBSITES || sites.length, sites.length);
  while (sent < total && !stopping) {
    const elapsedS = (performance.now() - t0) / 1000;
    const due = Math.min(total, Math.floor(elapsedS * perSecond) + 1);
    for (; sent < due; sent++) {
      let probeSite: Site | null = null;
      if (o.probes) {
        // A probe more than a second late (fewer requests a second than websites) is skipped.
        while (probeSlot / probed < elapsedS - 1) {
          probeSlot++;
          o.stats.probesSkipped++;
        }
        if (probeSlot / probed <= elapsedS) probeSite = sites[probeSlot++ % probed]!;
      }
      send(o.client, buildRequest(o.batch, probeSite), o.stats);
    }
    const nextAt = t0 + (sent / perSecond) * 1000;
    await sleep(Math.max(1, Math.min(50, nextAt - performance.now())));
  }
}

function send(client: OpenLoopClient, req: BuiltRequest, stats: LoadStats): void {
  stats.offered++;
  stats.offeredEvents += req.events;
  stats.pending++;
  stats.maxPending = Math.max(stats.maxPending, stats.pending);
  if (req.probe) stats.probes.push(req.probe);
  const sentAt = performance.now();
  client.request('POST', '/api/collect', req.headers, req.body, (o: Outcome) => {
    stats.pending--;
    if ('status' in o) stats.latencies.push(performance.now() - sentAt);
    if ('status' in o && o.status === 202) {
      stats.accepted++;
      stats.acceptedEvents += req.events;
      if (req.probe) req.probe.answeredAt = performance.now();
      return;
    }
    if (req.probe) req.probe.failed = true;
    if ('status' in o) bump(stats.refused, `${o.status} ${errorCode(o.body) ?? ''}`.trim());
    else bump(stats.failed, o.error);
  });
}

/** Waits until every request of `stats` is answered or failed (they time out). */
async function settled(stats: LoadStats): Promise<void> {
  while (stats.pending > 0) await sleep(20);
}

// --- freshness poller ---------------------------------------------------------------------

let apiKey = '';
let polls = 0;
/** How long each poll took, in ms, in order (a step reads its own slice). */
const pollMs: number[] = [];
const pollErrors = new Map<string, number>();
const firstDay = new Date().toISOString().slice(0, 10);

/** Marks the first `count` probes of `site` (in send order, failed ones aside) readable at `t`. */
function markReadable(site: Site, count: number, t: number): void {
  while (site.readable < count && site.next < site.probes.length) {
    const p = site.probes[site.next++]!;
    if (p.failed) continue;
    p.readableAt ??= t;
    site.readable++;
  }
  while (site.next < site.probes.length && site.probes[site.next]!.failed) site.next++;
}

const waitsForPoll = (site: Site) =>
  site.probes
    .slice(site.next)
    .some((p) => !p.failed && p.answeredAt !== null && p.readableAt === null);

function pollTick(api: OpenLoopClient): void {
  const today = new Date().toISOString().slice(0, 10);
  for (const site of sites) {
    if (site.polling || !waitsForPoll(site)) continue;
    site.polling = true;
    polls++;
    const sentAt = performance.now();
    api.request(
      'GET',
      `/api/websites/${site.id}/goals/${site.probeGoal}/stats?start_date=${firstDay}&end_date=${today}&include_bots=true`,
      { authorization: `Bearer ${apiKey}` },
      null,
      (o) => {
        site.polling = false;
        pollMs.push(performance.now() - sentAt);
        if ('status' in o && o.status === 200) {
          const count = (JSON.parse(o.body) as { data: { conversions: number } }).data.conversions;
          markReadable(site, count, performance.now());
        } else {
          bump(pollErrors, 'status' in o ? `${o.status} ${errorCode(o.body) ?? ''}` : o.error);
        }
      },
    );
  }
}

/** Waits until every probe of `probes` answered 202 is readable, or `deadline` passed. */
async function probesReadable(probes: Probe[], deadline: number): Promise<void> {
  while (performance.now() < deadline && !stopping) {
    if (probes.every((p) => p.failed || p.answeredAt === null || p.readableAt !== null)) return;
    await sleep(20);
  }
}

// --- processes, CPU, memory, lag ------------------------------------------------------------

const PROCS = ['ingest', 'processor', 'api', 'PostgreSQL', 'Kafka', 'Redis', 'bench'] as const;
type Proc = (typeof PROCS)[number];
const pids: Record<Proc, number | null> = {
  ingest: null,
  processor: null,
  api: null,
  PostgreSQL: null,
  Kafka: null,
  Redis: null,
  bench: process.pid,
};
interface CpuSample {
  t: number;
  cpu: Record<Proc, number>;
  machine: number;
  /** PostgreSQL backends of the bench's database: client, CPU seconds so far. */
  backends: Map<number, { client: PgClient; cpu: number }>;
}
/** Whose connections a PostgreSQL backend serves (by application_name). */
const PG_CLIENTS = ['processor', 'api', 'ingest', 'other'] as const;
type PgClient = (typeof PG_CLIENTS)[number];
/** A connection of the bench's own to its database, to list the backends (null: none). */
let statsPg: pg.Client | null = null;

/** Ingest's metrics listener (set once ingest is started). */
let ingestMetricsUrl = '';

/**
 * Ingest's event-loop delay since the previous call, in ms: prom-client's event-loop monitor
 * (perf_hooks, 10 ms resolution) is reset at each scrape, so a scrape at a step's start and one
 * at its end give that step's p50, p99 and max. Null when the metrics cannot be read.
 */
async function ingestLoopDelay(): Promise<{ p50: number; p99: number; max: number } | null> {
  try {
    const text = await (await fetch(ingestMetricsUrl)).text();
    const read = (name: string) => {
      const m = new RegExp(
        `^goalpost_ingest_nodejs_eventloop_lag_${name}_seconds (\\S+)$`,
        'm',
      ).exec(text);
      return m ? Number(m[1]) * 1000 : NaN;
    };
    return { p50: read('p50'), p99: read('p99'), max: read('max') };
  } catch {
    return null;
  }
}

async function sampleCpu(): Promise<CpuSample> {
  const backends = new Map<number, { client: PgClient; cpu: number }>();
  if (statsPg && pids.PostgreSQL) {
    const { rows } = await statsPg.query<{ pid: number; app: string }>(
      `SELECT pid, application_name AS app FROM pg_stat_activity WHERE datname = current_database()`,
    );
    for (const r of rows) {
      const name = r.app.replace(/^goalpost-/, '');
      const client = (PG_CLIENTS as readonly string[]).includes(name)
        ? (name as PgClient)
        : 'other';
      backends.set(r.pid, { client, cpu: cpuSeconds(r.pid) });
    }
  }
  const u = process.cpuUsage();
  return {
    t: performance.now(),
    backends,
    machine: machineBusySeconds(),
    cpu: {
      ingest: cpuSeconds(pids.ingest),
      processor: cpuSeconds(pids.processor),
      api: cpuSeconds(pids.api),
      // Servers that fork: their exited children's CPU time counts too.
      PostgreSQL: treeCpuSeconds(pids.PostgreSQL),
      Kafka: cpuSeconds(pids.Kafka),
      Redis: treeCpuSeconds(pids.Redis),
      bench: (u.user + u.system) / 1e6,
    },
  };
}
function memoryMb(): Record<Proc, number | null> {
  const rss = (p: number | null) => (p ? rssMb(p).rss : null);
  return {
    ingest: rss(pids.ingest),
    processor: rss(pids.processor),
    api: rss(pids.api),
    PostgreSQL: pids.PostgreSQL ? Math.round(pssMb(processTree(pids.PostgreSQL))) : null,
    Kafka: rss(pids.Kafka),
    Redis: rss(pids.Redis),
    bench: Math.round(process.memoryUsage.rss() / 1048576),
  };
}

const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'goalpost-bench' }, logger);
const admin = kafka.admin();

/** Events in the topic that the processor's group has not committed yet. */
async function consumerLag(): Promise<number> {
  const [ends, groups] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: run, topics: [topic] }),
  ]);
  const committed = new Map(
    (groups[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
  );
  return ends.reduce(
    (n, p) => n + Number(p.high) - Math.max(Number(p.low), committed.get(p.partition) ?? -1),
    0,
  );
}

/** Lets the processor catch up (and the probes sent be read) before a step: at most 60 s. */
async function drain(): Promise<void> {
  const t0 = performance.now();
  let shown = false;
  for (;;) {
    const lag = await consumerLag();
    if (lag <= 10 || stopping) return;
    if (performance.now() - t0 > DRAIN_MAX_MS) {
      log(`lag still ${fmt(lag)} after ${DRAIN_MAX_MS / 1000} s of draining: going on`);
      return;
    }
    if (!shown && performance.now() - t0 > 2000) {
      log(`draining: lag ${fmt(lag)} events`);
      shown = true;
    }
    await sleep(250);
  }
}

// --- services ---------------------------------------------------------------------------------

const children: ChildProcess[] = [];
let serviceDied: string | null = null;

/** A service as npm start runs it (scripts/services.ts), with `env` on top of ours. */
function startService(name: Service, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, serviceArgs(REPO_ROOT, name), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  // Its warnings and errors (JSON log level ≥ 40) and anything that is not a log line.
  let shown = 0;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 100);
      if (level < 40 || shown > 30) return;
      process.stdout.write(`  ${name} | ${line}\n`);
      if (++shown > 30) process.stdout.write(`  ${name} | (further warnings not shown)\n`);
    });
  }
  child.on('exit', (code, signal) => {
    if (!stopping) {
      serviceDied = `${name} exited (${signal ?? code})`;
      log(serviceDied);
      stopping = true;
    }
  });
  return child;
}

/** Throws when a service this run started has died (waitHttp stops waiting then). */
function stillRunning(): void {
  if (serviceDied) throw new Error(serviceDied);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

// --- steps ------------------------------------------------------------------------------------

type Ladder = 'batch' | 'single';
interface Step {
  ladder: Ladder;
  rate: number;
  batch: number;
  load: LoadStats;
  seconds: number;
  lagStart: number;
  lagEnd: number;
  fresh: { p50: number; p95: number; p99: number; max: number; n: number; unread: number };
  polls: number;
  /** Poll durations: median and 95th percentile, ms. */
  pollP50: number;
  pollP95: number;
  cores: Record<Proc, number>;
  usPerEvent: Record<Proc, number>;
  machineCores: number;
  otherCores: number;
  /** PostgreSQL's cores by the client its backends serve; `background`: the server's own. */
  pgCores: Record<PgClient | 'background', number>;
  memory: Record<Proc, number | null>;
  /** Ingest's event-loop delay over the step, ms (null: not read). */
  loopDelay: { p50: number; p99: number; max: number } | null;
  held: boolean;
  why: string[];
}

/** The nearest-rank `q` quantile of ascending `sorted`; NaN when empty. */
const quantile = (sorted: readonly number[], q: number) =>
  sorted.length === 0 ? NaN : sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;

function percentiles(probes: Probe[]): Step['fresh'] {
  const lat = probes
    .filter((p) => !p.failed && p.answeredAt !== null)
    // A conversion can be readable before the 202 reaches the bench: 0 then.
    .map((p) => (p.readableAt === null ? Infinity : Math.max(0, p.readableAt - p.answeredAt!)))
    .sort((a, b) => a - b);
  const at = (q: number) => quantile(lat, q);
  return {
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: at(1),
    n: lat.length,
    unread: lat.filter((l) => l === Infinity).length,
  };
}

const ms = (v: number) => (Number.isNaN(v) ? '-' : v === Infinity ? '∞' : fmt(v));
const counts = (m: Map<string, number>) =>
  m.size === 0
    ? 'none'
    : [...m]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k}: ${fmt(n)}`)
        .join(', ');

async function runStep(
  ladder: Ladder,
  rate: number,
  batch: number,
  client: OpenLoopClient,
): Promise<Step> {
  await drain();
  const load = newLoadStats();
  const lagStart = await consumerLag();
  const polls0 = polls;
  const pollMs0 = pollMs.length;
  await ingestLoopDelay(); // resets the monitor: the next read covers this step
  const c0 = await sampleCpu();
  const seconds = config.BENCH_STEP_SECONDS;
  const progress = setInterval(() => {
    void consumerLag().then((lag) => {
      const f = percentiles(load.probes.filter((p) => p.readableAt !== null));
      log(
        `  ${ladder} ${fmt(rate)}/s, ${Math.round((performance.now() - c0.t) / 1000)}/${seconds} s: ` +
          `${fmt(load.offered)} requests offered, ${fmt(load.accepted)} answered 202, ` +
          `${fmt(load.offered - load.accepted - load.pending)} not; lag ${fmt(lag)} ` +
          `(${(lag / rate).toFixed(1)} s); freshness p95 so far ${ms(f.p95)} ms`,
      );
    });
  }, 5000);
  await runLoad({ client, rate, batch, seconds, probes: true, stats: load });
  clearInterval(progress);
  const c1 = await sampleCpu();
  const loopDelay = await ingestLoopDelay();
  const lagEnd = await consumerLag();
  const memory = memoryMb();
  const sendEnd = performance.now();
  await settled(load);
  await probesReadable(load.probes, sendEnd + FRESHNESS_GRACE_MS);
  const wall = (c1.t - c0.t) / 1000;
  const cores = {} as Record<Proc, number>;
  const usPerEvent = {} as Record<Proc, number>;
  for (const p of PROCS) {
    const s = c1.cpu[p] - c0.cpu[p];
    cores[p] = s / wall;
    usPerEvent[p] = load.acceptedEvents > 0 ? (s * 1e6) / load.acceptedEvents : NaN;
  }
  const machineCores = (c1.machine - c0.machine) / wall;
  // PostgreSQL by client: each backend's CPU over the step (a backend that exited during the
  // step leaves its time to `background`, with the server's own processes).
  const pgCores = { processor: 0, api: 0, ingest: 0, other: 0, background: 0 };
  for (const [pid, b] of c1.backends) pgCores[b.client] += b.cpu - (c0.backends.get(pid)?.cpu ?? 0);
  for (const k of PG_CLIENTS) pgCores[k] /= wall;
  pgCores.background = cores.PostgreSQL - PG_CLIENTS.reduce((n, k) => n + pgCores[k], 0);
  const fresh = percentiles(load.probes);
  const why: string[] = [];
  if (load.accepted < load.offered) {
    why.push(`${fmt(load.offered - load.accepted)} of ${fmt(load.offered)} requests not 202`);
  }
  if (!(fresh.p95 <= FRESHNESS_TARGET_MS)) {
    why.push(fresh.n === 0 ? 'no probe answered 202' : `freshness p95 ${ms(fresh.p95)} ms > 1 s`);
  }
  if (lagEnd - lagStart > rate) {
    why.push(
      `lag grew by ${fmt(lagEnd - lagStart)} (${((lagEnd - lagStart) / rate).toFixed(1)} s)`,
    );
  }
  if (stopping) why.push('interrupted');
  return {
    ladder,
    rate,
    batch,
    load,
    seconds: wall,
    lagStart,
    lagEnd,
    fresh,
    polls: polls - polls0,
    ...(() => {
      const d = pollMs.slice(pollMs0).sort((a, b) => a - b);
      return { pollP50: quantile(d, 0.5), pollP95: quantile(d, 0.95) };
    })(),
    cores,
    usPerEvent,
    machineCores,
    pgCores,
    otherCores: machineCores - PROCS.reduce((s, p) => s + cores[p], 0),
    memory,
    loopDelay,
    held: why.length === 0,
    why,
  };
}

/** PostgreSQL's CPU by client, in cores and µs per event. */
const pgSplit = (s: Step) =>
  `by client: ` +
  ([...PG_CLIENTS, 'background'] as const)
    .map(
      (k) =>
        `${k} ${s.pgCores[k].toFixed(2)} (${ms((s.pgCores[k] * s.seconds * 1e6) / s.load.acceptedEvents)} µs)`,
    )
    .join(', ') +
  ' cores (µs per event)';

function printStep(s: Step): void {
  const lat = [...s.load.latencies].sort((a, b) => a - b);
  const procs = (f: (p: Proc) => string) => PROCS.map((p) => `${p} ${f(p)}`).join(', ');
  log(
    `${s.ladder} ${fmt(s.rate)} events/s (${s.batch} a request): ` +
      (s.held ? 'HELD' : `NOT HELD: ${s.why.join('; ')}`),
  );
  out(
    `    requests   ${fmt(s.load.offered)} offered (${fmt(s.load.offeredEvents)} events), ` +
      `${fmt(s.load.accepted)} answered 202, refused ${counts(s.load.refused)}, ` +
      `failed ${counts(s.load.failed)}; answered in p50 ${ms(quantile(lat, 0.5))}, ` +
      `p99 ${ms(quantile(lat, 0.99))}, max ${ms(quantile(lat, 1))} ms; ` +
      `at most ${fmt(s.load.maxPending)} in flight`,
  );
  out(
    `    freshness  p50 ${ms(s.fresh.p50)}, p95 ${ms(s.fresh.p95)}, p99 ${ms(s.fresh.p99)}, ` +
      `max ${ms(s.fresh.max)} ms over ${fmt(s.fresh.n)} probes (${s.fresh.unread} unread after 5 s` +
      `${s.load.probesSkipped ? `, ${s.load.probesSkipped} not sent: fewer requests than websites` : ''}); ` +
      `${fmt(s.polls / s.seconds)} API polls/s taking p50 ${ms(s.pollP50)}, p95 ${ms(s.pollP95)} ms`,
  );
  out(
    `    lag        ${fmt(s.lagStart)} → ${fmt(s.lagEnd)} events ` +
      `(${(s.lagStart / s.rate).toFixed(2)} → ${(s.lagEnd / s.rate).toFixed(2)} s of traffic)`,
  );
  out(
    `    CPU cores  ${procs((p) => s.cores[p].toFixed(2))}, other ${s.otherCores.toFixed(2)}; ` +
      `machine ${s.machineCores.toFixed(2)} of ${CORES}`,
  );
  out(`    µs/event   ${procs((p) => ms(s.usPerEvent[p]))}`);
  out(`    PostgreSQL ${pgSplit(s)}`);
  out(
    `    ingest event-loop delay ` +
      (s.loopDelay === null
        ? 'not read'
        : `p50 ${s.loopDelay.p50.toFixed(1)}, p99 ${s.loopDelay.p99.toFixed(1)}, max ${s.loopDelay.max.toFixed(1)} ms`),
  );
  out(`    RSS MB     ${procs((p) => (s.memory[p] === null ? '-' : fmt(s.memory[p])))}`);
}

// --- baseline ---------------------------------------------------------------------------------

interface Baseline {
  rate: number;
  usPerEvent: number;
  benchUsPerEvent: number;
  refusedOrFailed: number;
}

/** The bare Fastify 202 server, sent the same requests at `rate` (after a 1 s warm-up). */
async function measureBaseline(rate: number, batch: number): Promise<Baseline | null> {
  if (config.BENCH_BASELINE_SECONDS === 0 || stopping) return null;
  const port = await freePort();
  const bare = spawn(
    process.execPath,
    [join(dirname(fileURLToPath(import.meta.url)), 'bare-server.js'), String(port)],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.push(bare);
  try {
    await waitHttp(`http://127.0.0.1:${port}/api/collect`, 'POST', 30_000, stillRunning);
    const client = new OpenLoopClient(
      { host: '127.0.0.1', port },
      config.BENCH_MAX_IN_FLIGHT,
      REQUEST_TIMEOUT_MS,
    );
    const warm = newLoadStats();
    await runLoad({ client, rate, batch, seconds: 1, probes: false, stats: warm });
    await settled(warm);
    const stats = newLoadStats();
    const cpu0 = cpuSeconds(bare.pid);
    const b0 = process.cpuUsage();
    await runLoad({
      client,
      rate,
      batch,
      seconds: config.BENCH_BASELINE_SECONDS,
      probes: false,
      stats,
    });
    const cpu1 = cpuSeconds(bare.pid);
    const b1 = process.cpuUsage(b0);
    await settled(stats);
    client.close();
    return {
      rate,
      usPerEvent: ((cpu1 - cpu0) * 1e6) / stats.acceptedEvents,
      benchUsPerEvent: (b1.user + b1.system) / stats.acceptedEvents,
      refusedOrFailed: stats.offered - stats.accepted,
    };
  } finally {
    await stopChild(bare);
  }
}

// --- the run ----------------------------------------------------------------------------------

const batchRates = parseRates(config.BENCH_RATES);
const singleRates = parseRates(config.BENCH_SINGLE_RATES);
const estimateS =
  60 +
  [batchRates, singleRates]
    .filter((r) => r.length > 0)
    .reduce(
      (s, r) =>
        s +
        config.BENCH_WARMUP_SECONDS +
        r.length * (config.BENCH_STEP_SECONDS + 3) +
        config.BENCH_BASELINE_SECONDS +
        3,
      0,
    );
log(
  `run ${run}: ${config.BENCH_WEBSITES} websites × ${config.BENCH_GOALS} goals; ladders ` +
    `${batchRates.join(', ')} events/s in batches of ${config.BENCH_BATCH}` +
    (singleRates.length ? ` and ${singleRates.join(', ')} events/s in single events` : '') +
    `; ${config.BENCH_STEP_SECONDS} s a step after ${config.BENCH_WARMUP_SECONDS} s of warm-up; ` +
    `about ${Math.ceil(estimateS / 60)} min if every step holds; ${CORES} cores`,
);

const adminPg = new pg.Client({ connectionString: dbUrl('postgres') });
const steps: Step[] = [];
const baselines: Partial<Record<Ladder, Baseline | null>> = {};
let dbCreated = false;
// Ctrl-C or SIGTERM: the ladder stops, the report covers the steps run, and the services, topics,
// keys and database go as at the end; a second signal quits at once.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(130);
    log(`${signal}: stopping (a second one quits at once)`);
    stopping = true;
    process.exitCode = 130;
  });
}

try {
  await adminPg.connect();
  // Leftovers of runs that crashed; a running one's database is in use and is left alone.
  const stale = await adminPg.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname LIKE 'goalpost\\_bench\\_pipeline\\_%'`,
  );
  for (const { datname } of stale.rows) {
    await adminPg.query(`DROP DATABASE ${pg.escapeIdentifier(datname)}`).catch(() => undefined);
  }
  await adminPg.query(`CREATE DATABASE ${pg.escapeIdentifier(dbName)}`);
  dbCreated = true;
  const db = createDb({ url: dbUrl(dbName), max: 8, applicationName: 'goalpost-bench' }, logger);
  await migrate(db, logger);

  log(`setup: database ${dbName}, ${config.BENCH_WEBSITES} websites × ${config.BENCH_GOALS} goals`);
  for (let w = 0; w < config.BENCH_WEBSITES; w++) {
    const host = `site${w}.example`;
    const site = await websiteRepository.create(db, {
      id: newWebsiteId(),
      name: `${run} ${w}`,
      domain: host,
    });
    const probeGoal: NewGoal = {
      id: newGoalId(),
      website_id: site.id,
      name: 'bench freshness probe',
      description: null,
      goal_type: 'pageview',
      match_operator: 'starts_with',
      match_value: '/bench-probe/',
      case_sensitive: true,
      property_filters: [],
      value_mode: 'none',
      fixed_value: null,
      value_property_key: null,
      currency: 'USD',
    };
    const goals = [
      probeGoal,
      ...Array.from({ length: config.BENCH_GOALS - 1 }, (_, g) => goalFor(site.id, g)),
    ];
    await Promise.all(goals.map((g) => goalRepository.create(db, g)));
    sites.push({
      id: site.id,
      host,
      probeGoal: probeGoal.id,
      probes: [],
      next: 0,
      readable: 0,
      polling: false,
    });
  }
  // A deployment's goals have long been backfilled; queued ones would be backfilled now, by
  // the processor, during the first steps.
  await db.query(
    'bench.backfill_done',
    `UPDATE goals SET backfill = backfill || jsonb_build_object('state', 'done', 'progress', 1,
       'started_at', now(), 'finished_at', now())`,
  );
  const key = await new KeyService({ db, logger }).create('cli', {
    name: 'bench:pipeline freshness poller',
    website_ids: sites.map((s) => s.id),
  });
  apiKey = key.key;
  const dataDir = (
    await db.query<{ d: string }>('bench.data_dir', "SELECT current_setting('data_directory') AS d")
  ).rows[0]!.d;
  await db.end();

  try {
    pids.PostgreSQL = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    log('PostgreSQL runs elsewhere (no postmaster.pid here): its CPU is not measured');
  }
  statsPg = new pg.Client({ connectionString: dbUrl(dbName), application_name: 'goalpost-bench' });
  await statsPg.connect();
  pids.Kafka = pidListeningOn(Number(config.KAFKA_BROKERS.split(',')[0]!.split(':').pop()));
  pids.Redis = pidListeningOn(Number(new URL(config.REDIS_URL).port || 6379));

  const ingestPort = await freePort();
  const apiPort = await freePort();
  const [m1, m2, m3] = [await freePort(), await freePort(), await freePort()];
  const common = { DATABASE_URL: dbUrl(dbName), BULLMQ_PREFIX: run };
  ingestMetricsUrl = `http://127.0.0.1:${m1}/metrics`;
  pids.ingest = startService('ingest', {
    ...common,
    KAFKA_EVENTS_TOPIC: topic,
    INGEST_PORT: String(ingestPort),
    METRICS_PORT: String(m1),
    INGEST_RATE_LIMIT_IP_PER_MINUTE: '1000000000',
    INGEST_BOT_RATE_HEURISTIC: 'false',
  }).pid!;
  pids.processor = startService('processor', {
    ...common,
    KAFKA_EVENTS_TOPIC: topic,
    KAFKA_DLQ_TOPIC: dlqTopic,
    KAFKA_CONSUMER_GROUP: run,
    METRICS_PORT: String(m2),
  }).pid!;
  pids.api = startService('api', {
    ...common,
    API_PORT: String(apiPort),
    METRICS_PORT: String(m3),
    API_RATE_LIMIT_KEY_PER_MINUTE: '1000000000',
  }).pid!;
  log(
    `services: ingest pid ${pids.ingest} :${ingestPort}, processor pid ${pids.processor}, ` +
      `api pid ${pids.api} :${apiPort}; PostgreSQL pid ${pids.PostgreSQL ?? '-'}, ` +
      `Kafka pid ${pids.Kafka ?? '-'}, Redis pid ${pids.Redis ?? '-'}`,
  );
  await waitHttp(`http://127.0.0.1:${ingestPort}/ready`, 'GET', 90_000, stillRunning);
  await waitHttp(`http://127.0.0.1:${apiPort}/health`, 'GET', 90_000, stillRunning);
  await admin.connect();

  log(
    'deviations from npm start (all of them): ingest INGEST_RATE_LIMIT_IP_PER_MINUTE=1000000000, ' +
      'INGEST_BOT_RATE_HEURISTIC=false; api API_RATE_LIMIT_KEY_PER_MINUTE=1000000000; ' +
      `own database ${dbName}, topics ${topic} and ${dlqTopic}, group and BullMQ prefix ${run}; ` +
      'goals created with their backfill marked done',
  );
  const ingest = new OpenLoopClient(
    { host: '127.0.0.1', port: ingestPort },
    config.BENCH_MAX_IN_FLIGHT,
    REQUEST_TIMEOUT_MS,
  );
  const api = new OpenLoopClient(
    { host: '127.0.0.1', port: apiPort },
    sites.length + 1,
    REQUEST_TIMEOUT_MS,
  );
  const poller = setInterval(() => pollTick(api), config.BENCH_POLL_MS);

  // The chain end to end: one probe per website until each is readable through the API (the
  // processor has joined its group and sees every website's goals).
  {
    const first = newLoadStats();
    for (const site of sites) send(ingest, buildRequest(1, site), first);
    await settled(first);
    if (first.accepted !== first.offered) {
      throw new Error(`first probes: ${counts(first.refused)} refused, ${counts(first.failed)}`);
    }
    await probesReadable(first.probes, performance.now() + 120_000);
    const unread = first.probes.filter((p) => p.readableAt === null).length;
    if (unread > 0) throw new Error(`${unread} first probes not readable after 120 s`);
    log(`pipeline ready: a probe per website readable through the API`);
  }

  for (const [ladder, rates, batch] of [
    ['batch', batchRates, config.BENCH_BATCH],
    ['single', singleRates, 1],
  ] as const) {
    if (rates.length === 0 || stopping) continue;
    if (config.BENCH_WARMUP_SECONDS > 0) {
      await drain();
      log(`${ladder}: warm-up, ${config.BENCH_WARMUP_SECONDS} s at ${fmt(rates[0]!)} events/s`);
      const warm = newLoadStats();
      await runLoad({
        client: ingest,
        rate: rates[0]!,
        batch,
        seconds: config.BENCH_WARMUP_SECONDS,
        probes: true,
        stats: warm,
      });
      await settled(warm);
    }
    for (const rate of rates) {
      if (stopping) break;
      const elapsedS = (performance.now() - startedAt) / 1000;
      // A step, its drain and settling take about twice its length.
      if (elapsedS + 2 * config.BENCH_STEP_SECONDS > config.BENCH_MAX_MINUTES * 60) {
        log(
          `${ladder}: step ${fmt(rate)} events/s not started: it would end past the ` +
            `${config.BENCH_MAX_MINUTES}-minute budget (BENCH_MAX_MINUTES)`,
        );
        break;
      }
      log(`${ladder}: step ${fmt(rate)} events/s, ${config.BENCH_STEP_SECONDS} s`);
      const step = await runStep(ladder, rate, batch, ingest);
      steps.push(step);
      printStep(step);
      if (!step.held) break;
    }
    const mine = steps.filter((s) => s.ladder === ladder);
    const knee = mine.filter((s) => s.held).at(-1) ?? mine[0];
    if (knee && !stopping && config.BENCH_BASELINE_SECONDS > 0) {
      log(`${ladder}: baseline, bare Fastify 202 at ${fmt(knee.rate)} events/s`);
      baselines[ladder] = await measureBaseline(knee.rate, batch);
    }
  }
  clearInterval(poller);
  ingest.close();
  api.close();
  report();
  if (serviceDied) throw new Error(serviceDied);
} finally {
  stopping = true;
  for (const c of children) await stopChild(c);
  await cleanup();
}

function report(): void {
  const cell = (v: string, w: number) => v.padStart(w);
  for (const ladder of ['batch', 'single'] as const) {
    const mine = steps.filter((s) => s.ladder === ladder);
    if (mine.length === 0) continue;
    out();
    out(
      `== ${ladder === 'batch' ? `batches of ${config.BENCH_BATCH} events` : 'single-event requests'}`,
    );
    out(
      `${cell('events/s', 8)} ${cell('requests', 9)} ${cell('202', 9)}  ${'refused / failed'.padEnd(18)}` +
        ` ${cell('fresh p50', 9)} ${cell('p95', 6)} ${cell('p99', 6)} ${cell('max', 6)} ${cell('unread', 6)}` +
        `  ${'lag start → end (s of traffic)'.padEnd(30)}  held`,
    );
    for (const s of mine) {
      const bad = s.load.offered - s.load.accepted;
      out(
        `${cell(fmt(s.rate), 8)} ${cell(fmt(s.load.offered), 9)} ${cell(fmt(s.load.accepted), 9)}  ` +
          `${(bad === 0 ? '0' : `${counts(s.load.refused)} / ${counts(s.load.failed)}`).padEnd(18)}` +
          ` ${cell(ms(s.fresh.p50), 9)} ${cell(ms(s.fresh.p95), 6)} ${cell(ms(s.fresh.p99), 6)}` +
          ` ${cell(ms(s.fresh.max), 6)} ${cell(String(s.fresh.unread), 6)}  ` +
          `${`${fmt(s.lagStart)} → ${fmt(s.lagEnd)} (${(s.lagStart / s.rate).toFixed(2)} → ${(s.lagEnd / s.rate).toFixed(2)})`.padEnd(30)}  ` +
          (s.held ? 'yes' : `no: ${s.why.join('; ')}`),
      );
    }
    out(`CPU in cores (µs per event):`);
    out(
      `${cell('events/s', 8)} ${PROCS.map((p) => cell(p, 14)).join(' ')} ${cell('other', 6)} ${cell('machine', 7)}`,
    );
    for (const s of mine) {
      out(
        `${cell(fmt(s.rate), 8)} ` +
          PROCS.map((p) => cell(`${s.cores[p].toFixed(2)} (${ms(s.usPerEvent[p])})`, 14)).join(
            ' ',
          ) +
          ` ${cell(s.otherCores.toFixed(2), 6)} ${cell(`${s.machineCores.toFixed(2)}/${CORES}`, 7)}`,
      );
    }
    out(`ingest event-loop delay over the step, ms:`);
    out(`${cell('events/s', 8)} ${cell('p50', 7)} ${cell('p99', 7)} ${cell('max', 7)}`);
    for (const s of mine) {
      const d = s.loopDelay;
      out(
        `${cell(fmt(s.rate), 8)} ` +
          (d === null
            ? 'not read'
            : `${cell(d.p50.toFixed(1), 7)} ${cell(d.p99.toFixed(1), 7)} ${cell(d.max.toFixed(1), 7)}`),
      );
    }
    out(`RSS in MB at the end of each step (PostgreSQL: sum of PSS):`);
    out(`${cell('events/s', 8)} ${PROCS.map((p) => cell(p, 10)).join(' ')}`);
    for (const s of mine) {
      out(
        `${cell(fmt(s.rate), 8)} ${PROCS.map((p) => cell(s.memory[p] === null ? '-' : fmt(s.memory[p]), 10)).join(' ')}`,
      );
    }
  }

  out();
  out(
    `== bench:pipeline, ${config.BENCH_WEBSITES} websites × ${config.BENCH_GOALS} goals, ${CORES} cores`,
  );
  const headline = (ladder: Ladder) => {
    const mine = steps.filter((s) => s.ladder === ladder);
    const held = mine.filter((s) => s.held).at(-1);
    const what = ladder === 'batch' ? `in batches of ${config.BENCH_BATCH}` : 'in single events';
    if (mine.length === 0) return `${what}: not run`;
    const target = TARGETS[ladder];
    return (
      `${held ? `${fmt(held.rate)} events/s` : 'no step held'} ${what} ` +
      `(target ≥ ${fmt(target)}: ${held && held.rate >= target ? 'met' : 'not met'})`
    );
  };
  out(`highest rate held: ${headline('batch')}; ${headline('single')}`);
  for (const ladder of ['batch', 'single'] as const) {
    const mine = steps.filter((s) => s.ladder === ladder);
    if (mine.length === 0) continue;
    const knee = mine.filter((s) => s.held).at(-1);
    const next = mine.find((s) => !s.held);
    const name = ladder === 'batch' ? `batches of ${config.BENCH_BATCH}` : 'single events';
    if (knee) {
      const total = PROCS.reduce((s, p) => s + knee.usPerEvent[p], 0);
      const pollerUs =
        knee.usPerEvent.api + (knee.pgCores.api * knee.seconds * 1e6) / knee.load.acceptedEvents;
      const alone = total - knee.usPerEvent.bench - pollerUs;
      const cores = (us: number) => ((us * knee.rate) / 1e6).toFixed(2);
      out(
        `knee, ${name}, ${fmt(knee.rate)} events/s: CPU per event in µs ` +
          PROCS.map((p) => `${p} ${ms(knee.usPerEvent[p])}`).join(', '),
      );
      out(`  PostgreSQL ${pgSplit(knee)}`);
      out(
        `  in all ${fmt(total)} µs per event = ${cores(total)} cores of ${CORES}; of that the ` +
          `freshness poller (api and its PostgreSQL backends, ${fmt(knee.polls / knee.seconds)} ` +
          `polls/s) ${ms(pollerUs)} µs, the bench ${ms(knee.usPerEvent.bench)} µs; the pipeline ` +
          `alone ${fmt(alone)} µs = ${cores(alone)} cores`,
      );
    }
    // The baseline ran at the knee's rate (the first step's when none held).
    const b = baselines[ladder];
    const ref = mine.find((s) => s.rate === b?.rate);
    if (b && ref) {
      const sum = PROCS.filter((p) => p !== 'bench').reduce((n, p) => n + ref.usPerEvent[p], 0);
      out(
        `  baseline, bare Fastify 202 on the same requests at ${fmt(b.rate)} events/s: ` +
          `${ms(b.usPerEvent)} µs per event (load generator ${ms(b.benchUsPerEvent)} µs` +
          `${b.refusedOrFailed ? `, ${fmt(b.refusedOrFailed)} requests not 202` : ''}); ` +
          `ingest ${(ref.usPerEvent.ingest / b.usPerEvent).toFixed(1)}×, ` +
          `the pipeline without the bench ${(sum / b.usPerEvent).toFixed(1)}× that`,
      );
    }
    if (next) {
      const busiest = [...PROCS].sort((a, b) => next.cores[b] - next.cores[a])[0]!;
      out(
        `limit, ${name}: ${fmt(next.rate)} events/s not held: ${next.why.join('; ')}; busiest ` +
          `process ${busiest} at ${next.cores[busiest].toFixed(2)} cores; machine ` +
          `${next.machineCores.toFixed(2)} of ${CORES} cores busy (other work ${next.otherCores.toFixed(2)})`,
      );
    } else {
      out(`limit, ${name}: every step held; the next one is above ${fmt(mine.at(-1)!.rate)}`);
    }
  }
  if (pollErrors.size > 0) out(`freshness polls that failed: ${counts(pollErrors)}`);
  out(
    `peak RSS (VmHWM) in MB: ` +
      (['ingest', 'processor', 'api'] as const)
        .map((p) => `${p} ${fmt(rssMb(pids[p]).peak)}`)
        .join(', ') +
      `, bench ${fmt(rssMb(process.pid).peak)}`,
  );
  log(`done in ${Math.round((performance.now() - startedAt) / 1000)} s`);
}

async function cleanup(): Promise<void> {
  const quiet = <T>(p: Promise<T>) => p.catch(() => undefined);
  await quiet(
    (async () => {
      await admin.connect();
      await quiet(admin.deleteGroups([run]));
      const existing = new Set(await admin.listTopics());
      const mine = [topic, dlqTopic].filter((t) => existing.has(t));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine });
      await admin.disconnect();
    })(),
  );
  const redis = createRedis(config.REDIS_URL, logger, { name: 'bench', enableOfflineQueue: true });
  await quiet(
    deleteBenchKeys(
      redis,
      sites.map((s) => s.id),
      run,
    ),
  );
  redis.disconnect();
  if (statsPg) await quiet(statsPg.end());
  if (dbCreated) {
    await quiet(adminPg.query(`DROP DATABASE ${pg.escapeIdentifier(dbName)} WITH (FORCE)`));
  }
  await quiet(adminPg.end());
}
