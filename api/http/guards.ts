import { RateLimitedError, unauthorized } from '../../shared/errors/errors.js';
import { clientBucket, RateWindow } from '../../shared/http/rate-window.js';

/** The API's abuse limits (per instance; defaults documented in README.md). */
export interface ApiLimits {
  /** Failed authentications per client address per minute before 429 for a minute. */
  authFailuresPerMinute: number;
  /** Requests per API key per minute. */
  requestsPerKeyPerMinute: number;
  /** Live streams open at once per live token, per website, per client address. */
  liveStreamsPerToken: number;
  liveStreamsPerWebsite: number;
  liveStreamsPerClient: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  authFailuresPerMinute: 20,
  requestsPerKeyPerMinute: 1200,
  liveStreamsPerToken: 10,
  liveStreamsPerWebsite: 200,
  liveStreamsPerClient: 50,
};

const BLOCK_MS = 60_000;

/**
 * Throttles of the API, in process memory (per instance, like ingest's rate limits):
 * - a client address (IPv6 by /64) that failed authentication more than the limit within a
 *   minute gets 429 for a minute on every further failure; a valid key is never affected, so a
 *   user behind the same address as an attacker keeps working;
 * - each API key may make `requestsPerKeyPerMinute` requests a minute, then 429 with
 *   `Retry-After` until the window ends.
 */
export class ApiGuards {
  private readonly failures: RateWindow;
  private readonly blockedUntil = new Map<string, number>();
  private readonly keys: RateWindow;

  constructor(
    readonly limits: ApiLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.failures = new RateWindow(60_000, now);
    this.keys = new RateWindow(60_000, now);
  }

  /** Records a failed authentication from `ip`; throws the answer: 401, or 429 when blocked. */
  failed(ip: string): never {
    const client = clientBucket(ip);
    const t = this.now();
    const until = this.blockedUntil.get(client);
    if (until !== undefined && until > t) {
      throw new RateLimitedError(
        'too many failed authentications from this address',
        Math.ceil((until - t) / 1000),
      );
    }
    if (this.failures.hit(client, 1) > this.limits.authFailuresPerMinute) {
      if (this.blockedUntil.size >= 10_000) this.prune(t);
      this.blockedUntil.set(client, t + BLOCK_MS);
      throw new RateLimitedError(
        'too many failed authentications from this address',
        BLOCK_MS / 1000,
      );
    }
    throw unauthorized();
  }

  /** Counts one request of an authenticated key; throws 429 beyond its limit. */
  admit(keyId: string): void {
    if (this.keys.hit(keyId, 1) > this.limits.requestsPerKeyPerMinute) {
      throw new RateLimitedError('too many requests for this API key', this.keys.secondsLeft());
    }
  }

  private prune(t: number): void {
    for (const [k, until] of this.blockedUntil) if (until <= t) this.blockedUntil.delete(k);
    // Still full: a flood of addresses; forget the oldest blocks rather than grow.
    if (this.blockedUntil.size >= 10_000) this.blockedUntil.clear();
  }
}
