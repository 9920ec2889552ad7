import { Type, type Static } from '@sinclair/typebox';
import { EVENT_ENCODINGS } from '../shared/events/event-message.js';
import { DatabaseEnv, KafkaEnv, LogEnv, metricsEnv, RedisEnv } from '../shared/config/env.js';

export const IngestConfigSchema = Type.Object({
  ...LogEnv,
  ...DatabaseEnv,
  ...KafkaEnv,
  ...RedisEnv,
  ...metricsEnv(9101),
  INGEST_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  INGEST_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3100 }),
  /** How long a produce waits for concurrent requests to share it. */
  INGEST_LINGER_MS: Type.Integer({ minimum: 0, maximum: 100, default: 2 }),
  INGEST_MAX_BATCH_MESSAGES: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
  /** Produce requests waiting for Kafka at once; more messages queue and go together. */
  INGEST_PRODUCE_MAX_IN_FLIGHT: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
  /** Kafka must acknowledge within this time, else the request gets 503. */
  INGEST_PRODUCE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000 }),
  /**
   * Peers whose X-Forwarded-For is believed: comma-separated IPs or CIDRs (also `loopback`,
   * `linklocal`, `uniquelocal`). Empty: the socket's peer address is the client.
   */
  INGEST_TRUSTED_PROXIES: Type.String({ default: '' }),
  /**
   * GeoIP databases (.mmdb, MaxMind format), comma-separated: empty = the bundled DB-IP City
   * Lite pair (IPv4 + IPv6), `off` = no geo, else the operator's GeoLite2/DB-IP file(s).
   */
  INGEST_GEOIP_DATABASES: Type.String({ default: '' }),
  /** Events per second this instance accepts in all (above what the benchmarks offer), else 429. */
  INGEST_RATE_LIMIT_INSTANCE_PER_SECOND: Type.Integer({ minimum: 1, default: 100_000 }),
  /** Events per minute one client address (IPv6: one /64) may send, per instance, else 429. */
  INGEST_RATE_LIMIT_IP_PER_MINUTE: Type.Integer({ minimum: 1, default: 1200 }),
  /** Events per minute one website may receive (per instance), else 429. */
  INGEST_RATE_LIMIT_WEBSITE_PER_MINUTE: Type.Integer({ minimum: 1, default: 600_000 }),
  /**
   * Load shedding: collect requests in flight (waiting for Redis or Kafka) above which new
   * ones are answered 503 with Retry-After instead of queueing.
   */
  INGEST_SHED_MAX_IN_FLIGHT: Type.Integer({ minimum: 1, default: 2000 }),
  /** Load shedding: event-loop delay (ms) above which collect requests are answered 503. */
  INGEST_SHED_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 1, default: 500 }),
  /**
   * How events are written to Kafka: `binary` (compact) or `json` (what versions before it
   * wrote). Processors read both: upgrade them first, then ingest (see the README).
   */
  INGEST_EVENT_ENCODING: Type.Union(
    EVENT_ENCODINGS.map((e) => Type.Literal(e)),
    { default: 'binary' },
  ),
  /** Whether a high event rate from one IP raises the bot score. */
  INGEST_BOT_RATE_HEURISTIC: Type.Boolean({ default: true }),
  /** Events per minute from one IP above which the rate heuristic fires. */
  INGEST_BOT_RATE_THRESHOLD_PER_MINUTE: Type.Integer({ minimum: 1, default: 120 }),
});
export type IngestConfig = Static<typeof IngestConfigSchema>;
