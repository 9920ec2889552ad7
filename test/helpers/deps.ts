import type { Kafka } from 'kafkajs';
import { createDb, type Db } from '../../shared/db/pool.js';
import { createKafka, ensureTopics } from '../../shared/kafka/kafka.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { createRedis, type Redis } from '../../shared/redis/redis.js';
import { testConfig, uniqueSuffix } from './test-env.js';

export interface TestDeps {
  db: Db;
  redis: Redis;
  kafka: Kafka;
  logger: Logger;
  close(): Promise<void>;
}

/** Real clients to the real stack, one set per test file. */
export function openTestDeps(name: string): TestDeps {
  const logger = createLogger(`test-${name}`, testConfig.TEST_LOG_LEVEL);
  const db = createDb(
    { url: testConfig.DATABASE_URL, max: 5, applicationName: `goalpost-test-${name}` },
    logger,
  );
  const redis = createRedis(testConfig.REDIS_URL, logger, { name: `test-${name}` });
  const kafka = createKafka(
    { brokers: testConfig.KAFKA_BROKERS, clientId: `goalpost-test-${name}` },
    logger,
  );
  return {
    db,
    redis,
    kafka,
    logger,
    async close() {
      redis.disconnect();
      await db.end();
    },
  };
}

/** Creates a fresh topic for one test (6 partitions, like production). */
export async function createTestTopic(
  kafka: Kafka,
  prefix: string,
  partitions = 6,
): Promise<string> {
  const topic = `test.${prefix}.${uniqueSuffix()}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    // On a loaded machine a brand-new topic can answer "does not host this topic-partition"
    // for a moment; wait until every partition has a leader.
    await ensureTopics(admin, [{ topic, partitions }]);
    await waitFor(`leaders for ${topic}`, async () => {
      const md = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => null);
      const ps = md?.topics[0]?.partitions ?? [];
      return ps.length === partitions && ps.every((p) => p.leader >= 0) ? true : undefined;
    });
  } finally {
    await admin.disconnect();
  }
  return topic;
}

export async function deleteTestTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`
 * with the last value seen. Used to wait for asynchronous pipeline effects, never as a sleep.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
