import { authenticateApiKey, type Principal } from '../../shared/auth/api-keys.js';
import type { Queryable } from '../../shared/db/pool.js';

/** Verifies a key presented in a collect body (Rybbit's `api_key`); see ApiKeyLookup. */
export interface ApiKeySource {
  authenticate(key: string): Promise<Principal | null>;
}

/**
 * `authenticateApiKey` behind a small cache, so a page whose tag carries `data-api-key` does not
 * cost a database query per event. Results (including "no such key") are kept for `ttlMs`: a
 * revoked key is refused at most that long after the revocation. The cache is keyed by the
 * presented string and bounded; it is cleared whole when full (a flood of random keys then
 * costs queries, which the per-IP rate limit in front of it bounds).
 */
export class ApiKeyLookup implements ApiKeySource {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();

  constructor(
    private readonly db: Queryable,
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
  ) {}

  async authenticate(key: string): Promise<Principal | null> {
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.principal;
    // No bootstrap key here: it is a manage key, and manage keys never collect.
    const principal = await authenticateApiKey(this.db, key, null);
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(key, { principal, until: Date.now() + this.ttlMs });
    return principal;
  }
}
