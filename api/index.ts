import { loadConfigOrExit } from '../shared/config/load-config.js';
import { migrateOrExit } from '../shared/db/migrate.js';
import { createDb } from '../shared/db/pool.js';
import { createLogger } from '../shared/logger.js';
import { handleSignals } from '../shared/process/lifecycle.js';
import { createRedis } from '../shared/redis/redis.js';
import { buildApiApp } from './app.js';
import { ApiMetrics } from './http/api.metrics.js';
import { startMetricsServer } from '../shared/http/metrics-server.js';
import { apiDbSettings, ApiConfigSchema, checkApiConfig } from './config.js';
import { createBackfillQueue } from '../shared/jobs/queues.js';
import { requeuePendingBackfills } from './goals/goal.service.js';

const config = loadConfigOrExit('api', ApiConfigSchema, checkApiConfig);
const logger = createLogger('api', config.LOG_LEVEL);
const db = createDb(
  {
    url: config.DATABASE_URL,
    max: config.DATABASE_POOL_MAX,
    applicationName: 'goalpost-api',
    settings: apiDbSettings(config.API_STATEMENT_TIMEOUT_MS),
  },
  logger,
);
const redis = createRedis(config.REDIS_URL, logger, { name: 'api' });
// The queue gets its own fail-fast connection: a producer must not block a request while
// Redis is away (see shared/jobs/queues.ts).
const queueRedis = createRedis(config.REDIS_URL, logger, { name: 'api-backfill-queue' });
const backfillQueue = createBackfillQueue(queueRedis, config.BULLMQ_PREFIX);
backfillQueue.on('error', (err) => logger.warn({ err: err.message }, 'backfill_queue_error'));

await migrateOrExit(db, logger);
// Redis may be down at start-up: goal writes still work, and the queue connects when it can.
await backfillQueue
  .waitUntilReady()
  .catch((err: Error) => logger.warn({ err: err.message }, 'backfill_queue_not_ready'));
const metrics = new ApiMetrics();
const app = await buildApiApp({
  metrics,
  db,
  redis,
  backfillQueue,
  logger,
  bootstrapApiKey: config.GOALPOST_BOOTSTRAP_API_KEY ?? null,
  handoffTimeoutMs: config.API_REDIS_HANDOFF_TIMEOUT_MS,
  liveTokenSecret: config.API_LIVE_TOKEN_SECRET,
  liveTokenTtlMs: config.API_LIVE_TOKEN_TTL_SECONDS * 1000,
  trustedProxies: config.API_TRUSTED_PROXIES.split(',')
    .map((p) => p.trim())
    .filter((p) => p !== ''),
  limits: {
    authFailuresPerMinute: config.API_AUTH_FAILURES_PER_MINUTE,
    requestsPerKeyPerMinute: config.API_RATE_LIMIT_KEY_PER_MINUTE,
    liveStreamsPerToken: config.API_LIVE_STREAMS_PER_TOKEN,
    liveStreamsPerWebsite: config.API_LIVE_STREAMS_PER_WEBSITE,
    liveStreamsPerClient: config.API_LIVE_STREAMS_PER_CLIENT,
  },
  dashboardDir: config.API_DASHBOARD_DIR === '' ? undefined : config.API_DASHBOARD_DIR,
});

const metricsServer = await startMetricsServer(
  metrics.registry,
  { host: config.METRICS_HOST, port: config.METRICS_PORT },
  logger,
);

handleSignals(logger, async () => {
  await app.close();
  await metricsServer.close();
  await backfillQueue.close().catch(() => undefined);
  queueRedis.disconnect();
  redis.disconnect();
  await db.end();
});

const address = await app.listen({ host: config.API_HOST, port: config.API_PORT });
logger.info({ url: address }, 'api_listening');

// Backfills whose job never reached Redis (it was down when the goal was written).
requeuePendingBackfills(db, backfillQueue, logger).catch((err: Error) =>
  logger.warn({ err: err.message }, 'backfill_requeue_failed'),
);
