import type { Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { startBackfillWorker } from '../../processor/jobs/backfill.worker.js';
import { catchUpFunnelWalks } from '../../processor/jobs/funnel-walks.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import type { EventMessage } from '../../shared/events/event-message.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newWebsiteId } from '../../shared/ids.js';
import { createBackfillQueue, type BackfillQueue } from '../../shared/jobs/queues.js';
import { createRedis, type Redis } from '../../shared/redis/redis.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { startTestProcessor, type TestProcessor } from '../helpers/processor.js';
import { rng } from '../helpers/random.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';
import { cleanupSites, EVENT_DEFAULTS, produceAndStore } from '../processor/pipeline.js';

/**
 * The funnel oracle. A deterministic dataset (sessions over four June days that cross local
 * midnights, steps out of order and repeated, events at the same instant ordered by their
 * arrival sequence, bots, UTM landings, several sessions per visitor) goes through Kafka and
 * the real processor into TimescaleDB. One funnel exists before the events (its step matches
 * are written by the processor), the same funnel is created after them (matches written by the
 * backfill), and a third adds a conversion window. Every field of the Sparklytics results, the
 * saved-funnel step sessions, Rybbit's analysis over raw events, its step sessions and its
 * funnel summary are compared with figures computed here in plain TypeScript from the
 * generated events, over date ranges in two time zones, with bots on and off and a filter.
 *
 * Events are produced straight to the topic (as in the statistics oracle): they carry fixed
 * times in the past, session ids and arrival sequences that ingest would not let a test choose.
 */
const KEY = `spk_selfhosted_${'f0'.repeat(16)}`;
const TZ = 'America/New_York'; // UTC−4 all June (no DST change inside the dataset)
const OTHER_TZ = 'Asia/Kolkata'; // UTC+5:30
const OFFSET_H: Record<string, number> = { [TZ]: -4, [OTHER_TZ]: 5.5 };
const DAY0 = Date.UTC(2026, 5, 10, 4); // 2026-06-10 00:00 in New York
const DAYS = 4;
const SESSIONS = 500;

const STEPS = [
  { step_type: 'page_view', match_value: '/pricing', label: 'Pricing' },
  { step_type: 'event', match_value: 'signup_started', label: 'Started' },
  { step_type: 'event', match_value: 'signup_done', label: 'Done' },
] as const;
const RYBBIT_STEPS = [
  { type: 'page', value: '/pricing', name: 'Pricing' },
  { type: 'event', value: 'signup_started', name: 'Started' },
  { type: 'event', value: 'signup_done', name: 'Done' },
];
const WINDOW_SECONDS = 600;

interface Session {
  id: string;
  isBot: boolean;
  utm: string | null;
  events: EventMessage[];
}

/** The step an event matches (1-based), or 0: the oracle's own reading of the three steps. */
function stepsOf(e: EventMessage): number[] {
  const out: number[] = [];
  if (e.type === 'pageview' && e.path === '/pricing') out.push(1);
  if (e.type === 'event' && e.event_name === 'signup_started') out.push(2);
  if (e.type === 'event' && e.event_name === 'signup_done') out.push(3);
  return out;
}

/** Event order within a session: time, then arrival sequence, then event id. */
function order(a: EventMessage, b: EventMessage): number {
  const t = Date.parse(a.event_time) - Date.parse(b.event_time);
  if (t !== 0) return t;
  const q = (a.seq ?? 0) - (b.seq ?? 0);
  if (q !== 0) return q;
  return a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0;
}

/** When the session reached each step in [lo, hi) (ms), greedily; shorter when it stopped. */
function walk(s: Session, lo: number, hi: number, windowSeconds: number | null): number[] {
  const evs = s.events
    .filter((e) => Date.parse(e.event_time) >= lo && Date.parse(e.event_time) < hi)
    .sort(order);
  const reached: number[] = [];
  let from = 0;
  for (let step = 1; step <= 3; step++) {
    const i = evs.findIndex(
      (e, k) =>
        k >= from &&
        stepsOf(e).includes(step) &&
        (windowSeconds === null ||
          step === 1 ||
          Date.parse(e.event_time) - reached[0]! <= windowSeconds * 1000),
    );
    if (i === -1) break;
    reached.push(Date.parse(evs[i]!.event_time));
    from = i + 1;
  }
  return reached;
}

function generate(websiteId: string): Session[] {
  const r = rng(4242);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const sessions: Session[] = [];
  for (let k = 0; k < SESSIONS; k++) {
    const id = `fs${k}`;
    const isBot = k % 10 === 3;
    const utm = pick([null, null, 'google', 'news']);
    // Every 25th session starts ten minutes before a local midnight and runs past it.
    let t =
      k % 25 === 0
        ? DAY0 + (1 + Math.floor(r() * (DAYS - 1))) * 86_400_000 - 600_000
        : DAY0 + Math.floor(r() * DAYS * 86_400_000 - 3_600_000);
    const events: EventMessage[] = [];
    const n = 1 + Math.floor(r() * 9);
    let seq = 0;
    for (let i = 0; i < n; i++) {
      // A third of the events share the previous event's instant (one request, next seq).
      const same = i > 0 && r() < 0.33;
      if (!same) {
        t += Math.floor(r() * 240_000);
        seq = 0;
      } else {
        seq += 1;
      }
      const kind = r();
      const time = new Date(t).toISOString();
      const page = kind < 0.55;
      events.push({
        ...EVENT_DEFAULTS,
        event_id: randomUUID(),
        seq,
        event_time: time,
        received_at: time,
        website_id: websiteId,
        session_id: id,
        visitor_id: `v${Math.floor(k / 3)}`,
        type: page ? 'pageview' : 'event',
        event_name: page ? null : pick(['signup_started', 'signup_done', 'signup_done', 'other']),
        path: page ? pick(['/pricing', '/pricing', '/home', '/docs']) : '/signup',
        channel: utm ? 'paid' : 'direct',
        utm_source: utm,
        utm_medium: utm ? 'cpc' : null,
        bot_score: isBot ? 100 : 0,
        is_bot: isBot,
      });
    }
    sessions.push({ id, isBot, utm, events });
  }
  // Two sessions that reached the steps before New York's midnight of June 12 and again after
  // it, 7 and 3 hours apart: a window starting at that midnight walks them again over its own
  // matches (the stored walk starts before it), found through the index of sessions whose
  // step-1 matches span more than 6 hours, and through step 1 within 6 hours before the window.
  const edge = DAY0 + 2 * 86_400_000;
  for (const [k, gapH] of [
    [SESSIONS, 7],
    [SESSIONS + 1, 3],
  ] as const) {
    const at = (ms: number) => new Date(ms).toISOString();
    const ev = (ms: number, step: 1 | 2 | 3): EventMessage => ({
      ...EVENT_DEFAULTS,
      event_id: randomUUID(),
      seq: 0,
      event_time: at(ms),
      received_at: at(ms),
      website_id: websiteId,
      session_id: `fs${k}`,
      visitor_id: `v${k}`,
      type: step === 1 ? 'pageview' : 'event',
      event_name: step === 1 ? null : step === 2 ? 'signup_started' : 'signup_done',
      path: step === 1 ? '/pricing' : '/signup',
      channel: 'direct',
      utm_source: null,
      utm_medium: null,
      bot_score: 0,
      is_bot: false,
    });
    const t0 = edge - gapH * 3_600_000;
    sessions.push({
      id: `fs${k}`,
      isBot: false,
      utm: null,
      events: [
        ev(t0, 1),
        ev(t0 + 60_000, 2),
        ev(edge + 3_600_000, 1),
        ev(edge + 3_660_000, 2),
        ev(edge + 3_720_000, 3),
      ],
    });
  }
  return sessions;
}

/** Local midnight of `date` (YYYY-MM-DD) in a fixed-offset zone, as epoch ms. */
const midnight = (date: string, tz: string) =>
  Date.parse(`${date}T00:00:00Z`) - OFFSET_H[tz]! * 3_600_000;
const plusDays = (date: string, n: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

describe('funnels match an independent oracle, before and after the events', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let processor: TestProcessor | undefined;
  let api: HttpApp;
  let bull: Redis;
  let queue: BackfillQueue;
  let worker: Worker;
  const websiteId = newWebsiteId();
  let numeric = 0;
  const sessions = generate(websiteId);
  const events = sessions.flatMap((s) => s.events);
  const prefix = `test-funnels-${uniqueSuffix()}`;
  /** funnel ids: created before the events, after them, and with a conversion window. */
  const ids = { before: '', after: '', windowed: '' };
  const numericIds = { before: 0, after: 0, windowed: 0 };

  const call = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const res = await api.inject({
      method,
      url,
      headers: { authorization: `Bearer ${KEY}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
  };

  /** The funnel's backfill as the API shows it: its steps' matches, then its stored walks. */
  const backfillDone = (funnelId: string) =>
    waitFor(`backfill of ${funnelId} done`, async () => {
      const res = await call('GET', `/api/websites/${websiteId}/funnels/${funnelId}`);
      const b = (res.body.data as { backfill: { state: string } | null }).backfill;
      return b?.state === 'done' ? true : undefined;
    });

  beforeAll(async () => {
    deps = openTestDeps('funnels-oracle');
    topic = await createTestTopic(deps.kafka, 'funnels-oracle', 3);
    dlqTopic = await createTestTopic(deps.kafka, 'funnels-oracle-dlq', 1);
    numeric = (
      await websiteRepository.create(deps.db, {
        id: websiteId,
        name: 'funnels oracle',
        domain: 'shop.example',
        timezone: TZ,
        bot_policy: 'balanced',
      })
    ).numeric_id;
    bull = createRedis(testConfig.REDIS_URL, deps.logger, {
      name: 'test-funnels-bull',
      forBullMQ: true,
    });
    queue = createBackfillQueue(bull, prefix);
    worker = startBackfillWorker({
      db: deps.db,
      logger: deps.logger,
      connection: bull,
      prefix,
      concurrency: 2,
      sliceTargetMs: 200,
      settleMs: 500,
      tailMarginMs: 60_000,
    });
    api = await buildApiApp({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
      backfillQueue: queue,
    });
    processor = await startTestProcessor(deps, {
      name: 'funnels-oracle',
      topic,
      dlqTopic,
      goalRecheckMs: 100,
      subBatchSize: 1000,
    });
    const before = await call('POST', `/api/websites/${websiteId}/funnels`, {
      name: 'Signup',
      steps: STEPS,
    });
    expect(before.status).toBe(201);
    ids.before = (before.body.data as { id: string }).id;
    numericIds.before = (before.body.data as { numeric_id: number }).numeric_id;
    // The processor matches the steps once its cached definitions include them; the backfill
    // of the (empty) past finishes only after that settle time.
    await backfillDone(ids.before);
    await produceAndStore(deps, topic, events);
    // The same funnel saved in the Rybbit dialect after the events: backfilled.
    const after = await call('POST', `/api/sites/${numeric}/funnels`, {
      name: 'Signup (Rybbit)',
      steps: RYBBIT_STEPS,
    });
    expect(after.status).toBe(201);
    numericIds.after = (after.body as { funnelId: number }).funnelId;
    const windowed = await call('POST', `/api/websites/${websiteId}/funnels`, {
      name: 'Signup within 10 minutes',
      steps: STEPS,
      window_seconds: WINDOW_SECONDS,
    });
    ids.windowed = (windowed.body.data as { id: string }).id;
    numericIds.windowed = (windowed.body.data as { numeric_id: number }).numeric_id;
    const list = await call('GET', `/api/websites/${websiteId}/funnels`);
    ids.after = (list.body.data as Array<{ id: string; name: string }>).find(
      (f) => f.name === 'Signup (Rybbit)',
    )!.id;
    await backfillDone(ids.after);
    await backfillDone(ids.windowed);
  }, 90_000);

  afterAll(async () => {
    await api?.close();
    await worker?.close();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    bull?.disconnect();
    await processor?.stop();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await cleanupSites(deps.db, [websiteId]);
    await deps.close();
  });

  it('the dataset has what the rules are about', () => {
    const crossing = sessions.filter((s) => {
      const first = Date.parse(s.events[0]!.event_time);
      const last = Date.parse(s.events.at(-1)!.event_time);
      return Math.floor((first - DAY0) / 86_400_000) !== Math.floor((last - DAY0) / 86_400_000);
    });
    expect(crossing.length).toBeGreaterThan(5);
    expect(sessions.some((s) => s.isBot)).toBe(true);
    // A step reached only thanks to the arrival sequence of same-instant events.
    const bySeq = sessions.some((s) =>
      s.events.some(
        (e, i) =>
          i > 0 && e.seq! > 0 && stepsOf(e).includes(2) && stepsOf(s.events[i - 1]!).includes(1),
      ),
    );
    expect(bySeq).toBe(true);
    const full = sessions.filter((s) => walk(s, -Infinity, Infinity, null).length === 3);
    expect(full.length).toBeGreaterThan(20);
  });

  type Scope = {
    start: string;
    end: string;
    tz: string | null;
    bots: boolean | null;
    utm: string | null;
  };
  const SCOPES: Scope[] = [];
  for (const [start, end] of [
    ['2026-06-10', '2026-06-13'],
    ['2026-06-11', '2026-06-11'],
    ['2026-06-12', '2026-06-13'],
  ] as const) {
    for (const tz of [null, OTHER_TZ]) {
      for (const bots of [null, true]) SCOPES.push({ start, end, tz, bots, utm: null });
    }
    SCOPES.push({ start, end, tz: null, bots: false, utm: 'google' });
  }

  /** Per qualifying session, its walk in the scope's window. */
  function walks(scope: Scope, windowSeconds: number | null): Map<string, number[]> {
    const zone = scope.tz ?? TZ;
    const lo = midnight(scope.start, zone);
    const hi = midnight(plusDays(scope.end, 1), zone);
    // The website's policy is `balanced`: bots are left out unless asked for.
    const bots = scope.bots ?? false;
    const out = new Map<string, number[]>();
    for (const s of sessions) {
      if (s.isBot && !bots) continue;
      if (scope.utm !== null && s.utm !== scope.utm) continue;
      out.set(s.id, walk(s, lo, hi, windowSeconds));
    }
    return out;
  }
  const reachedCounts = (w: Map<string, number[]>) =>
    [1, 2, 3].map((n) => [...w.values()].filter((r) => r.length >= n).length);
  const query = (s: Scope) =>
    new URLSearchParams({
      start_date: s.start,
      end_date: s.end,
      ...(s.tz ? { timezone: s.tz } : {}),
      ...(s.bots !== null ? { include_bots: String(s.bots) } : {}),
      ...(s.utm ? { filter_utm_source: s.utm } : {}),
    }).toString();

  it('Sparklytics results: every field, for the funnel saved before and after the events', async () => {
    for (const scope of SCOPES) {
      for (const [which, id, windowSeconds] of [
        ['before', ids.before, null],
        ['after', ids.after, null],
        ['windowed', ids.windowed, WINDOW_SECONDS],
      ] as const) {
        const reached = reachedCounts(walks(scope, windowSeconds));
        const first = reached[0]!;
        const rate = (a: number, b: number) => (b === 0 ? 0 : a / b);
        const res = await call(
          'GET',
          `/api/websites/${websiteId}/funnels/${id}/results?${query(scope)}`,
        );
        const data = res.body.data as Record<string, unknown>;
        expect({ scope, which, status: res.status, data: { ...data, backfill: null } }).toEqual({
          scope,
          which,
          status: 200,
          data: {
            funnel_id: id,
            name: data.name,
            total_sessions_entered: first,
            final_conversion_rate: rate(reached[2]!, first),
            backfill: null,
            steps: reached.map((n, i) => {
              const next = reached[i + 1];
              const dropped = next === undefined ? 0 : n - next;
              return {
                step_order: i + 1,
                label: which === 'after' ? RYBBIT_STEPS[i]!.name : STEPS[i]!.label,
                sessions_reached: n,
                drop_off_count: dropped,
                drop_off_rate: next === undefined ? 0 : rate(dropped, n),
                conversion_rate_from_start: rate(n, first),
                conversion_rate_from_previous: i === 0 ? (n > 0 ? 1 : 0) : rate(n, reached[i - 1]!),
              };
            }),
          },
        });
      }
    }
  });

  it('step sessions: who reached a step and who dropped after it, in both dialects', async () => {
    const scope: Scope = {
      start: '2026-06-10',
      end: '2026-06-13',
      tz: null,
      bots: null,
      utm: null,
    };
    const w = walks(scope, null);
    for (const step of [1, 2, 3]) {
      for (const mode of ['reached', 'dropped'] as const) {
        const expected = [...w.entries()]
          .filter(([, r]) => r.length >= step && (mode === 'reached' || r.length === step))
          .map(([id]) => id)
          .sort();
        const want = mode === 'dropped' && step === 3 ? [] : expected;
        // Sparklytics-dialect saved funnel, cursor paged.
        const got: string[] = [];
        let cursor: string | null = null;
        do {
          const q: string = `${query(scope)}&mode=${mode}&limit=100${cursor ? `&cursor=${cursor}` : ''}`;
          const res = await call(
            'GET',
            `/api/websites/${websiteId}/funnels/${ids.after}/steps/${step}/sessions?${q}`,
          );
          got.push(...(res.body.data as Array<{ session_id: string }>).map((x) => x.session_id));
          cursor = res.body.next_cursor as string | null;
        } while (cursor !== null);
        expect({ step, mode, sessions: got.sort() }).toEqual({ step, mode, sessions: want });
        // Rybbit ad-hoc, page paged.
        const rybbit: string[] = [];
        for (let page = 1; ; page++) {
          const res = await call(
            'POST',
            `/api/sites/${numeric}/funnels/${step}/sessions?start_date=${scope.start}&end_date=${scope.end}&mode=${mode}&limit=100&page=${page}`,
            { steps: RYBBIT_STEPS },
          );
          const rows = res.body.data as Array<{ session_id: string }>;
          rybbit.push(...rows.map((x) => x.session_id));
          if (rows.length < 100) break;
        }
        expect({ step, mode, rybbit: rybbit.sort() }).toEqual({ step, mode, rybbit: want });
      }
    }
  });

  it('Rybbit analysis over raw events and the funnel summary over saved funnels', async () => {
    for (const scope of SCOPES.filter((s) => s.bots !== true)) {
      const w = walks({ ...scope, bots: false }, null);
      const reached = reachedCounts(w);
      const params = new URLSearchParams({
        start_date: scope.start,
        end_date: scope.end,
        ...(scope.tz ? { time_zone: scope.tz } : {}),
        ...(scope.utm
          ? {
              filters: JSON.stringify([
                { parameter: 'utm_source', type: 'equals', value: [scope.utm] },
              ]),
            }
          : {}),
      }).toString();
      const res = await call('POST', `/api/sites/${numeric}/funnels/analyze?${params}`, {
        steps: RYBBIT_STEPS,
      });
      const r2 = (x: number) => Math.round(x * 100) / 100;
      expect({ scope, res }).toEqual({
        scope,
        res: {
          status: 200,
          body: {
            data: reached.map((n, i) => ({
              step_number: i + 1,
              step_name: RYBBIT_STEPS[i]!.name,
              sessions: n,
              visitors: n,
              conversion_rate: reached[0] === 0 ? 0 : r2((n / reached[0]!) * 100),
              dropoff_rate:
                i === 0 || reached[i - 1] === 0 ? 0 : r2((1 - n / reached[i - 1]!) * 100),
            })),
          },
        },
      });

      const summary = await call('GET', `/api/sites/${numeric}/funnels/summary?${params}`);
      const funnels = [
        [numericIds.before, null],
        [numericIds.after, null],
        [numericIds.windowed, WINDOW_SECONDS],
      ] as const;
      const entered = new Set<string>();
      const expected = funnels.map(([fid, windowSeconds]) => {
        const fw = walks({ ...scope, bots: false }, windowSeconds);
        const runs = [...fw.entries()].filter(([, r]) => r.length > 0);
        for (const [id] of runs) entered.add(id);
        const rs = runs.map(([, r]) => r);
        return {
          funnel_id: fid,
          steps: [0, 1, 2].map((i) => ({
            sessions: rs.filter((r) => r.length > i).length,
            median_seconds_to_next:
              i === 2
                ? null
                : median(rs.filter((r) => r.length > i + 1).map((r) => (r[i + 1]! - r[i]!) / 1000)),
          })),
          median_seconds_to_convert: median(
            rs.filter((r) => r.length === 3).map((r) => (r[2]! - r[0]!) / 1000),
          ),
        };
      });
      // Medians are compared to the millisecond (PostgreSQL interpolates in float8).
      const ms = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);
      const rounded = (d: Record<string, unknown> & { funnels: typeof expected }) => ({
        ...d,
        funnels: d.funnels.map((f) => ({
          ...f,
          steps: f.steps.map((st) => ({
            ...st,
            median_seconds_to_next: ms(st.median_seconds_to_next),
          })),
          median_seconds_to_convert: ms(f.median_seconds_to_convert),
        })),
      });
      summary.body = { data: rounded(summary.body.data as { funnels: typeof expected }) };
      expect({ scope, summary }).toEqual({
        scope,
        summary: {
          status: 200,
          body: {
            data: rounded({
              sessions_entered_any: entered.size,
              truncated: false,
              funnels: expected,
            }),
          },
        },
      });
    }
  });

  it('stored walks: complete for every funnel, each session’s walk over all its matches', async () => {
    for (const [id, windowSeconds] of [
      [ids.before, null],
      [ids.after, null],
      [ids.windowed, WINDOW_SECONDS],
    ] as const) {
      const { rows: f } = await deps.db.query<{ ready: boolean }>(
        'test.walks_ready',
        'SELECT walks_version = definition_version AS ready FROM funnels WHERE id = $1',
        [id],
      );
      expect(f[0]!.ready).toBe(true);
      const { rows } = await deps.db.query<{ session_id: string; reached: Date[]; last1: Date }>(
        'test.walks',
        'SELECT session_id, reached, last1 FROM funnel_walks WHERE funnel_id = $1',
        [id],
      );
      const stored = Object.fromEntries(
        rows.map((r) => [r.session_id, r.reached.map((t) => t.getTime())]),
      );
      const expected = Object.fromEntries(
        sessions
          .map((x) => [x.id, walk(x, -Infinity, Infinity, windowSeconds)] as const)
          .filter(([, r]) => r.length > 0),
      );
      expect({ id, stored }).toEqual({ id, stored: expected });
    }
  });

  it('a funnel whose walks are behind shows its backfill running until the catch-up rebuilds them', async () => {
    const walksOf = async (id: string) =>
      (
        await deps.db.query<{ session_id: string; reached: Date[] }>(
          'test.walks_of',
          'SELECT session_id, reached FROM funnel_walks WHERE funnel_id = $1 ORDER BY 1',
          [id],
        )
      ).rows;
    const before = await walksOf(ids.after);
    // As a funnel saved before stored walks existed: none, and not marked complete.
    await deps.db.query('test.forget_walks', 'DELETE FROM funnel_walks WHERE funnel_id = $1', [
      ids.after,
    ]);
    await deps.db.query(
      'test.walks_behind',
      'UPDATE funnels SET walks_version = NULL WHERE id = $1',
      [ids.after],
    );
    const shown = async () =>
      (
        (await call('GET', `/api/websites/${websiteId}/funnels/${ids.after}`)).body.data as {
          backfill: { state: string; progress: number };
        }
      ).backfill;
    expect(await shown()).toMatchObject({ state: 'running' });
    expect((await shown()).progress).toBeLessThan(1);
    await catchUpFunnelWalks({ db: deps.db, logger: deps.logger, sliceTargetMs: 200 });
    expect(await shown()).toMatchObject({ state: 'done', progress: 1 });
    expect(await walksOf(ids.after)).toEqual(before);
  });

  it('deleting a funnel deletes its step matches and walks; the other funnels keep theirs', async () => {
    const steps = await goalRepository.stepsOfFunnels(deps.db, [ids.windowed, ids.before]);
    const count = async (funnel: string) => {
      const { rows } = await deps.db.query<{ n: number }>(
        'test.step_matches',
        'SELECT count(*)::int AS n FROM conversions WHERE goal_id = ANY($1)',
        [steps.filter((g) => g.funnel_id === funnel).map((g) => g.id)],
      );
      return rows[0]!.n;
    };
    expect(await count(ids.windowed)).toBeGreaterThan(0);
    const kept = await count(ids.before);
    const res = await api.inject({
      method: 'DELETE',
      url: `/api/websites/${websiteId}/funnels/${ids.windowed}`,
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(res.statusCode).toBe(204);
    const walks = async (funnel: string) => {
      const { rows } = await deps.db.query<{ n: number }>(
        'test.walk_rows',
        'SELECT count(*)::int AS n FROM funnel_walks WHERE funnel_id = $1',
        [funnel],
      );
      return rows[0]!.n;
    };
    const keptWalks = await walks(ids.before);
    expect(keptWalks).toBeGreaterThan(0);
    await waitFor('the deleted funnel’s matches and walks gone', async () =>
      (await count(ids.windowed)) === 0 && (await walks(ids.windowed)) === 0 ? true : undefined,
    );
    expect(await count(ids.before)).toBe(kept);
    expect(await walks(ids.before)).toBe(keptWalks);
  });
});
