import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, type Worker } from 'bullmq';
import type { Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import {
  backfillPlan,
  runBackfill,
  startBackfillWorker,
} from '../../processor/jobs/backfill.worker.js';
import { eventRepository, eventRowOf } from '../../shared/db/repositories/event.repository.js';
import { newGoalId } from '../../shared/ids.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { invalidateGoalCache } from '../../shared/cache/goal-definitions.cache.js';
import { JOBS, QUEUES, backfillJobId } from '../../shared/jobs/queues.js';
import { createRedis, type Redis } from '../../shared/redis/redis.js';
import {
  actualByGoal,
  cleanupSites,
  countEvents,
  createGoals,
  createSites,
  generate,
  goalSpecs,
  produceEvents,
  type Dataset,
  type GoalKey,
} from './pipeline.js';
import { startTestProcessor, type TestProcessor } from '../helpers/processor.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';

const N = 6_000;
const KEYS = ['checkout', 'purchase', 'blog'] as const;

/**
 * Retroactive goals: events stored before a goal existed count once its backfill job ran,
 * exactly as for the same goal created before the events (and as the oracle says); a changed
 * definition removes conversions that no longer match; an outdated job stops.
 */
describe('processor: backfill worker', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let processor: TestProcessor | undefined;
  let producer: Producer;
  let bull: Redis;
  let queue: Queue;
  let worker: Worker;
  let websites: string[] = [];
  let before: Map<string, Record<GoalKey, string>>;
  const after = new Map<string, Record<GoalKey, string>>();
  let data: Dataset;
  const prefix = `test-backfill-${uniqueSuffix()}`;

  beforeAll(async () => {
    deps = openTestDeps('processor-backfill');
    topic = await createTestTopic(deps.kafka, 'backfill', 3);
    dlqTopic = await createTestTopic(deps.kafka, 'backfill-dlq', 1);
    websites = await createSites(deps.db, 2);
    before = await createGoals(deps.db, websites);
    for (const w of websites) await invalidateGoalCache(deps.redis, w);
    producer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    processor = await startTestProcessor(deps, {
      name: 'backfill',
      topic,
      dlqTopic,
      goalRecheckMs: 100,
      subBatchSize: 1000,
      partitionsConcurrently: 3,
    });
    data = generate(websites, N, 99, Date.now() - 30 * 24 * 3_600_000);
    await produceEvents(deps.kafka, topic, data.events);
    await waitFor('all events stored', async () =>
      (await countEvents(deps.db, websites)) === N ? true : undefined,
    );
    bull = createRedis(testConfig.REDIS_URL, deps.logger, { name: 'test-bull', forBullMQ: true });
    queue = new Queue(QUEUES.backfill, { connection: bull, prefix });
    worker = startBackfillWorker({
      db: deps.db,
      logger: deps.logger,
      connection: bull,
      prefix,
      concurrency: 2,
      sliceTargetMs: 200,
      settleMs: 300,
      tailMarginMs: 60_000,
    });
  });

  afterAll(async () => {
    await worker?.close();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    bull?.disconnect();
    await processor?.stop();
    await producer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await cleanupSites(deps.db, websites);
    await deps.close();
  });

  /** What the API does on create/update: status queued, then the job. */
  const enqueue = async (websiteId: string, goalId: string, version: number) => {
    await deps.db.query('test.queued', `UPDATE goals SET backfill = $2 WHERE id = $1`, [
      goalId,
      JSON.stringify({
        state: 'queued',
        progress: 0,
        events_scanned: 0,
        started_at: null,
        finished_at: null,
        definition_version: version,
      }),
    ]);
    await queue.add(
      JOBS.backfillGoal,
      { website_id: websiteId, goal_id: goalId, definition_version: version },
      { jobId: backfillJobId(goalId, version), attempts: 3 },
    );
  };

  const waitDone = (goalId: string, version: number) =>
    waitFor(`backfill of ${goalId} v${version} done`, async () => {
      const s = await goalRepository.backfillOf(deps.db, goalId);
      return s?.state === 'done' && s.definition_version === version ? s : undefined;
    });

  it('counts events stored before the goal existed, like the goal created before them', async () => {
    for (const w of websites) {
      const specs = goalSpecs(w);
      for (const g of Object.values(specs)) await goalRepository.create(deps.db, g);
      after.set(w, {
        checkout: specs.checkout.id,
        purchase: specs.purchase.id,
        blog: specs.blog.id,
      });
      for (const g of Object.values(specs)) await enqueue(w, g.id, 1);
      // The three goals take the two SQL paths: constant values in one INSERT … SELECT per
      // slice, event-property values computed by the matcher from SQL-filtered rows.
      const defs = await goalRepository.definitionsForWebsite(deps.db, w);
      const plan = (id: string) => backfillPlan(defs.find((d) => d.id === id)!);
      expect([plan(specs.checkout.id), plan(specs.blog.id), plan(specs.purchase.id)]).toEqual([
        'set',
        'set',
        'sql_condition',
      ]);
    }
    for (const w of websites) {
      for (const k of KEYS) {
        const status = await waitDone(after.get(w)![k], 1);
        expect(status).toMatchObject({ state: 'done', progress: 1, definition_version: 1 });
        // Every event of the website scanned at least once (the tail pass re-checks recent ones).
        expect(status.events_scanned).toBeGreaterThanOrEqual(
          data.events.filter((e) => e.website_id === w).length,
        );
        expect(Date.parse(status.finished_at!)).toBeGreaterThanOrEqual(
          Date.parse(status.started_at!),
        );
      }
    }
    const ids = websites.flatMap((w) => [
      ...Object.values(before.get(w)!),
      ...Object.values(after.get(w)!),
    ]);
    const actual = await actualByGoal(deps.db, ids);
    for (const w of websites) {
      for (const k of KEYS) {
        const expected = data.oracle.get(w)![k];
        expect({ w, k, ...actual.get(before.get(w)![k])! }).toEqual({ w, k, ...expected });
        expect({ w, k, ...actual.get(after.get(w)![k])! }).toEqual({ w, k, ...expected });
      }
    }
    // Bot events convert (flagged, so statistics can leave them out), as on the live path.
    const bots = await botsByGoal(ids);
    for (const w of websites) {
      for (const k of KEYS) {
        const expected = data.botConversions.get(w)![k];
        expect({ w, k, live: bots.get(before.get(w)![k]) ?? 0 }).toEqual({ w, k, live: expected });
        expect({ w, k, backfill: bots.get(after.get(w)![k]) ?? 0 }).toEqual({
          w,
          k,
          backfill: expected,
        });
      }
    }
    expect(KEYS.some((k) => data.botConversions.get(websites[0]!)![k] > 0)).toBe(true);
  });

  const botsByGoal = async (goalIds: string[]) => {
    const { rows } = await deps.db.query<{ goal_id: string; n: number }>(
      'test.bot_conversions',
      `SELECT goal_id, count(*)::int AS n FROM conversions
        WHERE goal_id = ANY($1) AND is_bot GROUP BY goal_id`,
      [goalIds],
    );
    return new Map(rows.map((r) => [r.goal_id, r.n]));
  };

  it('a changed definition removes conversions that no longer match and fixes values', async () => {
    const w = websites[0]!;
    const goalId = after.get(w)!.blog;
    // As the API would: new match value and fixed value, version bumped, job enqueued.
    await deps.db.query(
      'test.update_goal',
      `UPDATE goals SET match_value = '/blog/b/', fixed_value = 3,
              definition_version = definition_version + 1 WHERE id = $1`,
      [goalId],
    );
    await invalidateGoalCache(deps.redis, w);
    await enqueue(w, goalId, 2);
    await waitDone(goalId, 2);
    const expected = data.events.filter(
      (e) => e.website_id === w && e.type === 'pageview' && e.path!.startsWith('/blog/b/'),
    ).length;
    const actual = (await actualByGoal(deps.db, [goalId])).get(goalId)!;
    expect(actual).toEqual({ conversions: expected, valued: expected, cents: expected * 300 });
    const { rows } = await deps.db.query<{ v: number }>(
      'test.versions',
      'SELECT DISTINCT definition_version AS v FROM conversions WHERE goal_id = $1',
      [goalId],
    );
    expect(rows).toEqual([{ v: 2 }]);
  });

  it('a job for an outdated definition version stops without touching the status', async () => {
    const w = websites[0]!;
    const goalId = after.get(w)!.blog; // now at version 2
    const statusBefore = await goalRepository.backfillOf(deps.db, goalId);
    const outcome = await runBackfill(
      { db: deps.db, logger: deps.logger, sliceTargetMs: 200, settleMs: 0, tailMarginMs: 0 },
      { website_id: w, goal_id: goalId, definition_version: 1 },
      Date.now(),
    );
    expect(outcome).toBe('superseded');
    expect(await goalRepository.backfillOf(deps.db, goalId)).toEqual(statusBefore);
  });

  it('a definition change while a job runs stops it at its next slice; the new job finishes', async () => {
    const w = websites[1]!;
    const goalId = after.get(w)!.checkout; // at version 1, backfilled
    const total = data.events.filter((e) => e.website_id === w).length;
    let slices = 0;
    const outcome = await runBackfill(
      { db: deps.db, logger: deps.logger, sliceTargetMs: 200, settleMs: 0, tailMarginMs: 0 },
      { website_id: w, goal_id: goalId, definition_version: 1 },
      Date.now(),
      async () => {
        // After the first slice, as the API would on an update: version bumped, status queued.
        if (++slices !== 1) return;
        await deps.db.query(
          'test.bump_goal',
          `UPDATE goals SET definition_version = 2,
                  backfill = jsonb_set(backfill, '{state}', '"queued"') || '{"definition_version": 2}'
            WHERE id = $1`,
          [goalId],
        );
      },
    );
    expect(outcome).toBe('superseded');
    expect(slices).toBe(1); // the second slice's version check failed: it wrote nothing
    const queued = await goalRepository.backfillOf(deps.db, goalId);
    expect(queued).toMatchObject({ state: 'queued', definition_version: 2 });
    expect(queued!.events_scanned).toBeLessThan(total);

    const next = await runBackfill(
      { db: deps.db, logger: deps.logger, sliceTargetMs: 200, settleMs: 0, tailMarginMs: 0 },
      { website_id: w, goal_id: goalId, definition_version: 2 },
      Date.now(),
    );
    expect(next).toBe('done');
    expect(await goalRepository.backfillOf(deps.db, goalId)).toMatchObject({
      state: 'done',
      progress: 1,
      definition_version: 2,
    });
    const actual = (await actualByGoal(deps.db, [goalId])).get(goalId)!;
    expect(actual).toEqual(data.oracle.get(w)!.checkout);
  });

  it('a condition SQL cannot render is matched in process (streamed), with the same result', async () => {
    const w = websites[1]!;
    // A case-insensitive glob has no SQL rendering (goal-condition-sql.ts): the streamed path.
    const spec = {
      ...goalSpecs(w).blog,
      id: newGoalId(),
      name: `Blog glob ${randomUUID()}`,
      match_operator: 'glob' as const,
      match_value: '/BLOG/**',
      case_sensitive: false,
    };
    await goalRepository.create(deps.db, spec);
    const def = (await goalRepository.definitionsForWebsite(deps.db, w)).find(
      (d) => d.id === spec.id,
    )!;
    expect(backfillPlan(def)).toBe('streamed');
    await enqueue(w, spec.id, 1);
    const status = await waitDone(spec.id, 1);
    expect(status.events_scanned).toBeGreaterThanOrEqual(
      data.events.filter((e) => e.website_id === w).length,
    );
    expect((await actualByGoal(deps.db, [spec.id])).get(spec.id)).toEqual(data.oracle.get(w)!.blog);

    // A narrower version: the streamed path deletes what no longer matches.
    await deps.db.query(
      'test.narrow_glob',
      `UPDATE goals SET match_value = '/blog/B/**', definition_version = 2 WHERE id = $1`,
      [spec.id],
    );
    await enqueue(w, spec.id, 2);
    await waitDone(spec.id, 2);
    const narrowed = data.events.filter(
      (e) => e.website_id === w && e.type === 'pageview' && e.path!.startsWith('/blog/b/'),
    ).length;
    expect((await actualByGoal(deps.db, [spec.id])).get(spec.id)).toEqual({
      conversions: narrowed,
      valued: narrowed,
      cents: narrowed * 250,
    });
  });

  it('the tail pass re-checks events the live path wrote behind the main pass', async () => {
    const w = websites[0]!;
    let latePricing = 0; // late '/pricing' events added so far (each iteration adds one)
    for (const matchOperator of ['equals', 'glob'] as const) {
      // `equals` is set-based, a case-insensitive glob streamed: both have the tail pass.
      const spec = {
        ...goalSpecs(w).checkout,
        id: newGoalId(),
        name: `Pricing ${randomUUID()}`,
        match_operator: matchOperator,
        match_value: matchOperator === 'equals' ? '/pricing' : '/PRICING',
        case_sensitive: matchOperator === 'equals',
      };
      await goalRepository.create(deps.db, spec);
      await deps.db.query('test.v2', 'UPDATE goals SET definition_version = 2 WHERE id = $1', [
        spec.id,
      ]);
      const newest = data.events
        .filter((e) => e.website_id === w)
        .reduce((a, e) => (e.event_time > a ? e.event_time : a), '');
      const late = (path: string) => ({
        ...data.events.find((e) => e.website_id === w && e.type === 'pageview')!,
        event_id: randomUUID(),
        event_time: newest,
        received_at: newest,
        path,
      });
      const matching = late('/pricing');
      const stale = late('/docs');
      let slices = 0;
      const outcome = await runBackfill(
        { db: deps.db, logger: deps.logger, sliceTargetMs: 200, settleMs: 0, tailMarginMs: 60_000 },
        { website_id: w, goal_id: spec.id, definition_version: 2 },
        Date.now(),
        async () => {
          // After the newest slice is done, as a live transaction that still had version 1
          // and committed late would leave it: a matching event without its conversion and
          // a non-matching one with a conversion of the old version.
          if (++slices !== 1) return;
          latePricing += 1;
          await eventRepository.insertReturningIds(deps.db, [
            eventRowOf(matching),
            eventRowOf(stale),
          ]);
          await deps.db.query(
            'test.stale_conversion',
            `INSERT INTO conversions (goal_id, event_id, event_time, website_id, session_id,
               value, currency, is_bot, definition_version)
             VALUES ($1, $2, $3, $4, $5, NULL, NULL, false, 1)`,
            [spec.id, stale.event_id, stale.event_time, w, stale.session_id],
          );
        },
      );
      expect(outcome).toBe('done');
      expect(slices).toBeGreaterThan(1);
      const { rows } = await deps.db.query<{ event_id: string; v: number }>(
        'test.tail_conversions',
        `SELECT event_id::text, definition_version AS v FROM conversions
          WHERE goal_id = $1 AND event_id = ANY($2::uuid[])`,
        [spec.id, [matching.event_id, stale.event_id]],
      );
      expect({ matchOperator, rows }).toEqual({
        matchOperator,
        rows: [{ event_id: matching.event_id, v: 2 }],
      });
      // Every matching event exactly once, the late ones included.
      const expected =
        data.events.filter(
          (e) => e.website_id === w && e.type === 'pageview' && e.path === '/pricing',
        ).length + latePricing;
      expect((await actualByGoal(deps.db, [spec.id])).get(spec.id)!.conversions).toBe(expected);
    }
  });

  it('values keep every digit on the in-process paths (filtered by SQL and streamed)', async () => {
    const w = websites[1]!;
    const template = data.events.find((e) => e.website_id === w && e.type === 'event')!;
    // Value text as sent → as stored: exact decimals, no float rounding on the way.
    const cases: [unknown, string | null][] = [
      ['12345678901234567890.123456789', '12345678901234567890.123456789'],
      [0.1, '0.1'],
      ['-7.25', '-7.25'],
      ['n/a', null],
    ];
    const rows = cases.map(([sent]) => ({
      ...template,
      event_id: randomUUID(),
      event_name: 'exact_value',
      properties: { exact: sent },
    }));
    await eventRepository.insertReturningIds(deps.db, rows.map(eventRowOf));
    const expected = new Map(rows.map((r, i) => [r.event_id, cases[i]![1]]));
    const base = {
      ...goalSpecs(w).purchase,
      value_property_key: 'exact',
      match_value: 'exact_value',
    };
    const filtered = { ...base, id: newGoalId(), name: `Exact ${randomUUID()}` };
    // A case-insensitive glob has no SQL rendering: matched in process.
    const streamed = {
      ...base,
      id: newGoalId(),
      name: `Exact glob ${randomUUID()}`,
      match_operator: 'glob' as const,
      match_value: 'EXACT_*',
      case_sensitive: false,
    };
    const defs = new Map<string, string>();
    for (const spec of [filtered, streamed]) {
      await goalRepository.create(deps.db, spec);
      const def = (await goalRepository.definitionsForWebsite(deps.db, w)).find(
        (d) => d.id === spec.id,
      )!;
      defs.set(spec.id, backfillPlan(def));
      await enqueue(w, spec.id, 1);
    }
    expect([...defs.values()]).toEqual(['sql_condition', 'streamed']);
    for (const spec of [filtered, streamed]) {
      await waitDone(spec.id, 1);
      const stored = await deps.db.query<{ event_id: string; value: string | null }>(
        'test.exact_values',
        'SELECT event_id::text, value::text FROM conversions WHERE goal_id = $1',
        [spec.id],
      );
      expect({
        plan: defs.get(spec.id),
        values: new Map(stored.rows.map((r) => [r.event_id, r.value])),
      }).toEqual({ plan: defs.get(spec.id), values: expected });
    }
  });

  it('live events meeting a running backfill are counted once', async () => {
    const w = websites[0]!;
    // Live events of the same website while the backfill runs: late arrivals spread over the
    // whole stored range (some in slices already done, some in slices still to come) and
    // fresh ones; the live processor matches them too, with the same definition.
    const live = generate([w], 1_500, 7_777, baseOf(data));
    const fresh = generate([w], 300, 7_778, Date.now() - 60_000);
    const total = data.events.filter((e) => e.website_id === w).length;
    for (const key of ['checkout', 'purchase'] as const) {
      const spec = { ...goalSpecs(w)[key], id: newGoalId(), name: `Meet ${randomUUID()}` };
      await goalRepository.create(deps.db, spec);
      await invalidateGoalCache(deps.redis, w);
      const batch = key === 'checkout' ? live : fresh;
      let slices = 0;
      let stored = await countEvents(deps.db, [w]);
      const outcome = await runBackfill(
        {
          db: deps.db,
          logger: deps.logger,
          sliceTargetMs: 20,
          settleMs: 300,
          tailMarginMs: 60_000,
        },
        { website_id: w, goal_id: spec.id, definition_version: 1 },
        Date.now(),
        async () => {
          if (++slices !== 2) return;
          // Between two slices: the live path writes these events and their conversions.
          await produceEvents(deps.kafka, topic, batch.events);
          stored += batch.events.length;
          const want = stored;
          await waitFor('live events stored', async () =>
            (await countEvents(deps.db, [w])) === want ? true : undefined,
          );
        },
      );
      expect(outcome).toBe('done');
      expect(slices).toBeGreaterThan(2);
      // Every matching event once: the stored dataset, the earlier batches and this one.
      const sent = [data, ...(key === 'purchase' ? [live] : []), batch];
      const oracle = sent.reduce(
        (sum, d) => {
          const o = d.oracle.get(w)![key];
          return {
            conversions: sum.conversions + o.conversions,
            valued: sum.valued + o.valued,
            cents: sum.cents + o.cents,
          };
        },
        { conversions: 0, valued: 0, cents: 0 },
      );
      expect({ key, ...(await actualByGoal(deps.db, [spec.id])).get(spec.id)! }).toEqual({
        key,
        ...oracle,
      });
      expect(stored).toBeGreaterThan(total);
    }
  });

  it('progress moves through every phase, the wait for the live processor included', async () => {
    const w = websites[1]!;
    const spec = { ...goalSpecs(w).checkout, id: newGoalId(), name: `Phases ${randomUUID()}` };
    await goalRepository.create(deps.db, spec);
    const seen: number[] = [];
    const outcome = await runBackfill(
      { db: deps.db, logger: deps.logger, sliceTargetMs: 50, settleMs: 3_000, tailMarginMs: 0 },
      { website_id: w, goal_id: spec.id, definition_version: 1 },
      Date.now(),
      async (p) => {
        seen.push(p);
        // The goal object shows what the job reports, as it reports it.
        expect((await goalRepository.backfillOf(deps.db, spec.id))!.progress).toBeCloseTo(p, 4);
      },
    );
    expect(outcome).toBe('done');
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    // Main pass below 0.95, then the settle wait between 0.95 and 0.97, then the tail pass.
    expect(seen.some((p) => p < 0.95)).toBe(true);
    expect(seen.filter((p) => p > 0.95 && p < 0.97).length).toBeGreaterThan(0);
    expect(seen.at(-1)).toBeGreaterThanOrEqual(0.97);
    expect(await goalRepository.backfillOf(deps.db, spec.id)).toMatchObject({
      state: 'done',
      progress: 1,
    });
  });
});

/** The base time of a generated dataset (its earliest event). */
function baseOf(d: Dataset): number {
  return Math.min(...d.events.map((e) => Date.parse(e.event_time)));
}
