import { runEventsConsumer } from '../../processor/consumer/events.consumer.js';
import { GoalCache } from '../../processor/goals/goal.cache.js';
import { ProcessorMetrics } from '../../processor/consumer/processor.metrics.js';
import type { TestDeps } from './deps.js';
import { uniqueSuffix } from './test-env.js';

/** A running in-process processor for a test; `stop()` disconnects it. */
export interface TestProcessor {
  metrics: ProcessorMetrics;
  stop(): Promise<void>;
}

export interface TestProcessorOptions {
  name: string;
  topic: string;
  dlqTopic: string;
  /** Messages per transaction (default 500). */
  subBatchSize?: number;
  /** Partitions consumed at once (default 2). */
  partitionsConcurrently?: number;
  /** Goal cache recheck interval (default 200 ms). */
  goalRecheckMs?: number;
  /** Publish conversions to the live feed (default false). */
  live?: boolean;
  /** The consumer group (default a fresh one). */
  groupId?: string;
}

/**
 * The one fixture that runs the real processor loop (`runEventsConsumer`) in this process, with
 * its own consumer group and dead-letter producer, wired as production wires it.
 */
export async function startTestProcessor(
  deps: TestDeps,
  opts: TestProcessorOptions,
): Promise<TestProcessor> {
  const dlqProducer = deps.kafka.producer({ allowAutoTopicCreation: false });
  const consumer = deps.kafka.consumer({
    groupId: opts.groupId ?? `test-${opts.name}-${uniqueSuffix()}`,
  });
  await Promise.all([dlqProducer.connect(), consumer.connect()]);
  const metrics = new ProcessorMetrics();
  const events = await runEventsConsumer({
    metrics,
    consumer,
    producer: dlqProducer,
    db: deps.db,
    goals: new GoalCache(
      { db: deps.db, redis: deps.redis, logger: deps.logger },
      opts.goalRecheckMs ?? 200,
    ),
    ...(opts.live ? { live: deps.redis } : {}),
    logger: deps.logger,
    topic: opts.topic,
    dlqTopic: opts.dlqTopic,
    subBatchSize: opts.subBatchSize ?? 500,
    partitionsConcurrently: opts.partitionsConcurrently ?? 2,
  });
  return {
    metrics,
    async stop() {
      await consumer.stop();
      await events.drain();
      await consumer.disconnect();
      await dlqProducer.disconnect();
    },
  };
}
