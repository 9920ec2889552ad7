import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Producer } from 'kafkajs';
import { encodeEvent } from '../../shared/events/event-message.js';
import {
  cleanupSites,
  countEvents,
  createGoals,
  createSites,
  generate,
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

const run = promisify(execFile);

/**
 * Poison messages: undecodable bytes, an unknown schema version and a row the database
 * rejects (a NUL character in jsonb properties) land in the dead-letter topic with headers
 * saying why and where from; the events around them are processed. The CLI shows them and
 * replays them once.
 */
describe('processor: dead letters', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let processor: TestProcessor | undefined;
  let producer: Producer;
  let websites: string[] = [];
  let goals: Map<string, Record<GoalKey, string>>;
  const group = `test-dlq-${uniqueSuffix()}`;

  beforeAll(async () => {
    deps = openTestDeps('processor-dlq');
    topic = await createTestTopic(deps.kafka, 'dlq', 1);
    dlqTopic = await createTestTopic(deps.kafka, 'dlq-dlq', 1);
    websites = await createSites(deps.db, 1);
    goals = await createGoals(deps.db, websites);
    producer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    processor = await startTestProcessor(deps, {
      name: 'dlq',
      topic,
      dlqTopic,
      groupId: group,
      live: true,
      subBatchSize: 50,
      partitionsConcurrently: 1,
    });
  });

  afterAll(async () => {
    await processor?.stop();
    await producer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await cleanupSites(deps.db, websites);
    await deps.close();
  });

  const cli = (...args: string[]) =>
    run(process.execPath, ['dist/processor/cli/main.js', 'dlq', ...args], {
      cwd: new URL('../../', import.meta.url).pathname,
      env: {
        KAFKA_BROKERS: testConfig.KAFKA_BROKERS,
        KAFKA_EVENTS_TOPIC: topic,
        KAFKA_DLQ_TOPIC: dlqTopic,
        KAFKA_CONSUMER_GROUP: group,
        LOG_LEVEL: 'error',
      },
    });

  it('dead-letters poison messages and processes the events around them', async () => {
    const data = generate(websites, 120, 7, Date.now() - 3_600_000);
    const events = data.events.map((e) => ({ key: e.session_id, value: encodeEvent(e) }));
    const nul = {
      ...data.events[0]!,
      event_id: crypto.randomUUID(),
      properties: { a: 'x\u0000y' },
    };
    const poison = [
      { key: 'p1', value: Buffer.from('{not json') },
      { key: 'p2', value: Buffer.from(JSON.stringify({ ...data.events[1], v: 99 })) },
      { key: 'p3', value: encodeEvent(nul) },
      // The compact encoding: a layout version this processor does not know, and cut bytes.
      { key: 'p4', value: Buffer.from([0x02, 0x09, ...encodeEvent(data.events[2]!).subarray(2)]) },
      { key: 'p5', value: encodeEvent(data.events[3]!).subarray(0, 40) },
    ];
    // Poison in the middle of a sub-batch: the rejected row is isolated by bisection.
    await producer.send({
      topic,
      acks: -1,
      messages: [...events.slice(0, 60), ...poison, ...events.slice(60)],
    });

    await waitFor('120 events stored', async () =>
      (await countEvents(deps.db, websites)) === 120 ? true : undefined,
    );
    const { stdout } = await waitFor('5 dead letters', async () => {
      const out = await cli('inspect', '--limit', '10');
      return out.stdout.trim().split('\n').filter(Boolean).length === 5 ? out : undefined;
    });
    const letters = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; headers: Record<string, string> });
    expect(
      letters
        .map((l) => [l.key, l.headers['x-goalpost-dlq-reason']])
        .sort(([a], [b]) => a!.localeCompare(b!)),
    ).toEqual([
      ['p1', 'undecodable'],
      ['p2', 'schema_version'],
      ['p3', 'db_rejected'],
      ['p4', 'schema_version'],
      ['p5', 'undecodable'],
    ]);
    for (const l of letters) {
      expect(l.headers['x-goalpost-source-topic']).toBe(topic);
      expect(l.headers['x-goalpost-source-partition']).toBe('0');
      expect(l.headers['x-goalpost-source-offset']).toMatch(/^\d+$/);
    }
    // The good events converted exactly as the oracle says.
    const w = websites[0]!;
    const { rows } = await deps.db.query<{ n: number }>(
      'test.count',
      'SELECT count(*)::int AS n FROM conversions WHERE goal_id = $1',
      [goals.get(w)!.checkout],
    );
    expect(rows[0]!.n).toBe(data.oracle.get(w)!.checkout.conversions);
    // The processor's metrics count them: messages consumed, dead letters by reason, lag.
    const metrics = await processor!.metrics.registry.metrics();
    for (const [reason, n] of [
      ['undecodable', 2],
      ['schema_version', 2],
      ['db_rejected', 1],
    ] as const) {
      expect(metrics).toContain(`goalpost_processor_dead_letters_total{reason="${reason}"} ${n}`);
    }
    expect(metrics).toMatch(/^goalpost_processor_events_consumed_total 125$/m);
    expect(metrics).toMatch(
      new RegExp(`goalpost_processor_consumer_lag\\{topic="${topic}",partition="0"\\} 0`),
    );
    expect(metrics).toContain('goalpost_processor_transaction_seconds_count');
  });

  it('replays dead letters once; those that fail again come back as new letters', async () => {
    const first = await cli('replay');
    expect(first.stdout).toContain('replayed 5 dead letter(s)');
    // They are still poison, so the processor dead-letters them again (5 more letters).
    await waitFor('10 dead letters', async () => {
      const out = await cli('inspect', '--limit', '100');
      return out.stdout.trim().split('\n').length === 10 ? true : undefined;
    });
    const second = await cli('replay');
    // Only the 5 new letters: the first 5 were replayed already.
    expect(second.stdout).toContain('replayed 5 dead letter(s)');
  });
});
