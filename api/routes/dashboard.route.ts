import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/**
 * Where the dashboard is built: `api/dashboard/dist/` beside the sources, and copied beside the
 * compiled API (`dist/api/dashboard/dist/`) by `npm run build`, so this module finds it
 * relative to itself either way, never from the working directory.
 */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../dashboard/dist/', import.meta.url));

/** The path the dashboard is served under (its Vite `base`). */
export const DASHBOARD_PREFIX = '/app/';

/**
 * The browser dashboard (api/dashboard/, built by Vite) as static files at `/app/`; `/` and
 * `/app` redirect there. It calls the same public API as any client, so serving it is all the
 * server does. File names under `assets/` carry a content hash, so they are cached for a year
 * and never revalidated; `index.html` (which names the current hashes) is revalidated on every
 * load (`no-cache` with ETag, so usually a 304). The build writes `.gz` and `.br` beside each
 * asset, sent to clients that accept them. Without a build, `/app/` says how to make one.
 */
export const dashboardRoutes: FastifyPluginAsync<{ dir: string }> = async (app, { dir }) => {
  app.get('/', { schema: { hide: true } }, (_req, reply) => reply.redirect(DASHBOARD_PREFIX));
  app.get('/app', { schema: { hide: true } }, (_req, reply) => reply.redirect(DASHBOARD_PREFIX));
  if (!existsSync(join(dir, 'index.html'))) {
    app.get(`${DASHBOARD_PREFIX}*`, { schema: { hide: true } }, (_req, reply) =>
      reply
        .status(404)
        .type('text/plain; charset=utf-8')
        .send(`The dashboard is not built (no ${join(dir, 'index.html')}): run npm run build.\n`),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: DASHBOARD_PREFIX,
    decorateReply: false,
    preCompressed: true,
    cacheControl: false,
    setHeaders(reply, path) {
      void reply.headers({
        'cache-control': /[\\/]assets[\\/]/.test(path)
          ? 'public, max-age=31536000, immutable'
          : 'no-cache',
        // Never framed; scripts and styles from this origin only; no referrer leaves the page.
        'x-frame-options': 'DENY',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'content-security-policy':
          "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      });
    },
  });
};
