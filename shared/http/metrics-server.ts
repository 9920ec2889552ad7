import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.js';

/**
 * Serves a Prometheus registry on its own listener (`GET /metrics`), apart from the service's
 * public port: metrics name routes, websites' traffic and internals that the internet has no
 * business reading. Bound to loopback by default (METRICS_HOST); port 0 picks a free port.
 * With `ready`, it also answers `GET /health` (200 while the process serves) and `GET /ready`
 * (200 when `ready()` is true, else 503): the probes of a service with no public port (the
 * processor). Resolves once listening, to the server and its address.
 */
export async function startMetricsServer(
  registry: Registry,
  opts: { host: string; port: number; ready?: () => boolean },
  logger: Logger,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const { ready } = opts;
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && ready !== undefined && (path === '/health' || path === '/ready')) {
      const ok = path === '/health' || ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok }));
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => {
        logger.warn({ err: err.message }, 'metrics_failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/metrics`;
  logger.info({ url }, 'metrics_listening');
  return {
    server,
    url,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
