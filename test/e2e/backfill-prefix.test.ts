import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { eventRepository, eventRowOf } from '../../shared/db/repositories/event.repository.js';
import { createBackfillQueue } from '../../shared/jobs/queues.js';
import { createRedis } from '../../shared/redis/redis.js';
import { cleanupSites, createSites, generate } from '../processor/pipeline.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { freePort, spawnService, stopGracefully } from '../helpers/services.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';

/**
 * The backfill queue has one owner (shared/jobs/queues.ts) and one setting for its key prefix:
 * with a non-default BULLMQ_PREFIX, a goal created through the API process is backfilled by the
 * processor process. (The API used to enqueue under BullMQ's default prefix whatever the
 * setting, where no worker listened.)
 */
describe('backfill queue: a non-default BULLMQ_PREFIX reaches the worker', () => {
  let deps: TestDeps;
  let api: ChildProcess;
  let processor: ChildProcess;
  let topics: string[] = [];
  let website = '';
  let apiUrl: string;
  let expected: number;
  const suffix = uniqueSuffix();
  const prefix = `test-prefix-${suffix}`;
  const key = `spk_selfhosted_${'5a'.repeat(16)}`;

  beforeAll(async () => {
    deps = openTestDeps('backfill-prefix');
    website = (await createSites(deps.db, 1))[0]!;
    const data = generate([website], 2_000, 7, Date.now() - 10 * 86_400_000);
    await eventRepository.insertReturningIds(deps.db, data.events.map(eventRowOf));
    expected = data.oracle.get(website)!.checkout.conversions;
    topics = [
      await createTestTopic(deps.kafka, 'prefix', 1),
      await createTestTopic(deps.kafka, 'prefix-dlq', 1),
    ];
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    processor = spawnService('processor', `prefix-${suffix}`, {
      BULLMQ_PREFIX: prefix,
      KAFKA_EVENTS_TOPIC: topics[0]!,
      KAFKA_DLQ_TOPIC: topics[1]!,
      KAFKA_CONSUMER_GROUP: `test-prefix-${suffix}`,
      GOAL_CACHE_RECHECK_MS: '100',
    });
    api = spawnService('api', `prefix-${suffix}`, {
      BULLMQ_PREFIX: prefix,
      API_PORT: String(port),
      GOALPOST_BOOTSTRAP_API_KEY: key,
    });
    await waitFor('api listening', async () =>
      (await fetch(`${apiUrl}/health`).catch(() => null))?.ok ? true : undefined,
    );
  });

  afterAll(async () => {
    await Promise.all([api, processor].filter(Boolean).map(stopGracefully));
    const redis = createRedis(testConfig.REDIS_URL, deps.logger, { name: 'test-prefix-cleanup' });
    const queue = createBackfillQueue(redis, prefix);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    redis.disconnect();
    if (topics.length > 0) await deleteTestTopics(deps.kafka, topics);
    await cleanupSites(deps.db, [website]);
    await deps.close();
  });

  it(
    'creates a goal through the API and the processor backfills it under that prefix',
    { timeout: 90_000 },
    async () => {
      const created = await fetch(`${apiUrl}/api/websites/${website}/goals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'Checkout',
          goal_type: 'pageview',
          match_value: '/checkout/success',
        }),
      });
      expect(created.status).toBe(201);
      const goalId = ((await created.json()) as { data: { id: string } }).data.id;
      const backfill = await waitFor(
        'backfill done',
        async () => {
          const res = await fetch(`${apiUrl}/api/websites/${website}/goals/${goalId}`, {
            headers: { authorization: `Bearer ${key}` },
          });
          const b = ((await res.json()) as { data: { backfill: { state: string } } }).data.backfill;
          return b.state === 'done' ? b : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(backfill).toMatchObject({ state: 'done', progress: 1 });
      const { rows } = await deps.db.query<{ n: number }>(
        'test.count_conversions',
        'SELECT count(*)::int AS n FROM conversions WHERE goal_id = $1',
        [goalId],
      );
      expect(expected).toBeGreaterThan(0);
      expect(rows[0]!.n).toBe(expected);
    },
  );
});
