import { loadConfigOrExit } from '../shared/config/load-config.js';
import { migrateOrExit } from '../shared/db/migrate.js';
import { createDb } from '../shared/db/pool.js';
import { GoalCache } from './goals/goal.cache.js';
import { createKafka, ensureTopics, replicationOf } from '../shared/kafka/kafka.js';
import { createLogger } from '../shared/logger.js';
import { handleSignals } from '../shared/process/lifecycle.js';
import { createRedis } from '../shared/redis/redis.js';
import { startBackfillWorker } from './jobs/backfill.worker.js';
import { catchUpFunnelWalks } from './jobs/funnel-walks.js';
import { ProcessorConfigSchema } from './config.js';
import { runEventsConsumer, type EventsConsumer } from './consumer/events.consumer.js';
import { ProcessorMetrics } from './consumer/processor.metrics.js';
import { startMetricsServer } from '../shared/http/metrics-server.js';
import { startRetention } from './jobs/retention.worker.js';
import { Partitioners } from 'kafkajs';

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
// BullMQ workers block on their connection and must never give up on a command.
const bullRedis = createRedis(config.REDIS_URL, logger, {
  name: 'processor-jobs',
  forBullMQ: true,
});
const kafka = createKafka(
  { brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-processor` },
  logger,
);

await migrateOrExit(db, logger);
const admin = kafka.admin();
await admin.connect();
await ensureTopics(
  admin,
  [
    { topic: config.KAFKA_EVENTS_TOPIC, partitions: config.KAFKA_TOPIC_PARTITIONS },
    { topic: config.KAFKA_DLQ_TOPIC, partitions: 1 },
  ],
  replicationOf(config),
);
await admin.disconnect();

const consumer = kafka.consumer({
  groupId: config.KAFKA_CONSUMER_GROUP,
  allowAutoTopicCreation: false,
  sessionTimeout: config.KAFKA_SESSION_TIMEOUT_MS,
  maxBytesPerPartition: config.PROCESSOR_FETCH_MAX_BYTES_PER_PARTITION,
  maxBytes: 8 * config.PROCESSOR_FETCH_MAX_BYTES_PER_PARTITION,
  heartbeatInterval: Math.min(3_000, Math.floor(config.KAFKA_SESSION_TIMEOUT_MS / 3)),
});
const producer = kafka.producer({
  // kafkajs's current default partitioner, chosen explicitly (silences its v2 notice).
  createPartitioner: Partitioners.DefaultPartitioner,
  allowAutoTopicCreation: false,
});
await Promise.all([consumer.connect(), producer.connect()]);

const backfill = startBackfillWorker({
  db,
  logger,
  connection: bullRedis,
  prefix: config.BULLMQ_PREFIX,
  concurrency: config.BACKFILL_CONCURRENCY,
  sliceTargetMs: config.BACKFILL_SLICE_TARGET_MS,
  pauseRatio: config.BACKFILL_PAUSE_RATIO,
  settleMs: 2 * config.GOAL_CACHE_RECHECK_MS + 2_000,
  tailMarginMs: 60_000,
});
// Funnels whose stored walks are behind their steps are rebuilt in the background.
catchUpFunnelWalks({
  db,
  logger,
  sliceTargetMs: config.BACKFILL_SLICE_TARGET_MS,
  pauseRatio: config.BACKFILL_PAUSE_RATIO,
}).catch((err: unknown) =>
  logger.warn({ err: (err as Error).message }, 'funnel_walks_catch_up_stopped'),
);
const retention = await startRetention({
  db,
  logger,
  connection: bullRedis,
  prefix: config.BULLMQ_PREFIX,
  retentionDays: config.RETENTION_DAYS,
  everyMs: config.RETENTION_EVERY_MS,
});

// Ready (the /ready probe) from the first group join until it stops or its consumer crashes
// for good: a processor still starting, or one that cannot consume, is not counted as up.
let joined = false;
let stopping = false;
const metrics = new ProcessorMetrics();
consumer.on(consumer.events.GROUP_JOIN, () => {
  joined = true;
  // Partitions this member no longer owns must not keep their last lag: summed over the
  // group, the gauge would count them twice. Owned ones are set again at their next commit.
  metrics.lag.reset();
});
const metricsServer = await startMetricsServer(
  metrics.registry,
  { host: config.METRICS_HOST, port: config.METRICS_PORT, ready: () => joined && !stopping },
  logger,
);

let events: EventsConsumer | null = null;
const stop = handleSignals(logger, async () => {
  stopping = true;
  // stop() waits for the running batch to finish (its sub-batch commits); the offsets that
  // still wait for the WAL flush are committed before the processor leaves the group, so the
  // next owner does not redo them. A backfill may run for long: its worker closes without
  // waiting; the interrupted job is picked up again as stalled and redone from the start
  // (each slice is one idempotent transaction, so the partial work is harmless).
  await consumer.stop();
  await events?.drain();
  await consumer.disconnect();
  await Promise.all([backfill.close(true), retention.worker.close(), retention.queue.close()]);
  await producer.disconnect();
  redis.disconnect();
  bullRedis.disconnect();
  await db.end();
  await metricsServer.close();
});
consumer.on(consumer.events.CRASH, (e) => {
  if (!e.payload.restart) {
    logger.error({ err: e.payload.error }, 'consumer_crashed');
    process.exitCode = 1;
    void stop();
  }
});

events = await runEventsConsumer({
  consumer,
  producer,
  db,
  goals: new GoalCache({ db, redis, logger }, config.GOAL_CACHE_RECHECK_MS),
  live: redis,
  logger,
  topic: config.KAFKA_EVENTS_TOPIC,
  dlqTopic: config.KAFKA_DLQ_TOPIC,
  subBatchSize: config.PROCESSOR_SUB_BATCH_SIZE,
  partitionsConcurrently: config.PROCESSOR_PARTITIONS_CONCURRENTLY,
  metrics,
  asyncCommit: config.PROCESSOR_ASYNC_COMMIT,
  copy: config.PROCESSOR_COPY,
});
logger.info(
  { topic: config.KAFKA_EVENTS_TOPIC, group: config.KAFKA_CONSUMER_GROUP },
  'processor_consuming',
);
