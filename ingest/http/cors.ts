import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { HttpApp } from '../../shared/http/http-app.js';

/** The collect routes that browsers call cross-origin. */
export const CORS_ROUTES = ['/api/collect', '/e', '/api/track'] as const;
/** How long a browser may reuse a preflight answer (Chromium caps it at 2 hours). */
export const CORS_MAX_AGE_SECONDS = 7200;

const granted = new WeakSet<FastifyRequest>();
const HTTP_ORIGIN = /^https?:\/\/[^/\s?#]+$/i;

/** Marks a collect request whose Origin passed the website's check (or whose key replaced it). */
export function grantCors(req: FastifyRequest): void {
  granted.add(req);
}

function setGrant(reply: FastifyReply, origin: string): void {
  void reply
    .header('access-control-allow-origin', origin)
    .header('access-control-allow-credentials', 'true')
    .header('access-control-allow-methods', 'POST')
    .header('access-control-allow-headers', 'content-type')
    .header('access-control-max-age', String(CORS_MAX_AGE_SECONDS));
}

/**
 * CORS for the collect routes. The real Sparklytics and Rybbit trackers post
 * `application/json`, so the browser sends a preflight first; beacons carry credentials, so
 * the grant is the exact origin with `Allow-Credentials: true`, never `*`.
 *
 * Preflights are granted to every http(s) origin, and the Origin is enforced on the POST.
 * A preflight names no website (the site is in the body), and a Rybbit tag with a collect key
 * may legitimately post from any origin, so the preflight cannot know the answer. Granting it
 * opens nothing: the same POST is already possible without a preflight (a `text/plain` beacon
 * or form post), the collector reads no cookies or ambient credentials (`Allow-Credentials`
 * therefore exposes nothing), and every POST is checked against the website's origins (or its
 * collect key) before anything is accepted. A refused POST (403) carries no CORS grant, so a
 * page on a foreign origin cannot even read the refusal. `Origin: null` is never granted.
 */
export function installCors(app: HttpApp): void {
  for (const url of CORS_ROUTES) {
    app.options(
      url,
      {
        schema: {
          summary: 'CORS preflight (granted to any http(s) origin; the POST checks the origin)',
          response: { 204: Type.Null() },
        },
      },
      async (req, reply) => {
        const origin = req.headers.origin;
        void reply.header('vary', 'Origin');
        if (origin !== undefined && HTTP_ORIGIN.test(origin)) setGrant(reply, origin);
        return reply.status(204).send(null);
      },
    );
  }
  // Callback style: this runs on every collect request and never waits for anything.
  app.addHook('onSend', (req, reply, payload, done) => {
    const url = req.routeOptions.url;
    if (req.method === 'POST' && (url === '/api/collect' || url === '/e' || url === '/api/track')) {
      void reply.header('vary', 'Origin');
      const origin = req.headers.origin;
      if (origin !== undefined && granted.has(req) && HTTP_ORIGIN.test(origin)) {
        setGrant(reply, origin);
      }
    }
    done(null, payload);
  });
}
