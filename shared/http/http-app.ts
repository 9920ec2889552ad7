import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  type FastifySchema,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '../logger.js';

/** One route of an app as it was declared: method, URL pattern and its schema. */
export interface DeclaredRoute {
  method: string;
  url: string;
  schema: FastifySchema | undefined;
}

const declared = new WeakMap<FastifyInstance, DeclaredRoute[]>();

/**
 * Every route an app built by {@link createHttpApp} declared, HEAD routes Fastify adds for GET
 * included, in declaration order. Tests generate requests for each route from its own schema
 * (test/e2e/generated-input.test.ts), so a new route is covered without being listed.
 */
export function declaredRoutes(app: FastifyInstance): readonly DeclaredRoute[] {
  return declared.get(app) ?? [];
}

type FrameworkErrorHandler = (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => void;
const frameworkErrorHandlers = new WeakMap<FastifyInstance, FrameworkErrorHandler>();

/**
 * Who answers the errors Fastify raises before routing (a path it cannot decode, a parameter
 * beyond `maxParamLength`): set by installErrorHandler, so they get the app's documented body.
 */
export function setFrameworkErrorHandler(app: FastifyInstance, h: FrameworkErrorHandler): void {
  frameworkErrorHandlers.set(app, h);
}

/** Creates a Fastify app with the TypeBox type provider and the process logger. */
export function createHttpApp(
  logger: Logger,
  opts: Omit<FastifyServerOptions, 'logger'> & {
    /** See {@link CLOSE_GRACE_MS} (tests shorten it). */
    closeGraceMs?: number;
  } = {},
) {
  const { closeGraceMs = CLOSE_GRACE_MS, ...fastifyOpts } = opts;
  // Typed as Fastify's logger interface so the app has Fastify's default logger type.
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    ...fastifyOpts,
    loggerInstance,
    // Per-request logs would dominate at collect volumes; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // A path Fastify cannot decode (`%ED%A0%80`, `%FF`) or a parameter beyond maxParamLength
    // is answered by the app's own error handler, in the route's dialect, not by Fastify's
    // built-in body `{error, code, message, statusCode}`.
    frameworkErrors: (err, req, reply) => {
      const h = frameworkErrorHandlers.get(app);
      if (h) h(err, req, reply);
      else void (reply as FastifyReply).status(err.statusCode ?? 400).send({ error: err.message });
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  closeConnectionsOnClose(app, closeGraceMs);
  const routes: DeclaredRoute[] = [];
  declared.set(app, routes);
  // onRoute hooks are inherited by every plugin registered later, so this sees all routes.
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) {
      routes.push({ method, url: r.url, schema: r.schema });
    }
  });
  return app;
}

export type HttpApp = ReturnType<typeof createHttpApp>;

/** How long a closing app lets its in-flight requests finish before closing their connections. */
export const CLOSE_GRACE_MS = 10_000;

/**
 * A closing app lets its in-flight requests finish but keeps no connection open after that:
 * responses sent while closing say `Connection: close`, and connections that fall idle are
 * closed as they do (Fastify closes those idle when close() starts, not those that fall idle
 * later). Without it a client's or load balancer's pooled keep-alive connection held a rolling
 * restart up to the keep-alive timeout (72 s). Requests still unanswered after
 * {@link CLOSE_GRACE_MS} have their connections closed (a client retries; events carry ids).
 */
function closeConnectionsOnClose(app: FastifyInstance, graceMs: number): void {
  let closing = false;
  let sweeper: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    closing = true;
    sweeper = setInterval(() => app.server.closeIdleConnections(), 50).unref();
    // A request still unanswered after the grace period (a dependency that does not answer)
    // would hold the stop until the supervisor kills the process: its connection is closed.
    deadline = setTimeout(() => app.server.closeAllConnections(), graceMs).unref();
    done();
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onClose', (_app, done) => {
    clearInterval(sweeper);
    clearTimeout(deadline);
    done();
  });
}
