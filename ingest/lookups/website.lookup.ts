import type { Db } from '../../shared/db/pool.js';
import {
  websiteRepository,
  type Website,
} from '../../shared/db/repositories/website.repository.js';
import { parseWebsiteRef } from '../../shared/ids.js';
import type { Logger } from '../../shared/logger.js';
import { RefreshingCache } from './refreshing.cache.js';

export interface WebsiteLookupOptions {
  /** A known website is reloaded in the background when its entry is older than this. */
  refreshAfterMs?: number;
  /** How long an unknown id is answered "no such website" without a query. */
  missTtlMs?: number;
  maxEntries?: number;
  logger?: Logger;
}

/**
 * Answers "does this website exist, and what are its settings" from memory. A website ingest
 * has seen is always answered at once: its entry is reloaded in the background after
 * `refreshAfterMs` (settings changes and deletions take effect within about that time), and
 * while the database is slow or down the last answer keeps being served. Unknown ids are
 * remembered for `missTtlMs`, apart from known websites, so a flood of bad ids turns into
 * neither a flood of queries nor the eviction of real websites.
 */
export class WebsiteLookup {
  private readonly cache: RefreshingCache<Website>;

  constructor(db: Db, opts: WebsiteLookupOptions = {}) {
    this.cache = new RefreshingCache<Website>(
      (key) => websiteRepository.findByRef(db, parseWebsiteRef(key)!),
      {
        refreshAfterMs: opts.refreshAfterMs ?? 30_000,
        expireAfterMs: Number.POSITIVE_INFINITY,
        missTtlMs: opts.missTtlMs ?? 5_000,
        maxEntries: opts.maxEntries ?? 100_000,
        maxMisses: opts.maxEntries ?? 100_000,
      },
      opts.logger ?? null,
    );
  }

  /**
   * By `site_…` id or numeric id (number or digit string). Rejects only when the website was
   * never loaded (or is a recent miss no longer cached) and the database is down.
   */
  get(raw: string | number): Promise<Website | null> {
    // A malformed reference names no website: refused without a lookup or a cache entry.
    if (parseWebsiteRef(raw) === null) return Promise.resolve(null);
    return this.cache.get(String(raw));
  }
}
