/**
 * `npm run bench:ingest`: ingest throughput against the real stack, in one run.
 *   (a) a bare Fastify route answering 202 (same framework settings, no work): the baseline;
 *   (b) single-event POST /api/collect through the full path (validation, website cache,
 *       enrichment with the GeoIP database, Redis session script, Kafka acks=all);
 *   (c) batches of 50 events;
 *   (d) a fixed 2,000 req/s of (b), for the latency target.
 * Servers run as child processes (ingest from the build, as npm start and production run it),
 * autocannon runs here. BENCH_CLIENT_IPS > 0 sends each request from one of that many public
 * addresses (X-Forwarded-For, ingest trusting loopback as its proxy), so GeoIP lookups and
 * their caches work as under real traffic instead of answering 127.0.0.1 from memory.
 * Each of (a) and (b) is preceded by BENCH_WARMUP_S (10) seconds of the same load, not counted.
 * Prints req/s, events/s, p50/p99, the ingest process's RSS (current and peak) and b/a.
 * BENCH_PROFILE=1 also writes a CPU profile of ingest and prints where its time goes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from '../shared/db/migrate.js';
import { Type } from '@sinclair/typebox';
import autocannon, { type Result } from 'autocannon';
import { DatabaseEnv, KafkaEnv, RedisEnv } from '../shared/config/env.js';
import { loadConfig } from '../shared/config/load-config.js';
import { createDb } from '../shared/db/pool.js';
import { websiteRepository } from '../shared/db/repositories/website.repository.js';
import { newWebsiteId, randomId } from '../shared/ids.js';
import { createKafka } from '../shared/kafka/kafka.js';
import { createLogger } from '../shared/logger.js';
import { cpuSeconds, fmt, freePort, rssMb, waitHttp } from './bench-util.js';
import { REPO_ROOT, SERVICE_NODE_FLAGS, serviceArgs } from '../scripts/services.js';

const BenchConfigSchema = Type.Object({
  ...DatabaseEnv,
  ...KafkaEnv,
  ...RedisEnv,
  BENCH_DURATION_S: Type.Integer({ minimum: 3, maximum: 120, default: 15 }),
  /** Load before (a) and before (b), not counted: JIT compilers (ours, Kafka's JVM) warm up. */
  BENCH_WARMUP_S: Type.Integer({ minimum: 1, maximum: 120, default: 10 }),
  BENCH_CONNECTIONS: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
  BENCH_PROFILE: Type.Boolean({ default: false }),
  /** Node flags for the ingest process: by default those `npm start` uses; '' = V8's defaults. */
  BENCH_INGEST_NODE_FLAGS: Type.String({ default: SERVICE_NODE_FLAGS.ingest.join(' ') }),
  /** Distinct client addresses (X-Forwarded-For) for (b)–(d); 0: every request from loopback. */
  BENCH_CLIENT_IPS: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
});
const ROOT = REPO_ROOT;
const PROFILE_DIR = join(tmpdir(), 'goalpost-ingest-profile');

async function main(): Promise<void> {
  const config = loadConfig(BenchConfigSchema);
  const log = (m: string) =>
    process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  const logger = createLogger('bench', 'warn');
  const db = createDb(
    { url: config.DATABASE_URL, max: 2, applicationName: 'goalpost-bench' },
    logger,
  );
  await migrate(db, logger);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'goalpost-bench' }, logger);
  const topic = `bench.ingest.${Date.now().toString(36)}-${randomId(4)}`;
  const site = await websiteRepository.create(db, {
    id: newWebsiteId(),
    name: 'bench',
    domain: 'bench.example',
  });
  const children: ChildProcess[] = [];
  try {
    // (a) baseline
    const barePort = await freePort();
    // bare-server.js beside this file (in dist/, as the bench runs).
    const bare = spawnNode(
      [join(dirname(fileURLToPath(import.meta.url)), 'bare-server.js'), String(barePort)],
      {},
    );
    children.push(bare);
    const bareUrl = `http://127.0.0.1:${barePort}`;
    await waitHttp(`${bareUrl}/api/collect`, 'POST');
    const warmUp = { ...config, BENCH_DURATION_S: config.BENCH_WARMUP_S };
    log(`(a) warm-up, not counted: ${config.BENCH_WARMUP_S}s`);
    await load(
      log,
      'a warm-up',
      { url: `${bareUrl}/api/collect`, body: single(site.id, 0) },
      warmUp,
    );
    log(
      `(a) bare Fastify route: ${config.BENCH_DURATION_S}s, ${config.BENCH_CONNECTIONS} connections`,
    );
    const a = await load(
      log,
      'a',
      { url: `${bareUrl}/api/collect`, body: single(site.id, 0) },
      config,
    );
    bare.kill('SIGTERM');

    // (b), (c), (d) through the real ingest service
    const port = await freePort();
    const metricsPort = await freePort();
    if (config.BENCH_PROFILE) rmSync(PROFILE_DIR, { recursive: true, force: true });
    const ingest = spawnNode(
      [
        ...(config.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
        ...config.BENCH_INGEST_NODE_FLAGS.split(' ').filter((f) => f !== ''),
        // The build, as npm start and production run it.
        serviceArgs(ROOT, 'ingest').at(-1)!,
      ],
      {
        INGEST_PORT: String(port),
        METRICS_PORT: String(metricsPort),
        KAFKA_EVENTS_TOPIC: topic,
        LOG_LEVEL: 'warn',
        INGEST_RATE_LIMIT_IP_PER_MINUTE: '1000000000',
        INGEST_RATE_LIMIT_WEBSITE_PER_MINUTE: '1000000000',
        INGEST_BOT_RATE_HEURISTIC: 'false',
        ...(config.BENCH_CLIENT_IPS > 0 ? { INGEST_TRUSTED_PROXIES: '127.0.0.1' } : {}),
      },
    );
    children.push(ingest);
    const url = `http://127.0.0.1:${port}`;
    const metricsUrl = `http://127.0.0.1:${metricsPort}`;
    await waitHttp(`${url}/ready`, 'GET', 60_000);
    log(`ingest ready (pid ${ingest.pid}, RSS ${rssMb(ingest.pid).rss} MB idle, GeoIP loaded)`);

    // Ingest's JIT and the Kafka broker's (a JVM) warm up before anything is counted.
    log(`(b) warm-up, not counted: ${config.BENCH_WARMUP_S}s`);
    await load(
      log,
      'b warm-up',
      { url: `${url}/api/collect`, requests: [varying(site.id, 1, config.BENCH_CLIENT_IPS)] },
      warmUp,
    );
    log(`(b) single-event POST /api/collect: ${config.BENCH_DURATION_S}s`);
    const pids = {
      ingest: ingest.pid!,
      'bench (autocannon)': process.pid,
      kafka: pidFrom('.stack/kafka/kafka.pid'),
      redis: pidFrom('.stack/redis/redis.pid'),
    };
    const b = await withCpu(log, pids, () =>
      load(
        log,
        'b',
        { url: `${url}/api/collect`, requests: [varying(site.id, 1, config.BENCH_CLIENT_IPS)] },
        config,
      ),
    );
    log(`(c) batches of 50: ${config.BENCH_DURATION_S}s`);
    const c = await withCpu(log, pids, () =>
      load(
        log,
        'c',
        { url: `${url}/api/collect`, requests: [varying(site.id, 50, config.BENCH_CLIENT_IPS)] },
        config,
      ),
    );
    log(`(d) fixed 2,000 req/s single events: ${config.BENCH_DURATION_S}s`);
    const metricsBefore = await scrape(metricsUrl); // also resets prom-client's event-loop histogram
    const d = await withCpu(log, pids, () =>
      load(
        log,
        'd',
        {
          url: `${url}/api/collect`,
          requests: [varying(site.id, 1, config.BENCH_CLIENT_IPS)],
          overallRate: 2000,
        },
        config,
      ),
    );
    const mem = rssMb(ingest.pid);
    const diag = diagnose(metricsBefore, await scrape(metricsUrl));

    const row = (name: string, r: Result, perReq: number) =>
      `${name.padEnd(34)} ${fmt(r.requests.average).padStart(9)} ${fmt(r.requests.average * perReq).padStart(10)} ` +
      `${String(r.latency.p50).padStart(6)} ${String(r.latency.p99).padStart(6)}  ${r.non2xx + r.errors}`;
    process.stdout.write(
      [
        '',
        `${'run'.padEnd(34)} ${'req/s'.padStart(9)} ${'events/s'.padStart(10)} ${'p50ms'.padStart(6)} ${'p99ms'.padStart(6)}  errors/non-2xx`,
        row('(a) bare Fastify 202', a, 1),
        row('(b) /api/collect, 1 event', b, 1),
        row('(c) /api/collect, batch of 50', c, 50),
        row('(d) /api/collect @ 2k req/s', d, 1),
        '',
        `ratio b/a: ${(b.requests.average / a.requests.average).toFixed(2)} (target ≥ 0.40)`,
        `batch events/s: ${fmt(c.requests.average * 50)} (target ≥ 40,000)`,
        `p99 at 2k req/s: ${d.latency.p99} ms (target ≤ 20 ms)`,
        `ingest RSS: ${mem.rss} MB now, ${mem.peak} MB peak (target ≤ 200 MB, GeoIP included)`,
        `  ${diag.memory}`,
        `during (d): ${diag.latency}`,
        '',
      ].join('\n'),
    );

    ingest.kill('SIGTERM');
    await new Promise((r) => ingest.once('exit', r));
    if (config.BENCH_PROFILE) printProfile();
  } finally {
    for (const ch of children) if (ch.exitCode === null) ch.kill('SIGTERM');
    await db.query('bench.cleanup', 'DELETE FROM websites WHERE id = $1', [site.id]);
    await db.end();
    const admin = kafka.admin();
    await admin.connect();
    if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  }
}

const UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const HEADERS = {
  'content-type': 'application/json',
  'user-agent': UA,
  'accept-language': 'en-US,en;q=0.9',
};

function single(siteId: string, i: number) {
  return JSON.stringify({
    website_id: siteId,
    type: 'pageview',
    url: `https://bench.example/p/${i % 100}?utm_source=news&utm_medium=email`,
    referrer: 'https://www.google.com/',
    screen: '1280x720',
    language: 'en-US',
    visitor_id: `v${i % 20_000}`,
  });
}

/**
 * A request whose body changes each time: many visitors, so sessions are spread over keys.
 * With `clientIps` > 0, each request also names one of that many public client addresses.
 */
function varying(siteId: string, n: number, clientIps = 0) {
  let i = 0;
  let r = 0;
  const ips = publicAddresses(clientIps);
  return {
    method: 'POST',
    path: '/api/collect',
    headers: HEADERS,
    setupRequest: (req: { body?: string }) => {
      const events: string[] = [];
      for (let k = 0; k < n; k++) events.push(single(siteId, i++));
      return {
        ...req,
        method: 'POST',
        headers:
          ips.length > 0 ? { ...HEADERS, 'x-forwarded-for': ips[r++ % ips.length]! } : HEADERS,
        body: n === 1 ? events[0] : `[${events.join(',')}]`,
      };
    },
  };
}

/** `n` distinct pseudo-random IPv4 addresses in 1.0.0.0–223.255.255.255 (one in 8 IPv6). */
function publicAddresses(n: number): string[] {
  let x = 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const out = new Set<string>();
  while (out.size < n) {
    const v = next();
    if ((v & 7) === 0) {
      out.add(
        `2a0${(v >>> 3) % 10}:${(next() & 0xffff).toString(16)}:${(next() & 0xffff).toString(16)}::1`,
      );
    } else {
      out.add(`${1 + ((v >>> 24) % 223)}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${next() & 255}`);
    }
  }
  return [...out];
}

function load(
  log: (m: string) => void,
  name: string,
  o: { url: string; body?: string; requests?: unknown[]; overallRate?: number },
  config: { BENCH_DURATION_S: number; BENCH_CONNECTIONS: number },
): Promise<Result> {
  return new Promise((resolve, reject) => {
    let seconds = 0;
    let sinceLast = 0;
    const inst = autocannon(
      {
        url: o.url,
        method: 'POST',
        headers: HEADERS,
        connections: config.BENCH_CONNECTIONS,
        duration: config.BENCH_DURATION_S,
        ...(o.body !== undefined ? { body: o.body } : {}),
        ...(o.requests ? { requests: o.requests as never } : {}),
        ...(o.overallRate ? { overallRate: o.overallRate } : {}),
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    );
    inst.on('tick', ({ counter }) => {
      seconds++;
      sinceLast += counter;
      if (seconds % 5 === 0) {
        log(`  (${name}) ${seconds}s: ${fmt(sinceLast / 5)} req/s`);
        sinceLast = 0;
      }
    });
  });
}

function spawnNode(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

function pidFrom(file: string): number | null {
  try {
    return Number(readFileSync(join(ROOT, file), 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

/** Runs `fn` and reports how many cores each process of the pipeline kept busy meanwhile. */
async function withCpu<T>(
  log: (m: string) => void,
  pids: Record<string, number | null>,
  fn: () => Promise<T>,
): Promise<T> {
  const before = Object.fromEntries(
    Object.entries(pids).map(([k, p]) => [k, p ? cpuSeconds(p) : 0]),
  );
  const started = performance.now();
  const r = await fn();
  const secs = (performance.now() - started) / 1000;
  const parts = Object.entries(pids).map(
    ([k, p]) => `${k} ${(((p ? cpuSeconds(p) : 0) - before[k]!) / secs).toFixed(2)}`,
  );
  log(`  CPU, in cores busy: ${parts.join(', ')} (2 cores on this machine)`);
  return r;
}

/** The ingest service's own Prometheus samples (name{labels} → value). */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/**
 * Where (d)'s latency comes from, from ingest's metrics: the Kafka produce time (histogram
 * buckets, differenced over the phase), GC pauses by kind, and event-loop delay (prom-client
 * resets its event-loop histogram at each scrape, so these are (d)'s own). Plus heap vs external.
 */
function diagnose(before: Map<string, number>, after: Map<string, number>) {
  const p = 'goalpost_ingest_';
  const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  /** Quantiles of a histogram's increase over the phase (bucket upper bounds). */
  const quantiles = (metric: string, labelFilter: string) => {
    const buckets = [...after.keys()]
      .filter((k) => k.startsWith(`${p}${metric}_bucket{`) && k.includes(labelFilter))
      .map((k) => ({ le: Number(/le="([^"]+)"/.exec(k)![1]), n: delta(k) }))
      .sort((x, y) => x.le - y.le);
    const count = buckets.at(-1)?.n ?? 0;
    const q = (f: number) =>
      `≤${(buckets.find((b) => b.n >= f * count)?.le ?? Infinity) * 1000} ms`;
    return `p50 ${q(0.5)}, p99 ${q(0.99)} (${count} requests)`;
  };
  const gc = ['minor', 'major', 'incremental']
    .map((kind) => {
      const n = delta(`${p}nodejs_gc_duration_seconds_count{kind="${kind}"}`);
      const s = delta(`${p}nodejs_gc_duration_seconds_sum{kind="${kind}"}`);
      return `${kind} ${n}× ${(s * 1000).toFixed(0)} ms`;
    })
    .join(', ');
  const lag = (k: string) =>
    `${((after.get(`${p}nodejs_eventloop_lag_${k}_seconds`) ?? 0) * 1000).toFixed(1)}`;
  const mb = (k: string) => Math.round((after.get(`${p}${k}`) ?? 0) / 1048576);
  return {
    latency:
      `inside ingest ${quantiles('request_seconds', 'route="/api/collect"')}, of which ` +
      `produce ${quantiles('produce_seconds', 'result="ok"')}; GC ${gc}; ` +
      `event-loop delay p50 ${lag('p50')} / p99 ${lag('p99')} / max ${lag('max')} ms`,
    memory:
      `heap used ${mb('nodejs_heap_size_used_bytes')} MB of ${mb('nodejs_heap_size_total_bytes')} MB, ` +
      `external ${mb('nodejs_external_memory_bytes')} MB`,
  };
}

/**
 * Where ingest's CPU time went, from its CPU profile (all of (b)–(d)): self time by component
 * (npm package, our folders, Node internals, GC) and by function, top 25. Idle time is left out
 * of the shares.
 */
function printProfile(): void {
  const file = readdirSync(PROFILE_DIR).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return;
  const prof = JSON.parse(readFileSync(join(PROFILE_DIR, file), 'utf8')) as {
    nodes: Array<{
      id: number;
      hitCount: number;
      callFrame: { functionName: string; url: string; lineNumber: number };
    }>;
  };
  const busy = prof.nodes.filter((n) => n.callFrame.functionName !== '(idle)');
  const total = busy.reduce((s, n) => s + n.hitCount, 0);
  const byFn = new Map<string, number>();
  const byPart = new Map<string, number>();
  for (const n of busy) {
    const f = n.callFrame;
    const where = f.url.replace(/^.*node_modules\//, '').replace(`file://${ROOT}/`, '');
    const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + n.hitCount);
    const part = componentOf(f.url, f.functionName);
    byPart.set(part, (byPart.get(part) ?? 0) + n.hitCount);
  }
  const pct = (v: number) => `${((100 * v) / total).toFixed(1).padStart(5)}%`;
  process.stdout.write(`\ningest CPU profile (${file}), self time of busy time, by component:\n`);
  for (const [k, v] of [...byPart].sort((x, y) => y[1] - x[1]).slice(0, 16)) {
    process.stdout.write(`  ${pct(v)}  ${k}\n`);
  }
  process.stdout.write('by function:\n');
  for (const [k, v] of [...byFn].sort((x, y) => y[1] - x[1]).slice(0, 25)) {
    process.stdout.write(`  ${pct(v)}  ${k}\n`);
  }
}

/** A profile frame's component: the npm package, our top-level folder, or a Node/V8 part. */
function componentOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?([^/]+).*$/, 'node:$2');
  if (url.includes('/dist/')) return 'ingest+shared (our code, built)';
  const ours = /\/(ingest|shared)\//.exec(url);
  return ours ? `${ours[1]}/ (our code)` : url;
}

await main();
