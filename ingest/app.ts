import { installErrorHandler } from '../shared/http/error-handler.js';
import { createHttpApp, type HttpApp } from '../shared/http/http-app.js';
import type { BatchingProducer } from '../shared/kafka/batching-producer.js';
import type { Logger } from '../shared/logger.js';
import { collectRoutes } from './routes/collect.route.js';
import type { WebsiteLookup } from './website-lookup.js';

export interface IngestDeps {
  producer: BatchingProducer;
  websites: WebsiteLookup;
  logger: Logger;
  /** Reports whether the Kafka producer is connected (for /ready). */
  isReady: () => boolean;
}

export async function buildIngestApp(deps: IngestDeps): Promise<HttpApp> {
  const app = createHttpApp(deps.logger, { bodyLimit: 100 * 1024, trustProxy: false });
  installErrorHandler(app);
  app.get('/health', () => ({ ok: true }));
  app.get('/ready', async (_req, reply) =>
    deps.isReady() ? { ok: true } : reply.status(503).send({ ok: false }),
  );
  await app.register(collectRoutes, { producer: deps.producer, websites: deps.websites });
  return app;
}
