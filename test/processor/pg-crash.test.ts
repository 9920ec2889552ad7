import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import {
  actualByGoal,
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

const N = 20_000;

/**
 * The processor commits its transactions without waiting for the WAL flush (synchronous_commit
 * off) and commits each Kafka offset only once PostgreSQL has flushed the transaction behind it.
 * Here PostgreSQL crashes (`pg_ctl stop -m immediate`: no checkpoint, unflushed WAL lost) while
 * the processor is writing; after the restart every goal's conversions, values and every
 * session's pageviews equal the oracle: what the crash took was redelivered by Kafka and written
 * once.
 */
describe('processor: PostgreSQL crashes (immediate stop) mid-load', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let websites: string[] = [];
  let goals: Map<string, Record<GoalKey, string>>;
  let data: Dataset;
  let child: ChildProcess | null = null;
  let pgStackDir: string;
  const suffix = uniqueSuffix();
  const group = `test-pg-crash-${suffix}`;

  beforeAll(async () => {
    deps = openTestDeps('processor-pg-crash');
    ({ postgres: pgStackDir } = await stackDirs(deps));
    topic = await createTestTopic(deps.kafka, 'pg-crash');
    dlqTopic = await createTestTopic(deps.kafka, 'pg-crash-dlq', 1);
    websites = await createSites(deps.db, 2);
    goals = await createGoals(deps.db, websites);
    data = generate(websites, N, 777, Date.now() - 40 * 3_600_000);
  });

  afterAll(async () => {
    if (child) await killHard(child);
    await stack('postgres', 'up', pgStackDir).catch(() => undefined);
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await cleanupSites(deps.db, websites);
    await deps.close();
  });

  const stored = async () => {
    try {
      return await countEvents(deps.db, websites);
    } catch {
      return -1; // the database is down or recovering
    }
  };

  it('ends with exactly the oracle', { timeout: 90_000 }, async () => {
    child = spawnProcessor({
      KAFKA_EVENTS_TOPIC: topic,
      KAFKA_DLQ_TOPIC: dlqTopic,
      KAFKA_CONSUMER_GROUP: group,
      BULLMQ_PREFIX: group,
      PROCESSOR_SUB_BATCH_SIZE: '200',
      PROCESSOR_PARTITIONS_CONCURRENTLY: '3',
    });
    await produceEvents(deps.kafka, topic, data.events);
    // Mid-load: some events are in, most are not.
    await waitFor(
      'the processor writing',
      async () => ((await stored()) >= N / 5 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 20 },
    );
    await stack('postgres', 'down', pgStackDir, { GOALPOST_PG_STOP_MODE: 'immediate' });
    await stack('postgres', 'up', pgStackDir);
    await waitFor(`all ${N} stored`, async () => ((await stored()) === N ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    expect(child.exitCode).toBeNull(); // it rode out the crash
    await stopGracefully(child);
    child = null;

    const ids = websites.flatMap((w) => Object.values(goals.get(w)!));
    const actual = await actualByGoal(deps.db, ids);
    for (const w of websites) {
      for (const key of ['checkout', 'purchase', 'blog'] as const) {
        expect({ w, key, ...actual.get(goals.get(w)![key])! }).toEqual({
          w,
          key,
          ...data.oracle.get(w)![key],
        });
      }
    }
    const { rows } = await deps.db.query<{ k: string; pageviews: number }>(
      'test.sessions',
      `SELECT website_id || '|' || session_id AS k, pageviews FROM sessions
        WHERE website_id = ANY($1) AND pageviews > 0`,
      [websites],
    );
    expect(new Map(rows.map((x) => [x.k, x.pageviews]))).toEqual(data.sessionPageviews);

    // Every offset was committed in the end (the graceful stop drained the waiting ones).
    const admin = deps.kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      for (const p of ends) {
        const c = committed!.partitions.find((x) => x.partition === p.partition)!;
        expect(c.offset).toBe(p.high);
      }
    } finally {
      await admin.disconnect();
    }
  });
});
