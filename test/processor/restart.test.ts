import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import {
  cleanupSites,
  createGoals,
  createSites,
  generate,
  killHard,
  processorLogPath,
  produceEvents,
  spawnProcessor,
  stopGracefully,
  type Dataset,
  type GoalKey,
  expectOracle,
  storedOrDown,
} from './pipeline.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { stack, stackDirs } from '../helpers/stack.js';
import { uniqueSuffix } from '../helpers/test-env.js';

const N = 12_000;

/**
 * Dependencies failing under a running processor: PostgreSQL, then Redis, is stopped while
 * the processor has events to consume (the test waits until the processor's log shows it met
 * the outage), then started again. The processor retries with backoff (or, for Redis, reads
 * goal definitions from the database), commits nothing it did not write, loses nothing; the
 * final conversions, values and session pageviews equal the oracle.
 */
describe('processor: PostgreSQL and Redis restarts while consuming', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let websites: string[] = [];
  let goals: Map<string, Record<GoalKey, string>>;
  let data: Dataset;
  let child: ChildProcess | null = null;
  let pgStackDir: string;
  let redisStackDir: string;
  const suffix = uniqueSuffix();

  beforeAll(async () => {
    deps = openTestDeps('processor-restart');
    ({ postgres: pgStackDir, redis: redisStackDir } = await stackDirs(deps));
    topic = await createTestTopic(deps.kafka, 'restart');
    dlqTopic = await createTestTopic(deps.kafka, 'restart-dlq', 1);
    websites = await createSites(deps.db, 2);
    goals = await createGoals(deps.db, websites);
    data = generate(websites, N, 4242, Date.now() - 40 * 3_600_000);
  });

  afterAll(async () => {
    if (child) await killHard(child);
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await cleanupSites(deps.db, websites);
    await deps.close();
  });

  const stored = () => storedOrDown(deps.db, websites);

  it('ends with exactly the oracle', { timeout: 180_000 }, async () => {
    const group = `test-restart-${suffix}`;
    child = spawnProcessor({
      KAFKA_EVENTS_TOPIC: topic,
      KAFKA_DLQ_TOPIC: dlqTopic,
      KAFKA_CONSUMER_GROUP: group,
      BULLMQ_PREFIX: `test-restart-${suffix}`,
      PROCESSOR_SUB_BATCH_SIZE: '300',
      PROCESSOR_PARTITIONS_CONCURRENTLY: '2',
    });
    const logSays = (text: string) => async () =>
      (await readFile(processorLogPath(group), 'utf8').catch(() => '')).includes(text)
        ? true
        : undefined;
    const third = Math.floor(N / 3);
    const parts = [
      data.events.slice(0, third),
      data.events.slice(third, 2 * third),
      data.events.slice(2 * third),
    ];

    await produceEvents(deps.kafka, topic, parts[0]!);
    await waitFor('first third stored', async () =>
      (await stored()) === third ? true : undefined,
    );

    await stack('postgres', 'down', pgStackDir);
    try {
      await produceEvents(deps.kafka, topic, parts[1]!);
      await waitFor('the processor to meet the outage', logSays('batch_failed_retrying'));
    } finally {
      await stack('postgres', 'up', pgStackDir);
    }
    await waitFor('two thirds stored', async () =>
      (await stored()) === 2 * third ? true : undefined,
    );

    await stack('redis', 'down', redisStackDir);
    try {
      await produceEvents(deps.kafka, topic, parts[2]!);
      await waitFor(
        'the processor to fall back to the database',
        logSays('goal_cache_redis_failed_using_db'),
      );
    } finally {
      await stack('redis', 'up', redisStackDir);
    }
    await waitFor(`all ${N} stored`, async () => ((await stored()) === N ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 200,
    });
    expect(child.exitCode).toBeNull(); // it rode out both restarts
    await stopGracefully(child);
    child = null;

    await expectOracle(deps.db, goals, data);
  });
});
