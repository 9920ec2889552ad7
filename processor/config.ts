import { Type, type Static } from '@sinclair/typebox';
import {
  DatabaseEnv,
  JobsEnv,
  KafkaEnv,
  LogEnv,
  metricsEnv,
  RedisEnv,
} from '../shared/config/env.js';

export const ProcessorConfigSchema = Type.Object({
  ...LogEnv,
  ...DatabaseEnv,
  ...KafkaEnv,
  ...RedisEnv,
  ...JobsEnv,
  ...metricsEnv(9102),
  KAFKA_CONSUMER_GROUP: Type.String({ minLength: 1, default: 'goalpost-processor' }),
  KAFKA_DLQ_TOPIC: Type.String({
    pattern: '^[A-Za-z0-9._-]{1,249}$',
    default: 'goalpost.events.dlq',
  }),
  /**
   * Consumer group session timeout: how long a crashed processor's partitions stay assigned
   * to it before the group rebalances (the broker's group.min.session.timeout.ms is 6000).
   */
  KAFKA_SESSION_TIMEOUT_MS: Type.Integer({ minimum: 6000, maximum: 300_000, default: 30_000 }),
  /**
   * Bytes fetched per partition per Kafka fetch: bounds how many messages one eachBatch sees
   * (about 700 bytes per event), hence how full the sub-batches are under a backlog.
   */
  PROCESSOR_FETCH_MAX_BYTES_PER_PARTITION: Type.Integer({
    minimum: 65_536,
    maximum: 67_108_864,
    default: 1_048_576,
  }),
  /**
   * Transactions commit without waiting for the disk, and each Kafka offset is committed once
   * PostgreSQL has flushed the transaction behind it (see consumer/durable-commits.ts); false:
   * every COMMIT waits for its flush.
   */
  PROCESSOR_ASYNC_COMMIT: Type.Boolean({ default: true }),
  /**
   * Events and conversions go in with COPY, falling back to conflict-skipping inserts when a
   * replay meets rows already stored; false: the inserts only.
   */
  PROCESSOR_COPY: Type.Boolean({ default: true }),
  /** Messages per database transaction; heartbeats and offset commits happen between them. */
  PROCESSOR_SUB_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 50_000, default: 2000 }),
  PROCESSOR_PARTITIONS_CONCURRENTLY: Type.Integer({ minimum: 1, maximum: 64, default: 3 }),
  /** How often the in-process goal copy re-checks the Redis version (≤ 1 s to be live in 1 s). */
  GOAL_CACHE_RECHECK_MS: Type.Integer({ minimum: 50, maximum: 1000, default: 500 }),
  /**
   * Target duration of one backfill slice (ms): slices of event time widen or narrow to take
   * about this long, so each transaction stays short and the goal's progress moves often (at
   * most 1 s, so that progress moves at least every 2 s even when a slice overshoots).
   */
  BACKFILL_SLICE_TARGET_MS: Type.Integer({ minimum: 20, maximum: 1000, default: 400 }),
  /**
   * After each backfill slice, pause this many times its duration (0: none): a backfill then
   * takes at most 1 / (1 + ratio) of a database connection, leaving room to live processing.
   * A pause never exceeds 1 s, so progress still moves at least every 2 s.
   */
  BACKFILL_PAUSE_RATIO: Type.Number({ minimum: 0, maximum: 20, default: 0 }),
  /** Backfill jobs run at once (a long backfill must not hold up another goal's). */
  BACKFILL_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
  /** Events, conversions and sessions older than this are dropped. */
  RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 36_500, default: 400 }),
  /** How often the retention job runs. */
  RETENTION_EVERY_MS: Type.Integer({ minimum: 60_000, default: 3_600_000 }),
});
export type ProcessorConfig = Static<typeof ProcessorConfigSchema>;
