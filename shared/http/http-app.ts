import Fastify, { LogController, type FastifyBaseLogger, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '../logger.js';

/** Creates a Fastify app with the TypeBox type provider and the process logger. */
export function createHttpApp(logger: Logger, opts: Omit<FastifyServerOptions, 'logger'> = {}) {
  // Typed as Fastify's logger interface so the app has Fastify's default logger type.
  const loggerInstance: FastifyBaseLogger = logger;
  return Fastify({
    ...opts,
    loggerInstance,
    // Per-request logs would dominate at collect volumes; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<TypeBoxTypeProvider>();
}

export type HttpApp = ReturnType<typeof createHttpApp>;
