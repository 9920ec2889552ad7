import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Read-only live tokens, for browsers' EventSource, which cannot send an Authorization header:
 * `<payload>.<signature>`, both base64url; the payload names one website, the key it was issued
 * to and an expiry; the signature is HMAC-SHA256 with the API's `API_LIVE_TOKEN_SECRET`. A token
 * grants nothing but the live stream of that website until it expires, and only while the key
 * that asked for it is active.
 */
export const DEFAULT_LIVE_TOKEN_TTL_MS = 5 * 60_000;

interface Payload {
  w: string;
  k: string;
  exp: number;
  scope: 'live';
}

/** What a valid token grants. */
export interface LiveGrant {
  websiteId: string;
  keyId: string;
  expiresAt: number;
}

const sign = (secret: string, body: string) =>
  createHmac('sha256', secret).update(body).digest('base64url');

export function createLiveToken(
  secret: string,
  grant: { websiteId: string; keyId: string },
  ttlMs = DEFAULT_LIVE_TOKEN_TTL_MS,
  now = Date.now(),
): { token: string; expiresAt: Date } {
  const exp = now + ttlMs;
  const payload: Payload = { w: grant.websiteId, k: grant.keyId, exp, scope: 'live' };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return { token: `${body}.${sign(secret, body)}`, expiresAt: new Date(exp) };
}

/** What the token grants, or null when it is forged, malformed or expired. */
export function verifyLiveToken(secret: string, token: string, now = Date.now()): LiveGrant | null {
  const [body, sig, extra] = token.split('.');
  if (!body || !sig || extra !== undefined) return null;
  const expected = Buffer.from(sign(secret, body));
  const given = Buffer.from(sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<Payload>;
    if (
      p.scope !== 'live' ||
      typeof p.w !== 'string' ||
      typeof p.k !== 'string' ||
      typeof p.exp !== 'number'
    ) {
      return null;
    }
    return p.exp > now ? { websiteId: p.w, keyId: p.k, expiresAt: p.exp } : null;
  } catch {
    return null;
  }
}
