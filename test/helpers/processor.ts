import { runEventsConsumer } from '../../processor/consumer/events.consumer.js';
import { GoalCache } from '../../processor/goals/goal.cache.js';
import type { TestDeps } from './deps.js';
import { uniqueSuffix } from './test-env.js';

/** A running in-process processor for an end-to-end test; `stop()` disconnects it. */
export interface TestProcessor {
  stop(): Promise<void>;
}

/**
 * Starts the real processor loop (`runEventsConsumer`) on `topic` in this process, with its
 * own consumer group and dead-letter producer, as production wires it.
 */
export async function startTestProcessor(
  deps: TestDeps,
  opts: { name: string; topic: string; dlqTopic: string },
): Promise<TestProcessor> {
  const dlqProducer = deps.kafka.producer({ allowAutoTopicCreation: false });
  const consumer = deps.kafka.consumer({ groupId: `test-${opts.name}-${uniqueSuffix()}` });
  await Promise.all([dlqProducer.connect(), consumer.connect()]);
  await runEventsConsumer({
    consumer,
    producer: dlqProducer,
    db: deps.db,
    goals: new GoalCache({ db: deps.db, redis: deps.redis, logger: deps.logger }, 200),
    logger: deps.logger,
    topic: opts.topic,
    dlqTopic: opts.dlqTopic,
    subBatchSize: 500,
    partitionsConcurrently: 2,
  });
  return {
    async stop() {
      await consumer.disconnect();
      await dlqProducer.disconnect();
    },
  };
}
