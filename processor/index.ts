import { loadConfigOrExit } from '../shared/config/load-config.js';
import { migrate } from '../shared/db/migrate.js';
import { createDb } from '../shared/db/pool.js';
import { GoalCache } from '../shared/goals/goal-cache.js';
import { createKafka, ensureTopics } from '../shared/kafka/kafka.js';
import { createLogger } from '../shared/logger.js';
import { handleSignals } from '../shared/process/lifecycle.js';
import { createRedis } from '../shared/redis/redis.js';
import { ProcessorConfigSchema } from './config.js';
import { runEventsConsumer } from './events.consumer.js';

const config = loadConfigOrExit('processor', ProcessorConfigSchema);
const logger = createLogger('processor', config.LOG_LEVEL);
const db = createDb(
  {
    url: config.DATABASE_URL,
    max: config.DATABASE_POOL_MAX,
    applicationName: 'goalpost-processor',
  },
  logger,
);
const redis = createRedis(config.REDIS_URL, logger, { name: 'processor' });
const kafka = createKafka(
  { brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-processor` },
  logger,
);

await migrate(db, logger);
const admin = kafka.admin();
await admin.connect();
await ensureTopics(admin, [
  { topic: config.KAFKA_EVENTS_TOPIC, partitions: config.KAFKA_TOPIC_PARTITIONS },
  { topic: config.KAFKA_DLQ_TOPIC, partitions: 1 },
]);
await admin.disconnect();

const consumer = kafka.consumer({
  groupId: config.KAFKA_CONSUMER_GROUP,
  allowAutoTopicCreation: false,
});
const producer = kafka.producer({ allowAutoTopicCreation: false });
await Promise.all([consumer.connect(), producer.connect()]);

const stop = handleSignals(logger, async () => {
  // disconnect() waits for the running batch to finish; its offsets are committed only if
  // its transaction committed.
  await consumer.disconnect();
  await producer.disconnect();
  redis.disconnect();
  await db.end();
});
consumer.on(consumer.events.CRASH, (e) => {
  if (!e.payload.restart) {
    logger.error({ err: e.payload.error }, 'consumer_crashed');
    process.exitCode = 1;
    void stop();
  }
});

await runEventsConsumer({
  consumer,
  producer,
  db,
  goals: new GoalCache({ db, redis, logger }, config.GOAL_CACHE_RECHECK_MS),
  logger,
  topic: config.KAFKA_EVENTS_TOPIC,
  dlqTopic: config.KAFKA_DLQ_TOPIC,
  subBatchSize: config.PROCESSOR_SUB_BATCH_SIZE,
  partitionsConcurrently: config.PROCESSOR_PARTITIONS_CONCURRENTLY,
});
logger.info(
  { topic: config.KAFKA_EVENTS_TOPIC, group: config.KAFKA_CONSUMER_GROUP },
  'processor_consuming',
);
