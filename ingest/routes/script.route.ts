import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';
import { DEFAULT_TRACKING_SETTINGS } from '../../shared/goals/tracking-settings.js';

/** Where the tracker's source takes the default capture settings (one copy, in shared/). */
const DEFAULTS_SLOT = '/*@tracking-defaults*/ {}';

function trackerScript(): Buffer {
  const source = readFileSync(new URL('../public/script.js', import.meta.url), 'utf8');
  if (!source.includes(DEFAULTS_SLOT)) {
    throw new Error(`ingest/public/script.js lacks ${DEFAULTS_SLOT}`);
  }
  return Buffer.from(source.replace(DEFAULTS_SLOT, JSON.stringify(DEFAULT_TRACKING_SETTINGS)));
}

const SCRIPT = trackerScript();
const ETAG = `"${createHash('sha256').update(SCRIPT).digest('base64url').slice(0, 16)}"`;

/**
 * The one tracker, under Goalpost's path and the paths of the trackers it replaces, so a site
 * switches by changing only the host: `/s.js` (Sparklytics' tag) and `/api/script.js`
 * (Rybbit's tag). The script picks its face (attributes, payload, endpoint) from its own path.
 */
export const SCRIPT_PATHS = ['/script.js', '/s.js', '/api/script.js'] as const;

/** The tracker, cacheable for an hour, revalidated by ETag. */
export const scriptRoutes: FastifyPluginAsync = async (app) => {
  for (const url of SCRIPT_PATHS) {
    app.get(url, { schema: { summary: 'The Goalpost tracker script' } }, (req, reply) => {
      void reply
        .header('cache-control', 'public, max-age=3600, stale-while-revalidate=86400')
        .header('etag', ETAG)
        .header('access-control-allow-origin', '*');
      if (req.headers['if-none-match'] === ETAG) return reply.status(304).send();
      return reply.type('application/javascript; charset=utf-8').send(SCRIPT);
    });
  }
};
