import { afterAll, beforeAll, describe, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { Type } from '@sinclair/typebox';
import { loadConfig } from '../../shared/config/load-config.js';
import { rng } from '../helpers/random.js';
import {
  cleanupSites,
  countEvents,
  createGoals,
  createSites,
  generate,
  killHard,
  produceEvents,
  spawnProcessor,
  stopGracefully,
  type Dataset,
  type GoalKey,
  expectOracle,
} from './pipeline.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { uniqueSuffix } from '../helpers/test-env.js';

/** Events in the suite; PROCESSOR_KILL_TEST_EVENTS=100000 runs the full size. */
const N = loadConfig(
  Type.Object({ PROCESSOR_KILL_TEST_EVENTS: Type.Integer({ minimum: 1000, default: 20_000 }) }),
).PROCESSOR_KILL_TEST_EVENTS;

/**
 * Exactly-once effect under kill -9: the processor runs as a child process and is killed
 * twice at random moments while it consumes; after a restart, every goal's conversions,
 * values and every session's pageviews equal the oracle computed from the generated events.
 * The topic holds both message encodings, alternately (JSON, as ingest wrote before the binary
 * encoding, and binary): processors upgraded first read a topic written across the switch.
 */
describe('processor: kill -9 twice while consuming', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let websites: string[] = [];
  let goals: Map<string, Record<GoalKey, string>>;
  let data: Dataset;
  let child: ChildProcess | null = null;
  const suffix = uniqueSuffix();

  beforeAll(async () => {
    deps = openTestDeps('processor-kill');
    topic = await createTestTopic(deps.kafka, 'kill');
    dlqTopic = await createTestTopic(deps.kafka, 'kill-dlq', 1);
    websites = await createSites(deps.db, 3);
    goals = await createGoals(deps.db, websites);
    data = generate(websites, N, 42, Date.now() - 40 * 3_600_000);
    await produceEvents(deps.kafka, topic, data.events, 'mixed');
  });

  afterAll(async () => {
    if (child) await killHard(child);
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await cleanupSites(deps.db, websites);
    await deps.close();
  });

  it('ends with exactly the oracle after two kills', { timeout: 180_000 }, async () => {
    const env = {
      KAFKA_EVENTS_TOPIC: topic,
      KAFKA_DLQ_TOPIC: dlqTopic,
      KAFKA_CONSUMER_GROUP: `test-kill-${suffix}`,
      BULLMQ_PREFIX: `test-kill-${suffix}`,
      PROCESSOR_SUB_BATCH_SIZE: '500',
    };
    const r = rng(Date.now());
    // Kill once somewhere in the first half, then again before the end.
    for (const fraction of [0.1 + r() * 0.35, 0.55 + r() * 0.3]) {
      child = spawnProcessor(env);
      const target = Math.floor(N * fraction);
      await waitFor(
        `${target} events stored`,
        async () => ((await countEvents(deps.db, websites)) >= target ? true : undefined),
        { timeoutMs: 120_000, intervalMs: 20 },
      );
      await killHard(child);
    }
    child = spawnProcessor(env);
    await waitFor(
      `all ${N} events stored`,
      async () => ((await countEvents(deps.db, websites)) === N ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    // The last sub-batch's conversions commit with its events: same transaction.
    await stopGracefully(child);
    child = null;

    await expectOracle(deps.db, goals, data);
  });
});
