import type { Consumer, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../shared/kafka/kafka.js';
import { openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { uniqueSuffix } from '../helpers/test-env.js';

/**
 * Proves kafkajs 2.2.4 against the broker version `deploy/local/kafka.sh` runs (Kafka 4 removed
 * old protocol versions, KIP-896): admin topic creation, produce with acks = all, a classic
 * consumer group join and rebalance, manual offset commits, and a member leaving.
 */
describe('kafkajs 2.2.4 against the local broker', () => {
  let deps: TestDeps;
  let kafka: Kafka;
  const topic = `test.compat.${uniqueSuffix()}`;
  const groupId = `test-compat-${uniqueSuffix()}`;
  const consumed = new Set<string>();
  const assigned = new Map<string, number[]>();
  const consumers: Consumer[] = [];

  const startConsumer = async (name: string): Promise<Consumer> => {
    const c = kafka.consumer({
      groupId,
      maxWaitTimeInMs: 250,
      heartbeatInterval: 500,
      sessionTimeout: 10_000,
    });
    consumers.push(c);
    c.on(c.events.GROUP_JOIN, (e) => {
      assigned.set(name, [...(e.payload.memberAssignment[topic] ?? [])].sort());
    });
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        for (const m of batch.messages) {
          consumed.add(`${batch.partition}:${m.offset}`);
          payload.resolveOffset(m.offset);
        }
        const last = batch.lastOffset();
        await c.commitOffsets([
          { topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
        ]);
        await payload.heartbeat();
      },
    });
    return c;
  };

  const produce = async (n: number) => {
    const producer = kafka.producer();
    await producer.connect();
    try {
      const res = await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: n }, (_, i) => ({ partition: i % 6, value: `m${i}` })),
      });
      return res;
    } finally {
      await producer.disconnect();
    }
  };

  const committedOffsets = async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return t!.partitions.map((p) => p.offset);
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(() => {
    deps = openTestDeps('kafkajs-compat');
    kafka = deps.kafka;
  });

  afterAll(async () => {
    for (const c of consumers) await c.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await deps.close();
  });

  it('creates a topic with the configured partition count', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [{ topic, partitions: 6 }]);
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(md.topics[0]!.partitions).toHaveLength(6);
    } finally {
      await admin.disconnect();
    }
  });

  it('produces with acks = all', async () => {
    const res = await produce(60);
    expect(res.every((r) => r.errorCode === 0)).toBe(true);
  });

  it('joins a group, rebalances onto a second member, commits offsets manually', async () => {
    await startConsumer('a');
    await waitFor('a to own all 6 partitions', async () =>
      assigned.get('a')?.length === 6 ? true : undefined,
    );
    await startConsumer('b');
    await waitFor('a rebalance splitting 6 partitions between a and b', async () => {
      const a = assigned.get('a') ?? [];
      const b = assigned.get('b') ?? [];
      return a.length > 0 && b.length > 0 && new Set([...a, ...b]).size === 6 ? true : undefined;
    });
    await waitFor('all 60 messages consumed', async () =>
      consumed.size === 60 ? true : undefined,
    );
    await waitFor('offset 10 committed on every partition', async () =>
      (await committedOffsets()).every((o) => o === '10') ? true : undefined,
    );
  });

  it('moves every partition to the survivor when a member leaves', async () => {
    await consumers[1]!.disconnect();
    await waitFor('a to own all 6 partitions again', async () =>
      assigned.get('a')?.length === 6 ? true : undefined,
    );
    await produce(60);
    await waitFor('120 messages consumed', async () => (consumed.size === 120 ? true : undefined));
    await waitFor('offset 20 committed on every partition', async () =>
      (await committedOffsets()).every((o) => o === '20') ? true : undefined,
    );
  });
});
