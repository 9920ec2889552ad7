import { loadConfigOrExit } from '../shared/config/load-config.js';
import { migrate } from '../shared/db/migrate.js';
import { createDb } from '../shared/db/pool.js';
import { createLogger } from '../shared/logger.js';
import { handleSignals } from '../shared/process/lifecycle.js';
import { createRedis } from '../shared/redis/redis.js';
import { buildApiApp } from './app.js';
import { ApiConfigSchema } from './config.js';

const config = loadConfigOrExit('api', ApiConfigSchema);
const logger = createLogger('api', config.LOG_LEVEL);
const db = createDb(
  { url: config.DATABASE_URL, max: config.DATABASE_POOL_MAX, applicationName: 'goalpost-api' },
  logger,
);
const redis = createRedis(config.REDIS_URL, logger, { name: 'api' });

await migrate(db, logger);
const app = await buildApiApp({
  db,
  redis,
  logger,
  bootstrapApiKey: config.GOALPOST_BOOTSTRAP_API_KEY ?? null,
});

handleSignals(logger, async () => {
  await app.close();
  redis.disconnect();
  await db.end();
});

const address = await app.listen({ host: config.API_HOST, port: config.API_PORT });
logger.info({ url: address }, 'api_listening');
