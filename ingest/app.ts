import type { FastifyRequest } from 'fastify';
import { GeoLookup } from './enrichment/geo.js';
import { ClientError, OverloadedError, TransientError } from '../shared/errors/errors.js';
import {
  defaultErrorFormatter,
  installErrorHandler,
  rybbitTrackErrorFormatter,
} from '../shared/http/error-handler.js';
import { createHttpApp, type HttpApp } from '../shared/http/http-app.js';
import type { BatchingProducer } from './kafka/batching.producer.js';
import type { EventEncoding } from '../shared/events/event-message.js';
import type { Logger } from '../shared/logger.js';
import type { Redis } from '../shared/redis/redis.js';
import { SessionStore } from './sessions/session.store.js';
import { DailySalts } from './sessions/visitor-id.js';
import type { ApiKeySource } from './lookups/api-key.lookup.js';
import { installCors } from './http/cors.js';
import type { OriginSource } from './lookups/origin.index.js';
import type { IntakeDeps, IntakeLimits, WebsiteSource } from './intake/intake.js';
import { IngestMetrics } from './http/ingest.metrics.js';
import { LoadShedder } from './http/load-shedder.js';
import { RateWindow } from '../shared/http/rate-window.js';
import { SessionBatcher } from './sessions/session.batcher.js';
import { collectRoutes } from './routes/collect.route.js';
import { scriptRoutes } from './routes/script.route.js';
import { trackingConfigRoutes } from './routes/tracking-config.route.js';
import { trackRoutes } from './routes/track.route.js';

export interface IngestOptions extends IntakeLimits {
  /** `trustProxy` for X-Forwarded-For: false, or the trusted proxies' IPs/CIDRs. */
  trustedProxies: string[];
  /** Kafka produce timeout; event_id claims outlive it. */
  produceTimeoutMs: number;
  /** Redis key prefix (tests isolate themselves with their own). */
  redisKeyPrefix: string;
  /** Collect requests in flight above which new ones are refused with 503 (see LoadShedder). */
  shedMaxInFlight: number;
  /** Event-loop delay (ms) above which collect requests are refused with 503. */
  shedMaxEventLoopDelayMs: number;
  /** How events are written to Kafka. */
  eventEncoding: EventEncoding;
}

export const DEFAULT_INGEST_OPTIONS: IngestOptions = {
  trustedProxies: [],
  produceTimeoutMs: 5_000,
  redisKeyPrefix: 'gp:',
  ratePerInstancePerSecond: 100_000,
  ratePerIpPerMinute: 1200,
  ratePerWebsitePerMinute: 600_000,
  botRateHeuristic: true,
  botRateThresholdPerMinute: 120,
  shedMaxInFlight: 2_000,
  shedMaxEventLoopDelayMs: 500,
  eventEncoding: 'binary',
};

export interface IngestDeps {
  producer: BatchingProducer;
  websites: WebsiteSource;
  /** The origins some website lists (CORS preflights); OriginIndex in production. */
  origins: OriginSource;
  /**
   * Verifies Rybbit `api_key`s (ApiKeyLookup); default: none, so every body carrying a key is
   * refused with 403.
   */
  apiKeys?: ApiKeySource;
  /** Sessions, event_id claims and daily salts live here; when it is down, collect answers 503. */
  redis: Redis;
  logger: Logger;
  /** Reports whether the Kafka producer is connected (for /ready). */
  isReady: () => boolean;
  /** Prometheus metrics, served by index.ts on their own listener; default: a fresh set. */
  metrics?: IngestMetrics;
  /** GeoIP lookups; default: none (index.ts opens the configured databases). */
  geo?: GeoLookup;
  options?: Partial<IngestOptions>;
}

const TRACK_URL = '/api/track';
const isTrack = (req: FastifyRequest) => req.routeOptions.url === TRACK_URL;
const COLLECT_URLS = new Set(['/api/collect', '/e', TRACK_URL]);
const isCollect = (req: FastifyRequest) => COLLECT_URLS.has(req.routeOptions.url ?? '');

/** Builds the ingest app from injected clients (tests build it directly). */
export async function buildIngestApp(deps: IngestDeps): Promise<HttpApp> {
  const opts = { ...DEFAULT_INGEST_OPTIONS, ...deps.options };
  const app = createHttpApp(deps.logger, {
    bodyLimit: 100 * 1024,
    trustProxy: opts.trustedProxies.length > 0 ? opts.trustedProxies : false,
  });
  const metrics = deps.metrics ?? new IngestMetrics();
  installErrorHandler(app, (req) =>
    isTrack(req) ? rybbitTrackErrorFormatter : defaultErrorFormatter,
  );

  // Trackers post JSON as text/plain (CORS-safelisted: a beacon needs no preflight).
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string) as unknown);
    } catch (err) {
      (err as Error & { statusCode: number }).statusCode = 400;
      done(err as Error, undefined);
    }
  });

  const shedder = new LoadShedder({
    maxInFlight: opts.shedMaxInFlight,
    maxEventLoopDelayMs: opts.shedMaxEventLoopDelayMs,
  });
  shedder.start();
  const unobserve = metrics.observeShedder(shedder);
  app.addHook('onClose', (_app, done) => {
    shedder.stop();
    unobserve();
    done();
  });

  // Callback-style hooks on the per-request path: an async hook costs a promise and a
  // microtask hop per request, and these never wait for anything.
  app.addHook('onRequest', (req, _reply, done) => {
    if (!isCollect(req)) return done();
    try {
      shedder.admit(req);
      done();
    } catch (err) {
      done(err as Error);
    }
  });
  app.addHook('onRequestAbort', (req, done) => {
    shedder.release(req);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    shedder.release(req);
    const route = req.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ route, status: reply.statusCode });
    metrics.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
    done();
  });
  app.addHook('onError', async (req, _reply, err) => {
    const url = req.routeOptions.url;
    if (url !== '/api/collect' && url !== '/e' && url !== TRACK_URL) return;
    const n = Array.isArray(req.body) ? req.body.length : 1;
    metrics.refused(refusalReason(err), n);
  });

  app.get('/health', () => ({ ok: true }));
  app.get('/ready', async (_req, reply) =>
    deps.isReady() && deps.redis.status === 'ready'
      ? { ok: true }
      : reply.status(503).send({ ok: false }),
  );

  const sessions = new SessionStore(deps.redis, {
    keyPrefix: opts.redisKeyPrefix,
    pendingTtlMs: opts.produceTimeoutMs + 10_000,
  });
  const intakeDeps: IntakeDeps = {
    producer: deps.producer,
    websites: deps.websites,
    apiKeys: deps.apiKeys ?? null,
    sessions,
    sessionBatcher: new SessionBatcher(sessions),
    salts: new DailySalts(deps.redis, `${opts.redisKeyPrefix}salt:`),
    geo: deps.geo ?? GeoLookup.disabled(),
    metrics,
    logger: deps.logger,
    instanceWindow: new RateWindow(1_000),
    ipWindow: new RateWindow(),
    siteWindow: new RateWindow(),
    limits: opts,
    encoding: opts.eventEncoding,
  };
  installCors(app, deps.origins);
  await app.register(collectRoutes, intakeDeps);
  await app.register(trackRoutes, intakeDeps);
  await app.register(scriptRoutes);
  await app.register(trackingConfigRoutes, { websites: deps.websites });
  return app;
}

function refusalReason(err: Error): string {
  if (err instanceof ClientError) return err.code;
  if (err instanceof OverloadedError) return 'overloaded';
  if (err instanceof TransientError) {
    const m = /^(redis|kafka|database)/i.exec(err.message);
    return m ? `${m[1]!.toLowerCase()}_unavailable` : 'unavailable';
  }
  const code = (err as { code?: string }).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'payload_too_large';
  return 'bad_request';
}
