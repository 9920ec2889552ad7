import { Type, type Static } from '@sinclair/typebox';
import { DatabaseEnv, KafkaEnv, LogEnv, RedisEnv } from '../shared/config/env.js';

export const ProcessorConfigSchema = Type.Object({
  ...LogEnv,
  ...DatabaseEnv,
  ...KafkaEnv,
  ...RedisEnv,
  KAFKA_CONSUMER_GROUP: Type.String({ minLength: 1, default: 'goalpost-processor' }),
  KAFKA_DLQ_TOPIC: Type.String({
    pattern: '^[A-Za-z0-9._-]{1,249}$',
    default: 'goalpost.events.dlq',
  }),
  /** Messages per database transaction; heartbeats and offset commits happen between them. */
  PROCESSOR_SUB_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 50_000, default: 2000 }),
  PROCESSOR_PARTITIONS_CONCURRENTLY: Type.Integer({ minimum: 1, maximum: 64, default: 3 }),
  /** How often the in-process goal copy re-checks the Redis version (≤ 1 s to be live in 1 s). */
  GOAL_CACHE_RECHECK_MS: Type.Integer({ minimum: 50, maximum: 1000, default: 500 }),
});
export type ProcessorConfig = Static<typeof ProcessorConfigSchema>;
