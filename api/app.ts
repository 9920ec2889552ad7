import type { Db } from '../shared/db/pool.js';
import { installErrorHandler } from '../shared/http/error-handler.js';
import { createHttpApp, type HttpApp } from '../shared/http/http-app.js';
import type { Logger } from '../shared/logger.js';
import type { Redis } from '../shared/redis/redis.js';
import { statsRoutes } from './routes/stats.route.js';

export interface ApiDeps {
  db: Db;
  redis: Redis;
  logger: Logger;
  bootstrapApiKey: string | null;
}

/** Builds the API app from injected clients (tests build it directly). */
export async function buildApiApp(deps: ApiDeps): Promise<HttpApp> {
  const app = createHttpApp(deps.logger, {
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  installErrorHandler(app);
  app.get('/health', () => ({ ok: true }));
  await app.register(statsRoutes, { db: deps.db, bootstrapApiKey: deps.bootstrapApiKey });
  return app;
}
