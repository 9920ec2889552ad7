import { randomBytes } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyRequest } from 'fastify';
import type { Db } from '../shared/db/pool.js';
import {
  defaultErrorFormatter,
  installErrorHandler,
  rybbitErrorDialect,
  rybbitGoalBodyErrorDialect,
} from '../shared/http/error-handler.js';
import { createHttpApp, type HttpApp } from '../shared/http/http-app.js';
import { typeBoxValidatorCompiler } from './http/validator.js';
import type { Logger } from '../shared/logger.js';
import type { Redis } from '../shared/redis/redis.js';
import type { BackfillQueue } from '../shared/jobs/queues.js';
import { GoalService } from './goals/goal.service.js';
import { rybbitGoalRoutes } from './routes/rybbit-goals.route.js';
import { liveRoutes } from './routes/live.route.js';
import { rybbitStatsRoutes } from './routes/rybbit-stats.route.js';
import { PREVIEW_TIMEOUT_MS } from './stats/rybbit-stats.service.js';
import { FunnelService } from './funnels/funnel.service.js';
import { rybbitFunnelRoutes } from './routes/rybbit-funnels.route.js';
import { sparklyticsFunnelRoutes } from './routes/sparklytics-funnels.route.js';
import { sparklyticsGoalRoutes } from './routes/sparklytics-goals.route.js';
import { statsRoutes } from './routes/stats.route.js';
import { attributionRoutes } from './routes/attribution.route.js';
import { websiteRoutes } from './routes/websites.route.js';
import { loadTimeZones } from './stats/date-range.js';
import { refuseNul } from './http/no-nul.js';
import { ApiMetrics } from './http/api.metrics.js';
import { ApiGuards, DEFAULT_API_LIMITS, type ApiLimits } from './http/guards.js';
import { keyRoutes } from './routes/keys.route.js';
import { KeyService } from './keys/key.service.js';
import { dashboardRoutes, DEFAULT_DASHBOARD_DIR } from './routes/dashboard.route.js';

export interface ApiDeps {
  db: Db;
  /** Fail-fast client (goal cache invalidation). */
  redis: Redis;
  /**
   * Producer for backfill jobs, built once at start-up with its own connection. Only tests
   * that never write goals leave it out; a goal write without it logs `backfill_enqueue_failed`
   * and its backfill stays `queued` (re-enqueued at the next start-up).
   */
  backfillQueue?: BackfillQueue;
  logger: Logger;
  bootstrapApiKey: string | null;
  /**
   * HMAC secret of the live-stream tokens. Absent → a random per-process secret (tokens then
   * only work against the instance that issued them).
   */
  liveTokenSecret?: string;
  /** Lifetime of live tokens (default 5 minutes). */
  liveTokenTtlMs?: number;
  /** Live stream heartbeat and key re-check interval (default 15 s). */
  liveHeartbeatMs?: number;
  /** How long a goal write waits for Redis after its commit before logging and moving on. */
  handoffTimeoutMs?: number;
  /** Prometheus metrics, served by index.ts on their own listener; default: a fresh set. */
  metrics?: ApiMetrics;
  /** Abuse limits (defaults: DEFAULT_API_LIMITS). */
  limits?: Partial<ApiLimits>;
  /** `trustProxy` for X-Forwarded-For: the trusted proxies' IPs/CIDRs (default none). */
  trustedProxies?: string[];
  /** Query time a goal preview may take (default PREVIEW_TIMEOUT_MS, 10 s). */
  previewTimeoutMs?: number;
  /** The built dashboard to serve at `/app/` (default {@link DEFAULT_DASHBOARD_DIR}). */
  dashboardDir?: string;
}

/** Routes that answer in the Rybbit dialect (`{error, details?}`, validation → 400). */
const RYBBIT_PREFIXES = ['/api/goals', '/api/funnels', '/api/sites/'];
const isRybbitUrl = (url: string) =>
  RYBBIT_PREFIXES.some((p) => url === p || url.startsWith(p.endsWith('/') ? p : `${p}/`));

/** A Rybbit goal create, update or preview: the routes whose body is a goal. */
const isRybbitGoalBody = (req: FastifyRequest) =>
  (req.method === 'POST' || req.method === 'PUT') &&
  /\/goals(\/|$)/.test(req.routeOptions.url ?? '');

/** Builds the API app from injected clients (tests build it directly). */
export async function buildApiApp(deps: ApiDeps): Promise<HttpApp> {
  // Time zones are validated against the database's own list (api/stats/date-range.ts).
  await loadTimeZones(deps.db);
  const trusted = deps.trustedProxies ?? [];
  const app = createHttpApp(deps.logger, { trustProxy: trusted.length > 0 ? trusted : false });
  // TypeBox validates bodies as sent (no type coercion); see api/http/validator.ts.
  app.setValidatorCompiler(typeBoxValidatorCompiler);
  installErrorHandler(app, (req) =>
    !isRybbitUrl(req.url)
      ? defaultErrorFormatter
      : isRybbitGoalBody(req)
        ? rybbitGoalBodyErrorDialect
        : rybbitErrorDialect,
  );
  const metrics = deps.metrics ?? new ApiMetrics();
  app.addHook('onResponse', (req, reply, done) => {
    metrics.requestSeconds.observe(
      {
        method: req.method,
        route: req.routeOptions.url ?? 'unknown',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
  // Runs before every route's own validation (after authentication, which is onRequest).
  app.addHook('preValidation', async (req) => refuseNul(req));
  app.decorateRequest('principal', null);
  app.decorateRequest('website', null);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Goalpost API',
        version: '0.1.0',
        description:
          'Goal management (Sparklytics and Rybbit dialects) and goal statistics. Every route needs `Authorization: Bearer <API key>`.',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  app.get('/health', { schema: { hide: true } }, () => ({ ok: true }));
  // Ready when the database answers: every statistics and goal route needs it (Redis is
  // optional, see the README), so a replica cut off from it leaves the load balancer.
  app.get('/ready', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await deps.db.query('api.ready', 'SELECT 1');
      return { ok: true };
    } catch {
      return reply.status(503).send({ ok: false });
    }
  });

  // Goal and funnel writes hand off to Redis (cache invalidation, backfill jobs) alike.
  const writes = {
    db: deps.db,
    redis: deps.redis,
    backfillQueue: deps.backfillQueue ?? null,
    logger: deps.logger,
    handoffTimeoutMs: deps.handoffTimeoutMs ?? 2_000,
  };
  const goals = new GoalService(writes);
  const auth = {
    db: deps.db,
    bootstrapApiKey: deps.bootstrapApiKey,
    guards: new ApiGuards({ ...DEFAULT_API_LIMITS, ...deps.limits }),
  };
  await app.register(websiteRoutes, { ...auth, redis: deps.redis, logger: deps.logger });
  await app.register(sparklyticsGoalRoutes, { ...auth, goals });
  await app.register(rybbitGoalRoutes, { ...auth, goals });
  const funnels = new FunnelService(writes);
  await app.register(sparklyticsFunnelRoutes, { ...auth, funnels });
  await app.register(rybbitFunnelRoutes, { ...auth, funnels });
  await app.register(statsRoutes, auth);
  await app.register(attributionRoutes, auth);
  await app.register(rybbitStatsRoutes, {
    ...auth,
    previewTimeoutMs: deps.previewTimeoutMs ?? PREVIEW_TIMEOUT_MS,
  });
  await app.register(liveRoutes, {
    ...auth,
    redis: deps.redis,
    logger: deps.logger,
    liveTokenSecret: deps.liveTokenSecret ?? randomBytes(32).toString('hex'),
    ...(deps.liveTokenTtlMs !== undefined ? { liveTokenTtlMs: deps.liveTokenTtlMs } : {}),
    ...(deps.liveHeartbeatMs !== undefined ? { heartbeatMs: deps.liveHeartbeatMs } : {}),
  });
  await app.register(keyRoutes, {
    ...auth,
    keys: new KeyService({ db: deps.db, logger: deps.logger }),
  });
  await app.register(dashboardRoutes, { dir: deps.dashboardDir ?? DEFAULT_DASHBOARD_DIR });
  return app;
}
