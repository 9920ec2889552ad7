import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Read-only live tokens, for browsers' EventSource, which cannot send an Authorization header:
 * `<payload>.<signature>`, both base64url; the payload names one website and an expiry; the
 * signature is HMAC-SHA256 with the API's `API_LIVE_TOKEN_SECRET`. A token grants nothing but
 * the live stream of that website until it expires.
 */
/** The default lifetime of a live token (`API_LIVE_TOKEN_TTL_SECONDS` overrides it). */
export const LIVE_TOKEN_TTL_MS = 5 * 60_000;

interface Payload {
  w: string;
  exp: number;
  scope: 'live';
}

const sign = (secret: string, body: string) =>
  createHmac('sha256', secret).update(body).digest('base64url');

export function createLiveToken(
  secret: string,
  websiteId: string,
  now = Date.now(),
  ttlMs = LIVE_TOKEN_TTL_MS,
): { token: string; expiresAt: Date } {
  const exp = now + ttlMs;
  const body = Buffer.from(
    JSON.stringify({ w: websiteId, exp, scope: 'live' } satisfies Payload),
  ).toString('base64url');
  return { token: `${body}.${sign(secret, body)}`, expiresAt: new Date(exp) };
}

/** The website id the token grants, or null when it is forged, malformed or expired. */
export function verifyLiveToken(secret: string, token: string, now = Date.now()): string | null {
  const [body, sig, extra] = token.split('.');
  if (!body || !sig || extra !== undefined) return null;
  const expected = Buffer.from(sign(secret, body));
  const given = Buffer.from(sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<Payload>;
    if (p.scope !== 'live' || typeof p.w !== 'string' || typeof p.exp !== 'number') return null;
    return p.exp > now ? p.w : null;
  } catch {
    return null;
  }
}
