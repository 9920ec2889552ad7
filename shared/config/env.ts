import { Type } from '@sinclair/typebox';

/**
 * Config fragments shared by the services. Each service composes its own schema from these
 * (see `<service>/config.ts`). Defaults point at the local stack started by `npm run stack:up`.
 */
/**
 * Marks a config variable whose value must never be printed (keys, secrets): a configuration
 * error names the variable and says the value is hidden.
 */
export const SECRET = { secret: true } as const;

export const LogEnv = {
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
};

export const DatabaseEnv = {
  DATABASE_URL: Type.String({
    pattern: '^postgres(ql)?://',
    default: 'postgres://postgres@127.0.0.1:25432/goalpost',
  }),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
};

export const KafkaEnv = {
  KAFKA_BROKERS: Type.String({ minLength: 1, default: '127.0.0.1:29092' }),
  KAFKA_CLIENT_ID: Type.String({ minLength: 1, default: 'goalpost' }),
  KAFKA_EVENTS_TOPIC: Type.String({
    pattern: '^[A-Za-z0-9._-]{1,249}$',
    default: 'goalpost.events',
  }),
  KAFKA_TOPIC_PARTITIONS: Type.Integer({ minimum: 1, maximum: 1000, default: 6 }),
  /** Copies of each partition for topics Goalpost creates; 0: 3 on a cluster, 1 on one broker. */
  KAFKA_TOPIC_REPLICATION_FACTOR: Type.Integer({ minimum: 0, maximum: 10, default: 0 }),
  /** `min.insync.replicas` of those topics; 0: 2 when 3 or more copies are kept, else 1. */
  KAFKA_TOPIC_MIN_INSYNC_REPLICAS: Type.Integer({ minimum: 0, maximum: 10, default: 0 }),
};

/** BullMQ, shared by the API (producer) and the processor (workers). */
export const JobsEnv = {
  /** BullMQ key prefix: the API enqueues and the processor's workers listen under it. */
  BULLMQ_PREFIX: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', default: 'bull' }),
};

export const RedisEnv = {
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:26379' }),
};

/**
 * Where a service serves its Prometheus metrics: a listener of its own, loopback by default
 * (never the public port). Port 0 picks a free port (tests, several instances on one host).
 */
export const metricsEnv = (defaultPort: number) => ({
  METRICS_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: defaultPort }),
});
