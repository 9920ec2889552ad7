import { authenticateApiKey, type Principal } from '../../shared/auth/api-keys.js';
import type { Queryable } from '../../shared/db/pool.js';
import type { Logger } from '../../shared/logger.js';
import { RefreshingCache } from './refreshing.cache.js';

/** Verifies a key presented in a collect body (Rybbit's `api_key`); see ApiKeyLookup. */
export interface ApiKeySource {
  authenticate(key: string): Promise<Principal | null>;
}

/** A revoked key is refused at most this long after its revocation. */
export const KEY_REVOCATION_DELAY_MS = 30_000;

/**
 * `authenticateApiKey` behind a cache, so a page whose tag carries `data-api-key` costs no
 * database query per event and a slow database does not delay it: a key's entry is reloaded
 * in the background once half of KEY_REVOCATION_DELAY_MS old and served meanwhile, and never
 * served once older than the whole of it (a request then waits for the reload). Unknown keys
 * are remembered for a few seconds, apart from valid ones; the caches are bounded (a flood of
 * random keys costs queries, which the per-address rate limit in front of it bounds).
 */
export class ApiKeyLookup implements ApiKeySource {
  private readonly cache: RefreshingCache<Principal>;

  constructor(
    db: Queryable,
    opts: { logger?: Logger; maxEntries?: number; now?: () => number } = {},
  ) {
    const maxEntries = opts.maxEntries ?? 10_000;
    this.cache = new RefreshingCache<Principal>(
      // No bootstrap key here: it is a manage key, and manage keys never collect.
      (key) => authenticateApiKey(db, key, null),
      {
        refreshAfterMs: KEY_REVOCATION_DELAY_MS / 2,
        expireAfterMs: KEY_REVOCATION_DELAY_MS,
        missTtlMs: 5_000,
        maxEntries,
        maxMisses: maxEntries,
      },
      opts.logger ?? null,
      opts.now,
    );
  }

  authenticate(key: string): Promise<Principal | null> {
    return this.cache.get(key);
  }
}
