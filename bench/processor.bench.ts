/**
 * `npm run bench:processor`: the processor's sustained throughput from a preloaded topic to
 * committed rows, against a COPY of the same rows into the same tables (the ceiling), plus
 * freshness (ingest's 202 → conversion readable) at a steady rate and the processor's RSS.
 *
 * Setup: BENCH_WEBSITES websites × BENCH_GOALS goals of mixed kinds (every match operator,
 * property filters, the three value modes) in the dev database; BENCH_EVENTS synthetic events
 * (1M by default) preloaded into a fresh 6-partition topic; the processor runs as a child
 * process from the build, as npm start and production run it, and so does ingest for the
 * freshness part (producing into the same topic). The processor logs
 * each sub-batch's statement timings at debug level; the run sums them into the profile it
 * prints. Everything the run creates is deleted at the end.
 * BENCH_ASYNC_COMMIT=false and BENCH_COPY=false run the processor without asynchronous commit
 * or without COPY, to measure what each is worth (processor/README.md has the figures).
 */
import { Type } from '@sinclair/typebox';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { DatabaseEnv, KafkaEnv, RedisEnv } from '../shared/config/env.js';
import { loadConfig } from '../shared/config/load-config.js';
import { goalRepository } from '../shared/db/repositories/goal.repository.js';
import { migrate } from '../shared/db/migrate.js';
import { createDb } from '../shared/db/pool.js';
import { websiteRepository } from '../shared/db/repositories/website.repository.js';
import { encodeEvent, type EventMessage } from '../shared/events/event-message.js';
import { newWebsiteId, randomId } from '../shared/ids.js';
import { createKafka, ensureTopics } from '../shared/kafka/kafka.js';
import { createLogger } from '../shared/logger.js';
import { EVENT_NAMES, goalFor, PATHS } from './bench-fixture.js';
import { cpuSeconds, deleteBenchKeys, freePort, machineBusySeconds } from './bench-util.js';
import { REPO_ROOT, serviceArgs } from '../scripts/services.js';
import { createRedis } from '../shared/redis/redis.js';

const config = loadConfig(
  Type.Object({
    ...DatabaseEnv,
    ...KafkaEnv,
    ...RedisEnv,
    BENCH_EVENTS: Type.Integer({ minimum: 1000, default: 1_000_000 }),
    BENCH_WEBSITES: Type.Integer({ minimum: 1, default: 100 }),
    /** At least 6: goal 5 of each website is the freshness probe (see below). */
    BENCH_GOALS: Type.Integer({ minimum: 6, maximum: 50, default: 50 }),
    BENCH_FRESHNESS_RATE: Type.Integer({ minimum: 100, default: 5000 }),
    BENCH_FRESHNESS_SECONDS: Type.Integer({ minimum: 2, default: 15 }),
    /** Events per POST /api/collect during the freshness part (Sparklytics batches ≤ 50). */
    BENCH_FRESHNESS_BATCH: Type.Integer({ minimum: 1, maximum: 50, default: 10 }),
    BENCH_SUB_BATCH_SIZE: Type.Integer({ minimum: 100, default: 2000 }),
    /** The write-path variants, to compare in runs of their own (defaults: the service's). */
    BENCH_ASYNC_COMMIT: Type.Boolean({ default: true }),
    BENCH_COPY: Type.Boolean({ default: true }),
    BENCH_PARTITIONS_CONCURRENTLY: Type.Integer({ minimum: 1, default: 3 }),
    /** PROCESSOR_FETCH_MAX_BYTES_PER_PARTITION for the processor; 0 = its default. */
    BENCH_FETCH_MAX_BYTES_PER_PARTITION: Type.Integer({ minimum: 0, default: 0 }),
    /** A directory: the processor then writes a V8 CPU profile there (--cpu-prof). */
    BENCH_CPU_PROFILE_DIR: Type.String({ default: '' }),
  }),
);
// `error`: the bench's own deletes, vacuums and freshness polls are slow under load by design,
// and their slow_query warnings would bury the figures.
const logger = createLogger('bench', 'error');
const db = createDb(
  { url: config.DATABASE_URL, max: 4, applicationName: 'goalpost-bench' },
  logger,
);
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'goalpost-bench' }, logger);
const out = (s: string) => process.stdout.write(`${s}\n`);
const run = `bench-${Date.now().toString(36)}-${randomId(4)}`;

await migrate(db, logger);

// --- websites and goals -------------------------------------------------------------------
out(`setup: ${config.BENCH_WEBSITES} websites × ${config.BENCH_GOALS} goals`);
const websites: string[] = [];
// Freshness probes: the `event equals` goals without property filters (kind 5) match every
// event of their name, so the conversions of those events can be awaited by goal and time
// through the conversions (goal_id, event_time) index, without scanning the others.
const probeGoals: string[] = [];
const probeNames = new Set<string>();
for (let w = 0; w < config.BENCH_WEBSITES; w++) {
  const id = newWebsiteId();
  await websiteRepository.create(db, { id, name: `${run} ${w}`, domain: 'bench.example' });
  websites.push(id);
  for (let g = 0; g < config.BENCH_GOALS; g++) {
    const goal = goalFor(id, g);
    await goalRepository.create(db, goal);
    if (g % 8 === 5) {
      probeGoals.push(goal.id);
      probeNames.add(goal.match_value);
    }
  }
}

function syntheticEvent(i: number, time: Date): EventMessage {
  const website = websites[i % websites.length]!;
  // About 7 events per session of each website.
  const session = `s${Math.floor(i / (7 * websites.length))}`;
  const isEvent = i % 3 === 0;
  const t = time.toISOString();
  return {
    v: 1,
    event_id: randomUUID(),
    event_time: t,
    received_at: t,
    website_id: website,
    session_id: session,
    visitor_id: `v${session}`,
    user_id: null,
    type: i % 50 === 0 ? 'performance' : isEvent ? 'event' : 'pageview',
    event_name: isEvent ? EVENT_NAMES[i % EVENT_NAMES.length]! : null,
    hostname: 'bench.example',
    path: PATHS[(i * 31) % PATHS.length]!,
    querystring: null,
    page_title: 'Bench page',
    referrer: 'https://news.example/',
    referrer_domain: 'news.example',
    channel: 'referral',
    utm_source: i % 5 === 0 ? 'newsletter' : null,
    utm_medium: null,
    utm_campaign: null,
    utm_term: null,
    utm_content: null,
    properties: isEvent ? { plan: i % 2 ? 'pro' : 'free', amount: (i % 1000) / 10 } : null,
    browser: 'Firefox',
    os: 'Linux',
    device: 'desktop',
    screen_width: 1440,
    language: 'en-US',
    country: 'DE',
    region: 'BE',
    city: 'Berlin',
    bot_score: 0,
    is_bot: false,
  };
}

// --- preload --------------------------------------------------------------------------------
const topic = `${run}.events`;
const dlqTopic = `${run}.dlq`;
const admin = kafka.admin();
await admin.connect();
await ensureTopics(admin, [
  { topic, partitions: 6 },
  { topic: dlqTopic, partitions: 1 },
]);
const producer = kafka.producer({ allowAutoTopicCreation: false });
await producer.connect();
const now = Date.now();
let produced = 0;
const t0 = performance.now();
for (let i = 0; i < config.BENCH_EVENTS; i += 6000) {
  const sends = [];
  for (let j = i; j < Math.min(i + 6000, config.BENCH_EVENTS); j += 1000) {
    const msgs = [];
    for (let k = j; k < Math.min(j + 1000, config.BENCH_EVENTS); k++) {
      const ev = syntheticEvent(k, new Date(now - 48 * 3_600_000 + (k % 1000) * 170_000));
      msgs.push({ key: `${ev.website_id}:${ev.session_id}`, value: encodeEvent(ev) });
    }
    sends.push(producer.send({ topic, acks: -1, messages: msgs }));
  }
  await Promise.all(sends);
  produced = Math.min(i + 6000, config.BENCH_EVENTS);
  if (produced % 102_000 === 0) {
    const s = (performance.now() - t0) / 1000;
    out(`preload: ${produced}/${config.BENCH_EVENTS} in ${s.toFixed(1)} s`);
  }
}
out(`preload: ${produced} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// --- processor run ----------------------------------------------------------------------------
const countIn = async (table: string) =>
  (
    await db.query<{ n: number }>(
      'bench.count',
      `SELECT count(*)::int AS n FROM ${table} WHERE website_id = ANY($1)`,
      [websites],
    )
  ).rows[0]!.n;

/** Sums of the processor's `sub_batch_written` debug lines (see events.consumer.ts). */
const STEPS = ['match_ms', 'events_ms', 'sessions_ms', 'conversions_ms', 'tx_ms'] as const;
const timings = { batches: 0, rows: 0, conversions: 0, sessions: 0 } as Record<string, number>;
for (const k of STEPS) timings[k] = 0;
let collectTimings = true;

const profile = config.BENCH_CPU_PROFILE_DIR
  ? ['--cpu-prof', `--cpu-prof-dir=${config.BENCH_CPU_PROFILE_DIR}`]
  : [];
const child = spawn(process.execPath, [...profile, ...serviceArgs(REPO_ROOT, 'processor')], {
  env: {
    DATABASE_URL: config.DATABASE_URL,
    REDIS_URL: config.REDIS_URL,
    KAFKA_BROKERS: config.KAFKA_BROKERS,
    KAFKA_EVENTS_TOPIC: topic,
    KAFKA_DLQ_TOPIC: dlqTopic,
    KAFKA_CONSUMER_GROUP: run,
    BULLMQ_PREFIX: run,
    PROCESSOR_SUB_BATCH_SIZE: String(config.BENCH_SUB_BATCH_SIZE),
    PROCESSOR_ASYNC_COMMIT: String(config.BENCH_ASYNC_COMMIT),
    PROCESSOR_COPY: String(config.BENCH_COPY),
    PROCESSOR_PARTITIONS_CONCURRENTLY: String(config.BENCH_PARTITIONS_CONCURRENTLY),
    ...(config.BENCH_FETCH_MAX_BYTES_PER_PARTITION > 0
      ? {
          PROCESSOR_FETCH_MAX_BYTES_PER_PARTITION: String(
            config.BENCH_FETCH_MAX_BYTES_PER_PARTITION,
          ),
        }
      : {}),
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    // debug: one `sub_batch_written` line per transaction, summed into the profile below.
    LOG_LEVEL: 'debug',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
createInterface({ input: child.stdout }).on('line', (line) => {
  let entry: Record<string, unknown> | null = null;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    /* not a log line */
  }
  if (entry?.msg !== 'sub_batch_written') {
    // Warnings and errors only, as at LOG_LEVEL=warn.
    if (!entry || Number(entry.level) >= 40) process.stdout.write(`${line}\n`);
    return;
  }
  if (!collectTimings) return;
  timings.batches!++;
  for (const k of ['rows', 'conversions', 'sessions', ...STEPS]) {
    timings[k]! += Number(entry[k] ?? 0);
  }
});
let maxRss = 0;
const rssTimer = setInterval(() => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    if (m) maxRss = Math.max(maxRss, Number(m[1]) / 1024);
  } catch {
    /* exited */
  }
}, 250);

/** CPU seconds of the PostgreSQL processes now running (backends that exited are missed). */
function postgresCpu(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres') {
        cpu.set(Number(d), cpuSeconds(Number(d)));
      }
    } catch {
      /* exited */
    }
  }
  return cpu;
}
const kafkaPid = (() => {
  try {
    return Number(readFileSync('.stack/kafka/kafka.pid', 'utf8').trim()) || null;
  } catch {
    return null;
  }
})();

// What the processor's database sessions are doing, sampled: `active` without a wait event
// is PostgreSQL on CPU; `idle in transaction` is PostgreSQL waiting for the processor.
const pgStates = new Map<string, number>();
let pgSamples = 0;
const sampleStates = async () => {
  const { rows } = await db.query<{ s: string; n: number }>(
    'bench.pg_states',
    `SELECT state || coalesce(' / ' || wait_event_type || ':' || wait_event, '') AS s,
            count(*)::int AS n
       FROM pg_stat_activity
      WHERE application_name = 'goalpost-processor' AND state IS NOT NULL
      GROUP BY 1`,
  );
  pgSamples++;
  for (const r of rows) pgStates.set(r.s, (pgStates.get(r.s) ?? 0) + r.n);
};

// Progress from the group's committed offsets (cheap; offsets are committed only after the
// rows are), not from count(*) polling, which would compete with the processor.
const committedOffsets = async () => {
  const [t] = await admin.fetchOffsets({ groupId: run, topics: [topic] });
  return (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
};
let firstAt = 0;
let stored = 0;
let lastPrint = 0;
let lastStored = 0;
let lastSample = 0;
const cpu0 = { machine: 0, processor: 0, kafka: 0, bench: 0 };
let pg0 = new Map<number, number>();
for (;;) {
  stored = await committedOffsets();
  if (stored > 0 && firstAt === 0) {
    firstAt = performance.now();
    lastPrint = firstAt;
    Object.assign(cpu0, {
      machine: machineBusySeconds(),
      processor: cpuSeconds(child.pid),
      kafka: cpuSeconds(kafkaPid),
      bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    });
    pg0 = postgresCpu();
  }
  if (firstAt > 0 && performance.now() - lastSample > 250) {
    lastSample = performance.now();
    await sampleStates();
  }
  if (firstAt > 0 && performance.now() - lastPrint > 5000) {
    const secs = (performance.now() - lastPrint) / 1000;
    lastPrint = performance.now();
    out(
      `processor: ${stored}/${config.BENCH_EVENTS} events committed ` +
        `(${((stored - lastStored) / secs).toFixed(0)} events/s), RSS ${maxRss.toFixed(0)} MB`,
    );
    lastStored = stored;
  }
  if (stored >= config.BENCH_EVENTS) break;
  if (child.exitCode !== null) throw new Error('processor exited');
  await new Promise((r) => setTimeout(r, 100));
}
const processorSeconds = (performance.now() - firstAt) / 1000;
const processorRate = config.BENCH_EVENTS / processorSeconds;
const cores = (s: number) => (s / processorSeconds).toFixed(2);
const benchCpu = process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 - cpu0.bench;
const cpu = {
  machine: machineBusySeconds() - cpu0.machine,
  processor: cpuSeconds(child.pid) - cpu0.processor,
  kafka: cpuSeconds(kafkaPid) - cpu0.kafka,
  postgres: [...postgresCpu()].reduce((sum, [pid, c]) => sum + c - (pg0.get(pid) ?? 0), 0),
};
collectTimings = false;
if ((await countIn('events')) !== config.BENCH_EVENTS) throw new Error('events missing');
const conversions = await countIn('conversions');
const sessions = await countIn('sessions');
out(
  `processor: ${config.BENCH_EVENTS} events (+${conversions} conversions, ${sessions} sessions) ` +
    `in ${processorSeconds.toFixed(1)} s = ${processorRate.toFixed(0)} events/s`,
);
const rest = cpu.machine - cpu.processor - cpu.kafka - cpu.postgres - benchCpu;
const profileLines = [
  `CPU during the run, in cores busy (2 on this machine): all ${cores(cpu.machine)} = ` +
    `processor ${cores(cpu.processor)} + PostgreSQL ${cores(cpu.postgres)} + ` +
    `Kafka ${cores(cpu.kafka)} + bench ${cores(benchCpu)} + anything else ${cores(rest)}; ` +
    `per event: processor ${((cpu.processor / config.BENCH_EVENTS) * 1e6).toFixed(0)} µs, ` +
    `PostgreSQL ${((cpu.postgres / config.BENCH_EVENTS) * 1e6).toFixed(0)} µs`,
];
if (timings.batches! > 0) {
  const per = (k: string) => ((timings[k]! / timings.rows!) * 2000).toFixed(1);
  const other =
    timings.tx_ms! - timings.events_ms! - timings.sessions_ms! - timings.conversions_ms!;
  profileLines.push(
    `per 2,000 events, summed over ${timings.batches} transactions ` +
      `(${(timings.rows! / timings.batches!).toFixed(0)} events, ` +
      `${(timings.conversions! / timings.batches!).toFixed(0)} conversions, ` +
      `${(timings.sessions! / timings.batches!).toFixed(0)} session deltas each): ` +
      `match ${per('match_ms')} ms (before the transaction); transaction ${per('tx_ms')} ms = ` +
      `events insert ${per('events_ms')} + sessions upsert ${per('sessions_ms')} + ` +
      `conversions insert ${per('conversions_ms')} + checkout, BEGIN and COMMIT ${((other / timings.rows!) * 2000).toFixed(1)}`,
  );
}
if (pgSamples > 0) {
  const states = [...pgStates]
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${s} ${(n / pgSamples).toFixed(2)}`)
    .join(', ');
  profileLines.push(`processor's PostgreSQL sessions, mean number in each state: ${states}`);
}
for (const l of profileLines) out(`profile: ${l}`);

// --- freshness: ingest's 202 → conversion readable, at a steady rate ---------------------------
const ingestPort = await freePort();
// Ingest runs as `npm start` runs it: from the build, with its Node flags.
const ingest = spawn(process.execPath, serviceArgs(REPO_ROOT, 'ingest'), {
  env: {
    DATABASE_URL: config.DATABASE_URL,
    REDIS_URL: config.REDIS_URL,
    KAFKA_BROKERS: config.KAFKA_BROKERS,
    KAFKA_EVENTS_TOPIC: topic,
    INGEST_PORT: String(ingestPort),
    // One client address sends everything here: per-IP limits and the rate heuristic (which
    // would flag the bench as a bot) are for real traffic.
    INGEST_RATE_LIMIT_IP_PER_MINUTE: '1000000000',
    INGEST_RATE_LIMIT_WEBSITE_PER_MINUTE: '1000000000',
    INGEST_BOT_RATE_HEURISTIC: 'false',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const ingestUrl = `http://127.0.0.1:${ingestPort}`;
for (const deadline = Date.now() + 60_000; ;) {
  const ok = await fetch(`${ingestUrl}/ready`).then(
    (r) => r.ok,
    () => false,
  );
  if (ok) break;
  if (ingest.exitCode !== null || Date.now() > deadline) throw new Error('ingest did not start');
  await new Promise((r) => setTimeout(r, 200));
}
const HEADERS = {
  'content-type': 'application/json',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'accept-language': 'en-US,en;q=0.9',
};
/** The synthetic event as a Sparklytics body item (ingest sets time, session, enrichment). */
function collectItem(ev: EventMessage) {
  return {
    website_id: ev.website_id,
    type: ev.type === 'event' ? 'event' : 'pageview',
    url: `https://${ev.hostname}${ev.path}`,
    referrer: ev.referrer,
    page_title: ev.page_title,
    screen: '1440x900',
    language: ev.language,
    visitor_id: ev.visitor_id,
    event_id: ev.event_id,
    ...(ev.utm_source ? { utm_source: ev.utm_source } : {}),
    ...(ev.type === 'event' ? { event_name: ev.event_name, event_data: ev.properties } : {}),
  };
}

// Warm-up: ingest's website cache is cold; the first requests would wait for the database.
await Promise.all(
  websites.map(async (w, i) => {
    const res = await fetch(`${ingestUrl}/api/collect`, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify(collectItem({ ...syntheticEvent(i, new Date()), website_id: w })),
    });
    if (res.status !== 202) throw new Error(`warm-up: ingest answered ${res.status}`);
  }),
);
out(
  `freshness: ${config.BENCH_FRESHNESS_RATE} events/s for ${config.BENCH_FRESHNESS_SECONDS} s ` +
    `through POST /api/collect (${config.BENCH_FRESHNESS_BATCH} events per request)`,
);
// Probe events (those of a probe goal's name) by id: when ingest answered 202, and when their
// conversion was first seen. `waiting` holds probes not yet seen, in send order, with their
// send time: the poll reads only conversions at or after the oldest of them.
const answered = new Map<string, number>();
const seen = new Map<string, number>();
const waiting = new Map<string, number>();
let accepted = 0;
let refused = 0;
const refusals = new Map<string, number>();
const refuse = (why: string, n: number) => {
  refused += n;
  refusals.set(why, (refusals.get(why) ?? 0) + n);
};
let sending = true;
const fStart = Date.now();
const poller = (async () => {
  let doneAt = 0;
  for (;;) {
    const oldest = waiting.values().next();
    const since = oldest.done ? Date.now() : oldest.value;
    const { rows } = await db.query<{ event_id: string }>(
      'bench.fresh',
      `SELECT DISTINCT event_id::text AS event_id FROM conversions
        WHERE goal_id = ANY($1) AND event_time >= $2`,
      [probeGoals, new Date(since - 2000)],
    );
    const t = performance.now();
    for (const r of rows) {
      if (!seen.has(r.event_id)) seen.set(r.event_id, t);
      waiting.delete(r.event_id);
    }
    if (!sending) {
      doneAt ||= Date.now();
      // Every answered probe is seen, or 30 s passed since the last send (then: reported).
      const open = [...waiting.keys()].filter((id) => answered.has(id)).length;
      if (open === 0 || Date.now() - doneAt > 30_000) break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
})();
const tickMs = 20;
const perTick = Math.round((config.BENCH_FRESHNESS_RATE * tickMs) / 1000);
let k = config.BENCH_EVENTS;
const inflight: Array<Promise<void>> = [];
for (let tick = 0; tick < (config.BENCH_FRESHNESS_SECONDS * 1000) / tickMs; tick++) {
  const due = fStart + tick * tickMs;
  if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
  for (let j = 0; j < perTick; j += config.BENCH_FRESHNESS_BATCH) {
    const evs: EventMessage[] = [];
    for (let n = 0; n < config.BENCH_FRESHNESS_BATCH && j + n < perTick; n++, k++) {
      evs.push(syntheticEvent(k, new Date()));
    }
    const probes = evs
      .filter((e) => e.type === 'event' && probeNames.has(e.event_name!))
      .map((e) => e.event_id);
    for (const id of probes) waiting.set(id, Date.now());
    inflight.push(
      fetch(`${ingestUrl}/api/collect`, {
        method: 'POST',
        headers: HEADERS,
        body: JSON.stringify(evs.map(collectItem)),
      }).then(
        async (res) => {
          const body = await res.text();
          const t = performance.now();
          if (res.status !== 202) {
            refuse(`${res.status} ${/"code":"([^"]+)"/.exec(body)?.[1] ?? ''}`, evs.length);
            for (const id of probes) waiting.delete(id);
            return;
          }
          accepted += evs.length;
          for (const id of probes) answered.set(id, t);
        },
        (err: Error) => {
          refuse(`${err.message} (${(err.cause as Error | undefined)?.message})`, evs.length);
          for (const id of probes) waiting.delete(id);
        },
      ),
    );
  }
}
await Promise.all(inflight);
sending = false;
await poller;
const lat = [...answered]
  .filter(([id]) => seen.has(id))
  // A conversion can become readable just before the 202 reaches the client: 0 then.
  .map(([id, t]) => Math.max(0, seen.get(id)! - t))
  .sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
out(
  `freshness: ${accepted} events accepted (202), ${refused} refused ` +
    `(${[...refusals].map(([why, n]) => `${why}: ${n}`).join(', ') || 'none'}); ` +
    `${lat.length}/${answered.size} probe conversions observed, p50 ${pct(50).toFixed(0)} ms, ` +
    `p95 ${pct(95).toFixed(0)} ms, max ${pct(100).toFixed(0)} ms (ingest 202 → readable; 25 ms polling)`,
);

// --- baseline: COPY of the same rows into the same tables -------------------------------------
const columnsOf = async (table: string) =>
  (
    await db.query<{ c: string }>(
      'bench.columns',
      `SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS c FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''`,
      [table],
    )
  ).rows[0]!.c;
// The preloaded rows only: their times are before `now`, the freshness part's after it.
async function exportRows(table: string, timeColumn: string): Promise<Buffer[]> {
  const cols = await columnsOf(table);
  const client = await db.pool.connect();
  try {
    const chunks: Buffer[] = [];
    await pipeline(
      client.query(
        copyTo(
          `COPY (SELECT ${cols} FROM ${table} WHERE website_id IN (${websites.map((w) => `'${w}'`).join(',')})
             AND ${timeColumn} < '${new Date(now).toISOString()}') TO STDOUT`,
        ),
      ),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      }),
    );
    return chunks;
  } finally {
    client.release();
  }
}
async function deleteRows(): Promise<void> {
  for (const table of ['events', 'conversions', 'sessions']) {
    await db.query('bench.delete', `DELETE FROM ${table} WHERE website_id = ANY($1)`, [websites]);
  }
}
const dumps = {
  events: await exportRows('events', 'event_time'),
  conversions: await exportRows('conversions', 'event_time'),
  sessions: await exportRows('sessions', 'started_at'),
};
await deleteRows();
// The processor wrote into empty tables; without a VACUUM the COPY would also step over the
// dead index entries of the rows just deleted.
for (const table of ['events', 'conversions', 'sessions']) {
  await db.query('bench.vacuum', `VACUUM ${table}`);
}
out('baseline COPY: rows exported, deleted and vacuumed; copying');
const c0 = performance.now();
{
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const table of ['events', 'conversions', 'sessions'] as const) {
      const cols = await columnsOf(table);
      await pipeline(
        Readable.from(dumps[table]),
        client.query(copyFrom(`COPY ${table} (${cols}) FROM STDIN`)),
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}
const copySeconds = (performance.now() - c0) / 1000;
const copyRate = config.BENCH_EVENTS / copySeconds;
out(
  `baseline COPY: the same rows in ${copySeconds.toFixed(1)} s = ${copyRate.toFixed(0)} events/s`,
);

// --- summary and cleanup --------------------------------------------------------------------
clearInterval(rssTimer);
out('');
out(
  `processor   ${processorRate.toFixed(0)} events/s   (async commit ${String(config.BENCH_ASYNC_COMMIT)}, COPY ${String(config.BENCH_COPY)})`,
);
out(`COPY        ${copyRate.toFixed(0)} events/s`);
out(`ratio       ${(processorRate / copyRate).toFixed(2)}   (target ≥ 0.6)`);
out(
  `freshness   p50 ${pct(50).toFixed(0)} ms, p95 ${pct(95).toFixed(0)} ms   (target p95 ≤ 1000 ms)`,
);
out(`RSS         max ${maxRss.toFixed(0)} MB   (target ≤ 300 MB)`);
for (const l of profileLines) out(`profile     ${l}`);

ingest.kill('SIGTERM');
child.kill('SIGTERM');
await Promise.all([
  new Promise((r) => ingest.once('exit', r)),
  new Promise((r) => child.once('exit', r)),
]);
await producer.disconnect();
await deleteRows();
await db.query('bench.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [websites]);
await admin.deleteTopics({ topics: [topic, dlqTopic] }).catch(() => undefined);
await admin.disconnect();
// Ingest's per-visitor session state and event_id claims, the goal cache and live feed of the
// bench's websites, and its BullMQ queues.
const redis = createRedis(config.REDIS_URL, logger, { name: 'bench', enableOfflineQueue: true });
await deleteBenchKeys(redis, websites, run);
redis.disconnect();
await db.end();
