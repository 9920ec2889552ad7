/**
 * `npm run bench:processor`: the processor's sustained throughput from a preloaded topic to
 * committed rows, against a COPY of the same rows into the same tables (the ceiling), plus
 * freshness (Kafka ack → conversion readable) at a steady rate and the processor's RSS.
 *
 * Setup: BENCH_WEBSITES websites × BENCH_GOALS goals of mixed kinds (every match operator,
 * property filters, the three value modes) in the dev database; BENCH_EVENTS synthetic events
 * preloaded into a fresh 6-partition topic; the processor runs as a child process
 * (`node --import tsx processor/index.ts`), as in production. Everything the run creates is
 * deleted at the end.
 */
import { Type } from '@sinclair/typebox';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { DatabaseEnv, KafkaEnv, RedisEnv } from '../shared/config/env.js';
import { loadConfig } from '../shared/config/load-config.js';
import { goalRepository, type NewGoal } from '../shared/db/goal.repository.js';
import { migrate } from '../shared/db/migrate.js';
import { createDb } from '../shared/db/pool.js';
import { websiteRepository } from '../shared/db/website.repository.js';
import { encodeEvent, type EventMessage } from '../shared/events/event-message.js';
import { newGoalId, newWebsiteId, randomId } from '../shared/ids.js';
import { createKafka, ensureTopics } from '../shared/kafka/kafka.js';
import { createLogger } from '../shared/logger.js';

const config = loadConfig(
  Type.Object({
    ...DatabaseEnv,
    ...KafkaEnv,
    ...RedisEnv,
    BENCH_EVENTS: Type.Integer({ minimum: 1000, default: 200_000 }),
    BENCH_WEBSITES: Type.Integer({ minimum: 1, default: 100 }),
    BENCH_GOALS: Type.Integer({ minimum: 1, default: 50 }),
    BENCH_FRESHNESS_RATE: Type.Integer({ minimum: 100, default: 5000 }),
    BENCH_FRESHNESS_SECONDS: Type.Integer({ minimum: 2, default: 10 }),
    BENCH_SUB_BATCH_SIZE: Type.Integer({ minimum: 100, default: 2000 }),
    BENCH_PARTITIONS_CONCURRENTLY: Type.Integer({ minimum: 1, default: 3 }),
    /** A directory: the processor then writes a V8 CPU profile there (--cpu-prof). */
    BENCH_CPU_PROFILE_DIR: Type.String({ default: '' }),
  }),
);
const logger = createLogger('bench', 'warn');
const db = createDb(
  { url: config.DATABASE_URL, max: 4, applicationName: 'goalpost-bench' },
  logger,
);
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'goalpost-bench' }, logger);
const out = (s: string) => process.stdout.write(`${s}\n`);
const run = `bench-${Date.now().toString(36)}-${randomId(4)}`;

await migrate(db, logger);

// --- websites and goals -------------------------------------------------------------------
const PATHS = Array.from({ length: 200 }, (_, i) =>
  i % 10 === 0 ? `/checkout/step-${i}` : i % 7 === 0 ? `/blog/post-${i}/` : `/page/${i}`,
);
const NAMES = Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? `purchase_${i}` : `click_${i}`));
function goalFor(websiteId: string, i: number): NewGoal {
  const base = {
    id: newGoalId(),
    website_id: websiteId,
    name: `bench goal ${i}`,
    description: null,
    case_sensitive: i % 3 !== 0,
    property_filters: [] as NewGoal['property_filters'],
    value_mode: 'none' as NewGoal['value_mode'],
    fixed_value: null as string | null,
    value_property_key: null as string | null,
    currency: 'USD',
  };
  const kind = i % 8;
  if (kind < 5) {
    const [op, value] = (
      [
        ['equals', PATHS[(i * 7) % PATHS.length]!],
        ['starts_with', '/checkout/'],
        ['contains', `post-${i % 9}`],
        ['glob', '/blog/*/'],
        ['regex', `^/page/${i % 10}\\d$`],
      ] as const
    )[kind]!;
    return {
      ...base,
      goal_type: 'pageview',
      match_operator: op,
      match_value: value,
      value_mode: i % 2 ? 'fixed' : 'none',
      fixed_value: i % 2 ? '9.99' : null,
    };
  }
  return {
    ...base,
    goal_type: 'event',
    match_operator: 'equals',
    match_value: NAMES[(i * 3) % NAMES.length]!,
    property_filters: kind === 6 ? [{ key: 'plan', operator: 'equals', value: 'pro' }] : [],
    value_mode: kind === 7 ? 'event_property' : 'none',
    value_property_key: kind === 7 ? 'amount' : null,
  };
}
out(`setup: ${config.BENCH_WEBSITES} websites × ${config.BENCH_GOALS} goals`);
const websites: string[] = [];
for (let w = 0; w < config.BENCH_WEBSITES; w++) {
  const id = newWebsiteId();
  await websiteRepository.create(db, { id, name: `${run} ${w}`, domain: 'bench.example' });
  websites.push(id);
  for (let g = 0; g < config.BENCH_GOALS; g++) await goalRepository.create(db, goalFor(id, g));
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
    event_name: isEvent ? NAMES[i % NAMES.length]! : null,
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
  if (produced % 60_000 === 0) out(`preload: ${produced}/${config.BENCH_EVENTS}`);
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

const profile = config.BENCH_CPU_PROFILE_DIR
  ? ['--cpu-prof', `--cpu-prof-dir=${config.BENCH_CPU_PROFILE_DIR}`]
  : [];
const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'processor/index.ts'], {
  env: {
    DATABASE_URL: config.DATABASE_URL,
    REDIS_URL: config.REDIS_URL,
    KAFKA_BROKERS: config.KAFKA_BROKERS,
    KAFKA_EVENTS_TOPIC: topic,
    KAFKA_DLQ_TOPIC: dlqTopic,
    KAFKA_CONSUMER_GROUP: run,
    BULLMQ_PREFIX: run,
    PROCESSOR_SUB_BATCH_SIZE: String(config.BENCH_SUB_BATCH_SIZE),
    PROCESSOR_PARTITIONS_CONCURRENTLY: String(config.BENCH_PARTITIONS_CONCURRENTLY),
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
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

// Progress from the group's committed offsets (cheap; offsets are committed only after the
// rows are), not from count(*) polling, which would compete with the processor.
const committedOffsets = async () => {
  const [t] = await admin.fetchOffsets({ groupId: run, topics: [topic] });
  return (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
};
let firstAt = 0;
let stored = 0;
let lastPrint = 0;
for (;;) {
  stored = await committedOffsets();
  if (stored > 0 && firstAt === 0) firstAt = performance.now();
  if (performance.now() - lastPrint > 2000) {
    lastPrint = performance.now();
    out(
      `processor: ${stored}/${config.BENCH_EVENTS} events committed, RSS ${maxRss.toFixed(0)} MB`,
    );
  }
  if (stored >= config.BENCH_EVENTS) break;
  if (child.exitCode !== null) throw new Error('processor exited');
  await new Promise((r) => setTimeout(r, 100));
}
const processorSeconds = (performance.now() - firstAt) / 1000;
const processorRate = config.BENCH_EVENTS / processorSeconds;
if ((await countIn('events')) !== config.BENCH_EVENTS) throw new Error('events missing');
const conversions = await countIn('conversions');
const sessions = await countIn('sessions');
out(
  `processor: ${config.BENCH_EVENTS} events (+${conversions} conversions, ${sessions} sessions) ` +
    `in ${processorSeconds.toFixed(1)} s = ${processorRate.toFixed(0)} events/s`,
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
async function exportRows(table: string): Promise<Buffer> {
  const cols = await columnsOf(table);
  const client = await db.pool.connect();
  try {
    const chunks: Buffer[] = [];
    await pipeline(
      client.query(
        copyTo(
          `COPY (SELECT ${cols} FROM ${table} WHERE website_id IN (${websites.map((w) => `'${w}'`).join(',')})) TO STDOUT`,
        ),
      ),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      }),
    );
    return Buffer.concat(chunks);
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
  events: await exportRows('events'),
  conversions: await exportRows('conversions'),
  sessions: await exportRows('sessions'),
};
await deleteRows();
const c0 = performance.now();
{
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const table of ['events', 'conversions', 'sessions'] as const) {
      const cols = await columnsOf(table);
      await pipeline(
        Readable.from([dumps[table]]),
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

// --- freshness at a steady rate ----------------------------------------------------------------
out(`freshness: ${config.BENCH_FRESHNESS_RATE} events/s for ${config.BENCH_FRESHNESS_SECONDS} s`);
const acked = new Map<string, number>();
const seen = new Map<string, number>();
const fStart = Date.now();
let polling = true;
const poller = (async () => {
  while (polling || seen.size < acked.size) {
    const { rows } = await db.query<{ event_id: string }>(
      'bench.fresh',
      `SELECT DISTINCT event_id FROM conversions
        WHERE website_id = ANY($1) AND event_time >= $2`,
      [websites, new Date(fStart - 1000)],
    );
    const t = performance.now();
    for (const r of rows) if (!seen.has(r.event_id)) seen.set(r.event_id, t);
    if (!polling && Date.now() - fStart > (config.BENCH_FRESHNESS_SECONDS + 30) * 1000) break;
    await new Promise((r) => setTimeout(r, 25));
  }
})();
const tickMs = 20;
const perTick = Math.round((config.BENCH_FRESHNESS_RATE * tickMs) / 1000);
let k = config.BENCH_EVENTS;
const inflight: Array<Promise<unknown>> = [];
for (let tick = 0; tick < (config.BENCH_FRESHNESS_SECONDS * 1000) / tickMs; tick++) {
  const due = fStart + tick * tickMs;
  if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
  const msgs = [];
  const ids: string[] = [];
  for (let j = 0; j < perTick; j++, k++) {
    const ev = syntheticEvent(k, new Date());
    msgs.push({ key: `${ev.website_id}:${ev.session_id}`, value: encodeEvent(ev) });
    ids.push(ev.event_id);
  }
  inflight.push(
    producer.send({ topic, acks: -1, messages: msgs }).then(() => {
      const t = performance.now();
      for (const id of ids) acked.set(id, t);
    }),
  );
}
await Promise.all(inflight);
polling = false;
// Only events that convert are observable in the conversions table.
await poller;
const lat = [...seen]
  .filter(([id]) => acked.has(id))
  .map(([id, t]) => t - acked.get(id)!)
  .sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
out(
  `freshness: ${lat.length} conversions observed, p50 ${pct(50).toFixed(0)} ms, p95 ${pct(95).toFixed(0)} ms ` +
    `(Kafka ack → readable; 25 ms polling)`,
);

// --- summary and cleanup --------------------------------------------------------------------
clearInterval(rssTimer);
out('');
out(`processor   ${processorRate.toFixed(0)} events/s   (target ≥ 30000)`);
out(`COPY        ${copyRate.toFixed(0)} events/s`);
out(`ratio       ${(processorRate / copyRate).toFixed(2)}   (target ≥ 0.5)`);
out(
  `freshness   p50 ${pct(50).toFixed(0)} ms, p95 ${pct(95).toFixed(0)} ms   (target p95 ≤ 1000 ms)`,
);
out(`RSS         max ${maxRss.toFixed(0)} MB   (target ≤ 300 MB)`);

child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await producer.disconnect();
await deleteRows();
await db.query('bench.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [websites]);
await admin.deleteTopics({ topics: [topic, dlqTopic] }).catch(() => undefined);
await admin.disconnect();
await db.end();
