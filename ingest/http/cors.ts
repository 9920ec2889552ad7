import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { HttpApp } from '../../shared/http/http-app.js';
import type { OriginSource } from '../lookups/origin.index.js';

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
 * `application/json`, so the browser sends a preflight first; the grant is the exact origin with
 * `Allow-Credentials: true`, never `*`.
 *
 * A preflight names no website (the site is in the body), so it is granted to the origins some
 * website lists: its domain (and subdomains) or one of its `allowed_origins`, from an index kept
 * in memory and refreshed in the background (OriginIndex). Any other origin gets a preflight
 * with no grant at all (no `Allow-Origin`, hence no credentials), so a browser page there cannot
 * post JSON: a page that sends with a collect key must have its origin listed by some website.
 * The POST is still checked against its own website's origins (or its collect key) before
 * anything is accepted, and a refused POST (403) carries no grant, so a page on a foreign origin
 * cannot even read the refusal. `Origin: null` is never granted.
 */
export function installCors(app: HttpApp, origins: OriginSource): void {
  for (const url of CORS_ROUTES) {
    app.options(
      url,
      {
        schema: {
          summary:
            'CORS preflight (granted to origins some website lists; the POST checks its own)',
          response: { 204: Type.Null() },
        },
      },
      async (req, reply) => {
        const origin = req.headers.origin;
        void reply.header('vary', 'Origin');
        if (origin !== undefined && HTTP_ORIGIN.test(origin) && origins.listed(origin)) {
          setGrant(reply, origin);
        }
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
