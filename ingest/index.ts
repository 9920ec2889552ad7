import { loadConfigOrExit } from '../shared/config/load-config.js';
import { createDb } from '../shared/db/pool.js';
import { defaultGeoDatabasePaths, GeoLookup } from './enrichment/geo.js';
import { BatchingProducer } from './kafka/batching.producer.js';
import { createKafka, ensureTopics, replicationOf } from '../shared/kafka/kafka.js';
import { createLogger } from '../shared/logger.js';
import { handleSignals } from '../shared/process/lifecycle.js';
import { createRedis } from '../shared/redis/redis.js';
import { ApiKeyLookup } from './lookups/api-key.lookup.js';
import { buildIngestApp } from './app.js';
import { IngestMetrics } from './http/ingest.metrics.js';
import { startMetricsServer } from '../shared/http/metrics-server.js';
import { IngestConfigSchema } from './config.js';
import { keyPartitioner } from './kafka/key.partitioner.js';
import { WebsiteLookup } from './lookups/website.lookup.js';
import { OriginIndex } from './lookups/origin.index.js';

const config = loadConfigOrExit('ingest', IngestConfigSchema);
const logger = createLogger('ingest', config.LOG_LEVEL);

const geoSetting = config.INGEST_GEOIP_DATABASES.trim();
const geoPaths =
  geoSetting === 'off'
    ? []
    : geoSetting === ''
      ? defaultGeoDatabasePaths()
      : geoSetting.split(',').map((p) => p.trim());
const geo = geoPaths.length > 0 ? GeoLookup.open(geoPaths) : GeoLookup.disabled();
logger.info({ geoip: geoPaths }, 'ingest_geoip_loaded');

const db = createDb(
  { url: config.DATABASE_URL, max: config.DATABASE_POOL_MAX, applicationName: 'goalpost-ingest' },
  logger,
);
// Auto-pipelining: concurrent requests' session scripts share one write to Redis.
const redis = createRedis(config.REDIS_URL, logger, { name: 'ingest', enableAutoPipelining: true });
const kafka = createKafka(
  { brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-ingest` },
  logger,
);

const admin = kafka.admin();
await admin.connect();
await ensureTopics(
  admin,
  [{ topic: config.KAFKA_EVENTS_TOPIC, partitions: config.KAFKA_TOPIC_PARTITIONS }],
  replicationOf(config),
);
await admin.disconnect();

// Same partitions as kafkajs's default, without its BigInt murmur2 (see key-partitioner.ts).
const kafkaProducer = kafka.producer({
  allowAutoTopicCreation: false,
  idempotent: false,
  createPartitioner: keyPartitioner,
});
let connected = false;
kafkaProducer.on(kafkaProducer.events.CONNECT, () => (connected = true));
kafkaProducer.on(kafkaProducer.events.DISCONNECT, () => (connected = false));
await kafkaProducer.connect();

const producer = new BatchingProducer(kafkaProducer, {
  topic: config.KAFKA_EVENTS_TOPIC,
  lingerMs: config.INGEST_LINGER_MS,
  maxBatchMessages: config.INGEST_MAX_BATCH_MESSAGES,
  timeoutMs: config.INGEST_PRODUCE_TIMEOUT_MS,
  maxInFlight: config.INGEST_PRODUCE_MAX_IN_FLIGHT,
});
const metrics = new IngestMetrics();
const origins = new OriginIndex(db, logger);
await origins.start();
const app = await buildIngestApp({
  metrics,
  producer,
  websites: new WebsiteLookup(db, { logger }),
  origins,
  apiKeys: new ApiKeyLookup(db, { logger }),
  redis,
  geo,
  logger,
  isReady: () => connected,
  options: {
    trustedProxies: config.INGEST_TRUSTED_PROXIES.split(',')
      .map((p) => p.trim())
      .filter((p) => p !== ''),
    produceTimeoutMs: config.INGEST_PRODUCE_TIMEOUT_MS,
    ratePerInstancePerSecond: config.INGEST_RATE_LIMIT_INSTANCE_PER_SECOND,
    ratePerIpPerMinute: config.INGEST_RATE_LIMIT_IP_PER_MINUTE,
    ratePerWebsitePerMinute: config.INGEST_RATE_LIMIT_WEBSITE_PER_MINUTE,
    botRateHeuristic: config.INGEST_BOT_RATE_HEURISTIC,
    botRateThresholdPerMinute: config.INGEST_BOT_RATE_THRESHOLD_PER_MINUTE,
    shedMaxInFlight: config.INGEST_SHED_MAX_IN_FLIGHT,
    shedMaxEventLoopDelayMs: config.INGEST_SHED_MAX_EVENT_LOOP_DELAY_MS,
    eventEncoding: config.INGEST_EVENT_ENCODING,
  },
});

const metricsServer = await startMetricsServer(
  metrics.registry,
  { host: config.METRICS_HOST, port: config.METRICS_PORT },
  logger,
);

handleSignals(logger, async () => {
  await app.close(); // stop intake; in-flight requests finish
  await metricsServer.close();
  origins.stop();
  await producer.drain();
  await kafkaProducer.disconnect();
  redis.disconnect();
  await db.end();
});

const address = await app.listen({ host: config.INGEST_HOST, port: config.INGEST_PORT });
logger.info({ url: address }, 'ingest_listening');
