import type { Db } from '../../shared/db/pool.js';
import { websiteRepository, type Website } from '../../shared/db/website.repository.js';
import { parseWebsiteRef } from '../../shared/ids.js';

/**
 * Answers "does this website exist, and what are its settings" from memory: a hit never
 * touches the database; entries refresh after `ttlMs`, unknown ids are remembered for
 * `negativeTtlMs` so a flood of bad ids cannot turn into a flood of queries.
 */
export class WebsiteLookup {
  private readonly cache = new Map<string, { site: Website | null; until: number }>();
  private readonly loading = new Map<string, Promise<Website | null>>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 30_000,
    private readonly negativeTtlMs = 5_000,
    private readonly maxEntries = 100_000,
  ) {}

  /** By `site_…` id or numeric id (number or digit string). Rejects when the database is down. */
  async get(raw: string | number): Promise<Website | null> {
    // A malformed reference names no website: refused without a lookup or a cache entry.
    const ref = parseWebsiteRef(raw);
    if (ref === null) return null;
    const key = String(raw);
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.site;
    let p = this.loading.get(key);
    if (!p) {
      p = websiteRepository.findByRef(this.db, ref).finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    const site = await p;
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(key, { site, until: Date.now() + (site ? this.ttlMs : this.negativeTtlMs) });
    return site;
  }
}
