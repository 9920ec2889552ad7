import { Type, type Static } from '@sinclair/typebox';
import { DatabaseEnv, KafkaEnv, LogEnv } from '../shared/config/env.js';

export const IngestConfigSchema = Type.Object({
  ...LogEnv,
  ...DatabaseEnv,
  ...KafkaEnv,
  INGEST_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  INGEST_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3100 }),
  /** How long a produce waits for concurrent requests to share it. */
  INGEST_LINGER_MS: Type.Integer({ minimum: 0, maximum: 100, default: 2 }),
  INGEST_MAX_BATCH_MESSAGES: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
  /** Kafka must acknowledge within this time, else the request gets 503. */
  INGEST_PRODUCE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000 }),
});
export type IngestConfig = Static<typeof IngestConfigSchema>;
