import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../helpers/random.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { freePort, killHard, spawnService } from '../helpers/services.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';
import {
  expectGoalOracle,
  cleanupSites,
  countEvents,
  createGoals,
  createSites,
  type GoalKey,
  type GoalOracle,
} from '../processor/pipeline.js';

/**
 * Scale-out on the real stack, every service a process of its own from the build: two ingest
 * instances (a visitor's requests alternate between them), processors in one consumer group on
 * a 6-partition topic, the API. Events go through ingest's HTTP endpoint; the oracle (goal
 * conversions and values, every session's start, end and pageviews) is computed here from the
 * generated events by the rules users are promised (30 minutes of inactivity end a session),
 * not by Goalpost's code.
 *
 * 1. A processor is killed (SIGKILL) while it holds an open transaction, later restarted, and
 *    a fourth joins: the result equals the oracle.
 * 2. Rolling restart of both ingest instances (and one processor) under the same load: every
 *    event answered 202 is stored exactly once, and the result equals the oracle.
 * Each prints what it measured: the longest time with no new rows while events were waiting
 * (the rebalance), and how long a new processor took from spawn to its first consumed event.
 */

const VISITORS = 2_000;
const EVENTS_PER_VISITOR = 10;
// Two requests per visitor, one to each ingest instance (fewer requests keep the test short).
const EVENTS_PER_REQUEST = 5;
const N = VISITORS * EVENTS_PER_VISITOR;
const GAP_MS = 30 * 60_000;
const PATHS = ['/', '/pricing', '/checkout/success', '/blog/a', '/blog/b/c', '/blogroll', '/docs'];
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

interface Sent {
  id: string;
  website: string;
  visitor: string;
  body: Record<string, unknown>;
  time: number;
  type: 'pageview' | 'event';
}

interface Load {
  visitors: Sent[][];
  oracle: Map<string, Record<GoalKey, GoalOracle>>;
  /** `${website}|${visitor}` → sessions as `start|end|pageviews`, in start order. */
  sessions: Map<string, string[]>;
}

/** The events, per visitor in time order, and what they must produce. */
function generateLoad(websites: string[], seed: number): Load {
  const r = rng(seed);
  const empty = (): GoalOracle => ({ conversions: 0, valued: 0, cents: 0 });
  const oracle = new Map(
    websites.map((w) => [w, { checkout: empty(), purchase: empty(), blog: empty() }]),
  );
  const sessions = new Map<string, string[]>();
  const visitors: Sent[][] = [];
  // Visits start 48 to 28 hours ago and end at most 18 hours later: all in the past.
  const start = Date.now() - 48 * 3_600_000;
  for (let v = 0; v < VISITORS; v++) {
    const website = websites[v % websites.length]!;
    const visitor = `scale-${seed}-${v}`;
    let t = start + Math.floor(r() * 20 * 3_600_000);
    const events: Sent[] = [];
    const mine: Array<{ start: number; end: number; pageviews: number }> = [];
    for (let i = 0; i < EVENTS_PER_VISITOR; i++) {
      // Within a session 1–20 minutes apart; a new session after 40–120 minutes (never near
      // the 30-minute boundary, so the oracle does not depend on millisecond rounding).
      if (i > 0)
        t +=
          r() < 0.75
            ? 60_000 + Math.floor(r() * 19 * 60_000)
            : 40 * 60_000 + Math.floor(r() * 80 * 60_000);
      const last = mine.at(-1);
      const session = last && t - last.end <= GAP_MS ? last : { start: t, end: t, pageviews: 0 };
      if (session !== last) mine.push(session);
      session.end = t;
      const o = oracle.get(website)!;
      if (r() < 0.65) {
        const path = PATHS[Math.floor(r() * PATHS.length)]!;
        session.pageviews++;
        if (path === '/checkout/success') o.checkout.conversions++;
        if (path.startsWith('/blog/')) {
          o.blog.conversions++;
          o.blog.valued++;
          o.blog.cents += 250;
        }
        events.push({
          id: randomUUID(),
          website,
          visitor,
          time: t,
          type: 'pageview',
          body: { type: 'pageview', url: `https://shop.example${path}` },
        });
      } else {
        const name = r() < 0.6 ? 'purchase' : 'signup';
        const cents = Math.floor(r() * 100_000);
        const asText = r() < 0.5;
        if (name === 'purchase') {
          o.purchase.conversions++;
          o.purchase.valued++;
          o.purchase.cents += cents;
        }
        events.push({
          id: randomUUID(),
          website,
          visitor,
          time: t,
          type: 'event',
          body: {
            type: 'event',
            url: 'https://shop.example/cart',
            event_name: name,
            event_data: { amount: asText ? (cents / 100).toFixed(2) : cents / 100 },
          },
        });
      }
    }
    sessions.set(
      `${website}|${visitor}`,
      mine.map(
        (s) => `${new Date(s.start).toISOString()}|${new Date(s.end).toISOString()}|${s.pageviews}`,
      ),
    );
    visitors.push(events);
  }
  return { visitors, oracle, sessions };
}

/**
 * Sends the events of visitors `from` to `to` (default all) in order, EVENTS_PER_REQUEST per
 * request, alternating between the ingest instances; up to `lanes` visitors at once. A request that fails (connection
 * refused or reset by an instance going down, or a 503) is sent again, with the same
 * event_ids, to the other instance, as a load balancer's retry would be. Returns the event_ids
 * answered 202.
 */
async function sendLoad(
  load: Load,
  ingest: () => string[],
  { from = 0, to = load.visitors.length, lanes = 24 } = {},
): Promise<Set<string>> {
  const accepted = new Set<string>();
  let next = from;
  const lane = async () => {
    for (let v = next++; v < to; v = next++) {
      const events = load.visitors[v]!;
      for (let i = 0, req = 0; i < events.length; i += EVENTS_PER_REQUEST, req++) {
        const chunk = events.slice(i, i + EVENTS_PER_REQUEST);
        const body = chunk.map((e) => ({
          ...e.body,
          website_id: e.website,
          visitor_id: e.visitor,
          timestamp: new Date(e.time).toISOString(),
          event_id: e.id,
        }));
        for (let attempt = 0; ; attempt++) {
          const urls = ingest();
          const url = urls[(v + req + attempt) % urls.length]!;
          const status = await fetch(`${url}/api/collect`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'user-agent': UA },
            body: JSON.stringify(body),
          }).then(
            async (res) => (res.status === 400 ? `400 ${await res.text()}` : res.status),
            () => 0,
          );
          if (status === 202) {
            for (const e of body) accepted.add(e.event_id);
            break;
          }
          if (status !== 0 && status !== 503) throw new Error(`ingest answered ${String(status)}`);
          if (attempt > 200) throw new Error('ingest did not accept a request in 200 attempts');
          await new Promise((res) => setTimeout(res, 25));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return accepted;
}

/**
 * Starts a collect request on a connection of its own and sends half of its body: the request
 * is in flight until `finish()` sends the rest and reads the response's status line and
 * headers. `closed()` tells whether the server has closed the connection since.
 */
async function halfSentRequest(url: string, website: string) {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({
    type: 'event',
    website_id: website,
    url: 'https://shop.example/',
    event_name: 'in-flight',
    event_id: randomUUID(),
  });
  const socket = connect(Number(port), hostname);
  let closed = false;
  let received = '';
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => resolve());
  });
  const half = Math.floor(body.length / 2);
  socket.write(
    `POST /api/collect HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n` +
      `Content-Type: application/json\r\nUser-Agent: ${UA}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
  );
  return {
    closed: () => closed,
    async finish(): Promise<{ status: number; headers: string }> {
      socket.write(body.slice(half));
      await waitFor(
        'the response',
        async () => (received.includes('\r\n\r\n') ? true : undefined),
        {
          intervalMs: 10,
        },
      );
      const head = received.slice(0, received.indexOf('\r\n\r\n')).toLowerCase();
      return { status: Number(head.split(' ')[1]), headers: head };
    },
  };
}

/** Whether a new connection to `url` is refused (the server stopped listening). */
function refuses(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port), hostname);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

/** The local TCP ports of `pid`'s connections to PostgreSQL (from `ss`). */
function pgClientPorts(pid: number): number[] {
  const pgPort = new URL(testConfig.DATABASE_URL).port;
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( dport = :${pgPort} )`], {
    encoding: 'utf8',
  });
  return out
    .split('\n')
    .filter((l) => l.includes(`pid=${pid},`))
    .map((l) => Number(/:(\d+)\s+\S+:\d+\s/.exec(l)?.[1]))
    .filter((p) => p > 0);
}

describe('scale-out: two ingest instances, a processor group, the API, as processes', () => {
  let deps: TestDeps;
  let websites: string[] = [];
  let goals: Map<string, Record<GoalKey, string>>;
  const children = new Set<ChildProcess>();
  const topics: string[] = [];
  const probeSites: string[] = [];
  /** Progress watchers, stopped before the database closes even when a test failed. */
  const watchers: Array<{ stop(): Promise<number> }> = [];

  const spawn = (
    service: 'ingest' | 'processor' | 'api',
    name: string,
    env: Record<string, string>,
  ) => {
    const c = spawnService(service, name, env);
    children.add(c);
    c.once('exit', () => children.delete(c));
    return c;
  };

  async function startIngest(
    topic: string,
    name: string,
  ): Promise<{ child: ChildProcess; url: string }> {
    const port = await freePort();
    const child = spawn('ingest', name, {
      KAFKA_EVENTS_TOPIC: topic,
      INGEST_PORT: String(port),
      // One test client sends everything from 127.0.0.1, as a load generator would.
      INGEST_RATE_LIMIT_IP_PER_MINUTE: '1000000000',
      INGEST_BOT_RATE_HEURISTIC: 'false',
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`${name} ready`, async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
      const res = await fetch(`${url}/ready`).catch(() => null);
      return res?.status === 200 ? true : undefined;
    });
    return { child, url };
  }

  async function startProcessor(env: Record<string, string>, name: string) {
    const metricsPort = await freePort();
    const spawnedAt = performance.now();
    const child = spawn('processor', name, {
      ...env,
      METRICS_PORT: String(metricsPort),
      GOAL_CACHE_RECHECK_MS: '200',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      PROCESSOR_SUB_BATCH_SIZE: '500',
    });
    return { child, spawnedAt, metrics: `http://127.0.0.1:${metricsPort}/metrics` };
  }

  /** Milliseconds from spawn until the processor joined its group (its /ready answers 200). */
  async function timeToJoin(p: { child: ChildProcess; spawnedAt: number; metrics: string }) {
    const ready = p.metrics.replace(/\/metrics$/, '/ready');
    await waitFor(
      'the new processor in the group',
      async () => ((await fetch(ready).catch(() => null))?.status === 200 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    return Math.round(performance.now() - p.spawnedAt);
  }

  /** Milliseconds from spawn until the processor consumed its first event. */
  async function timeToFirstEvent(p: { child: ChildProcess; spawnedAt: number; metrics: string }) {
    await waitFor(
      'the new processor consumes',
      async () => {
        const text = await fetch(p.metrics)
          .then((r) => r.text())
          .catch(() => '');
        const consumed = [...text.matchAll(/^goalpost_processor_events_consumed_total\S* (\d+)/gm)]
          .map((m) => Number(m[1]))
          .reduce((a, b) => a + b, 0);
        return consumed > 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    return Math.round(performance.now() - p.spawnedAt);
  }

  /** Polls the stored event count; reports the longest stall while events were still due. */
  function watchProgress() {
    let stopped = false;
    let longest = 0;
    let lastCount = -1;
    let lastChange = performance.now();
    const done = (async () => {
      while (!stopped) {
        const n = await countEvents(deps.db, websites);
        const now = performance.now();
        if (n !== lastCount) {
          if (lastCount >= 0 && lastCount < N) longest = Math.max(longest, now - lastChange);
          lastCount = n;
          lastChange = now;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const watcher = {
      count: () => lastCount,
      async stop() {
        stopped = true;
        await done;
        return Math.round(longest);
      },
    };
    watchers.push(watcher);
    return watcher;
  }

  async function expectOracle(load: Load, accepted: Set<string>) {
    // Every accepted event stored exactly once (and nothing else).
    const { rows: stored } = await deps.db.query<{ n: number; ids: number }>(
      'test.stored',
      `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS ids FROM events
        WHERE website_id = ANY($1)`,
      [websites],
    );
    expect(stored[0]).toEqual({ n: accepted.size, ids: accepted.size });
    expect(accepted.size).toBe(N);
    await expectGoalOracle(deps.db, goals, load.oracle);
    const { rows } = await deps.db.query<{ k: string; s: string[] }>(
      'test.sessions',
      `SELECT website_id || '|' || visitor_id AS k,
              array_agg(to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '|' ||
                        to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '|' ||
                        pageviews ORDER BY started_at) AS s
         FROM sessions WHERE website_id = ANY($1) GROUP BY 1`,
      [websites],
    );
    expect(new Map(rows.map((x) => [x.k, x.s]))).toEqual(load.sessions);
  }

  beforeAll(async () => {
    deps = openTestDeps('scale-out');
  });

  afterAll(async () => {
    await Promise.all(watchers.map((w) => w.stop()));
    await Promise.all([...children].map((c) => killHard(c)));
    await deleteTestTopics(deps.kafka, topics).catch(() => undefined);
    await cleanupSites(deps.db, [...websites, ...probeSites]);
    await deps.close();
  });

  async function freshRun(name: string) {
    if (websites.length > 0) await cleanupSites(deps.db, websites);
    websites = await createSites(deps.db, 3);
    goals = await createGoals(deps.db, websites);
    const topic = await createTestTopic(deps.kafka, name, 6);
    const dlq = await createTestTopic(deps.kafka, `${name}-dlq`, 1);
    topics.push(topic, dlq);
    const suffix = uniqueSuffix();
    const env = {
      KAFKA_EVENTS_TOPIC: topic,
      KAFKA_DLQ_TOPIC: dlq,
      KAFKA_CONSUMER_GROUP: `test-${name}-${suffix}`,
      BULLMQ_PREFIX: `test-${name}-${suffix}`,
    };
    return { topic, env };
  }

  it(
    'a processor killed in a transaction, restarted, and a fourth joining: the oracle exactly',
    { timeout: 90_000 },
    async () => {
      const { topic, env } = await freshRun('scale-kill');
      const apiPort = await freePort();
      const api = spawn('api', 'scale-out', { API_PORT: String(apiPort) });
      const [a, b] = await Promise.all([
        startIngest(topic, 'scale-a'),
        startIngest(topic, 'scale-b'),
      ]);
      const procs = [];
      for (let i = 1; i <= 3; i++) procs.push(await startProcessor(env, `scale-p${i}`));
      const load = generateLoad(websites, 11);
      const progress = watchProgress();
      // Two thirds of the visitors now, the rest once the new processors are in the group
      // (so that the joining one has events to consume).
      const split = Math.floor((2 * VISITORS) / 3);
      const sending = sendLoad(load, () => [a.url, b.url], { to: split });

      // Midway, the first processor dies while a transaction of its own is open.
      await waitFor(
        'a third of the events stored',
        async () => (progress.count() >= N / 3 ? true : undefined),
        {
          timeoutMs: 60_000,
        },
      );
      const victim = procs[0]!.child;
      await waitFor(
        'the processor inside a transaction',
        async () => {
          const ports = pgClientPorts(victim.pid!);
          if (ports.length === 0) return undefined;
          const { rows } = await deps.db.query<{ n: number }>(
            'test.open_tx',
            `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE client_port = ANY($1) AND xact_start IS NOT NULL`,
            [ports],
          );
          return rows[0]!.n > 0 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 5 },
      );
      await killHard(victim);
      const first = await sending;
      const restarted = await startProcessor(env, 'scale-p1-again');
      const fourth = await startProcessor(env, 'scale-p4');
      const joinedMs = await timeToJoin(fourth);
      const rest = await sendLoad(load, () => [a.url, b.url], { from: split });
      const accepted = new Set([...first, ...rest]);
      const firstEventMs = await timeToFirstEvent(fourth);
      await waitFor('every event stored', async () => (progress.count() === N ? true : undefined), {
        timeoutMs: 60_000,
      });
      const stallMs = await progress.stop();
      // Conversions and sessions commit with their events: with every event stored there is
      // nothing left to finish (a graceful stop would wait out a 5 s fetch).
      await Promise.all([restarted, fourth, procs[1]!, procs[2]!].map((p) => killHard(p.child)));
      await expectOracle(load, accepted);
      expect(api.exitCode).toBeNull();
      expect((await fetch(`http://127.0.0.1:${apiPort}/ready`)).status).toBe(200);
      process.stdout.write(
        `scale-out (kill): longest time with no new rows while events waited ${stallMs} ms ` +
          `(SIGKILL, group session timeout 6 s, rebalance); a joining processor was in the ` +
          `group ${joinedMs} ms after spawn and consumed its ` +
          `first event ${firstEventMs} ms after spawn\n`,
      );
    },
  );

  it(
    'rolling restarts of both ingest instances and a processor: every 202 stored once',
    { timeout: 90_000 },
    async () => {
      const { topic, env } = await freshRun('scale-roll');
      // The in-flight probe requests go to a website of their own, outside the oracle.
      const probeSite = (await createSites(deps.db, 1))[0]!;
      probeSites.push(probeSite);
      let a = await startIngest(topic, 'roll-a');
      let b = await startIngest(topic, 'roll-b');
      const live = new Set<string>([a.url, b.url]);
      const procs = [];
      for (let i = 1; i <= 3; i++) procs.push(await startProcessor(env, `roll-p${i}`));
      const load = generateLoad(websites, 12);
      const progress = watchProgress();
      const sending = sendLoad(load, () => [...live]);

      const restart = async (which: 'a' | 'b') => {
        const old = which === 'a' ? a : b;
        live.delete(old.url);
        // Ingest stops accepting, finishes in-flight requests, flushes its producer, exits 0.
        // A request in flight when the signal comes is answered, and its keep-alive connection
        // is closed after it: a pooled connection must not hold the exit for the keep-alive
        // timeout (72 s).
        const inFlight = await halfSentRequest(old.url, probeSite);
        const exited = new Promise<number | null>((r) => old.child.once('exit', (code) => r(code)));
        old.child.kill('SIGTERM');
        await waitFor('the instance to stop listening', async () =>
          (await refuses(old.url)) ? true : undefined,
        );
        const answer = await inFlight.finish();
        expect(answer.status).toBe(202);
        expect(answer.headers).toContain('connection: close');
        expect(await exited).toBe(0);
        expect(inFlight.closed()).toBe(true);
        const fresh = await startIngest(topic, `roll-${which}-again`);
        live.add(fresh.url);
        if (which === 'a') a = fresh;
        else b = fresh;
      };
      await waitFor(
        'a quarter stored',
        async () => (progress.count() >= N / 4 ? true : undefined),
        {
          timeoutMs: 60_000,
        },
      );
      await restart('a');
      // A processor leaves gracefully: it finishes its sub-batch and commits before it goes.
      const leaving = procs[0]!.child;
      const left = new Promise<number | null>((r) => leaving.once('exit', (code) => r(code)));
      leaving.kill('SIGTERM');
      expect(await left).toBe(0);
      await restart('b');
      const accepted = await sending;
      await waitFor('every event stored', async () => (progress.count() === N ? true : undefined), {
        timeoutMs: 60_000,
      });
      const stallMs = await progress.stop();
      await Promise.all([procs[1]!, procs[2]!].map((p) => killHard(p.child)));
      await expectOracle(load, accepted);
      process.stdout.write(
        `scale-out (rolling): longest time with no new rows while events waited ${stallMs} ms ` +
          `(a processor leaving gracefully: rebalance without a session timeout)\n`,
      );
    },
  );
});
