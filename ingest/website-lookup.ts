import type { Db } from '../shared/db/pool.js';
import { websiteRepository, type Website } from '../shared/db/website.repository.js';

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

  async get(ref: string): Promise<Website | null> {
    const hit = this.cache.get(ref);
    if (hit && hit.until > Date.now()) return hit.site;
    let p = this.loading.get(ref);
    if (!p) {
      p = websiteRepository.findByRef(this.db, ref).finally(() => this.loading.delete(ref));
      this.loading.set(ref, p);
    }
    const site = await p;
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(ref, { site, until: Date.now() + (site ? this.ttlMs : this.negativeTtlMs) });
    return site;
  }
}
