/**
 * The benchmarks' baseline server: Fastify with the services' settings (createHttpApp) and a
 * `POST /api/collect` route that answers 202 without doing anything, so what it costs is the
 * HTTP work alone. Run from the build as `node dist/bench/bare-server.js PORT`; SIGTERM stops it.
 */
import { createHttpApp } from '../shared/http/http-app.js';
import { createLogger } from '../shared/logger.js';

const app = createHttpApp(createLogger('bench-bare', 'warn'), { bodyLimit: 100 * 1024 });
app.post('/api/collect', async (_req, reply) => reply.status(202).send({ ok: true }));
await app.listen({ host: '127.0.0.1', port: Number(process.argv[2]) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
