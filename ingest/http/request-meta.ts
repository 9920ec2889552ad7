import type { FastifyRequest } from 'fastify';
import { grantCors } from './cors.js';
import type { RequestMeta } from '../intake/intake.js';

const header = (v: string | string[] | undefined): string | undefined =>
  Array.isArray(v) ? v[0] : v;

/**
 * What intake needs from the request. `req.ip` is the socket peer, or the X-Forwarded-For
 * client when the peer is a configured trusted proxy (Fastify `trustProxy`). The IP is used
 * for the visitor hash, geo and rate limits only; it is never stored or sent to Kafka. Once
 * intake accepted the origin, the response carries the CORS grant (see cors.ts).
 */
export function requestMeta(req: FastifyRequest, apiKey: string | null = null): RequestMeta {
  return {
    ip: req.ip,
    userAgent: header(req.headers['user-agent']),
    acceptLanguage: header(req.headers['accept-language']),
    origin: header(req.headers.origin),
    apiKey,
    onOriginAccepted: () => grantCors(req),
  };
}
