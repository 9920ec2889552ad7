import type { Logger } from '../../shared/logger.js';

export interface RefreshingCacheOptions {
  /** Age after which a found entry is reloaded in the background, still served meanwhile. */
  refreshAfterMs: number;
  /**
   * Age after which a found entry is no longer served and a request waits for the reload;
   * Infinity: a known entry is served for as long as reloads fail.
   */
  expireAfterMs: number;
  /** Refresh and expiry of "not found" entries (both; a miss is never served stale). */
  missTtlMs: number;
  /** Found entries kept; the least recently loaded is dropped first. */
  maxEntries: number;
  /** "Not found" entries kept, apart from found ones so a flood of unknown keys evicts none. */
  maxMisses: number;
  /** After a failed background reload, the next one waits at least this long. */
  retryAfterMs?: number;
}

interface Entry<V> {
  value: V;
  loadedAt: number;
  /** A background reload is running or failed recently: no other starts before this time. */
  quietUntil: number;
}

/**
 * A read-through cache that serves what it has while it reloads in the background
 * (stale-while-revalidate), so that for a key it has seen, a slow or unavailable source never
 * delays a caller until the entry expires. One load per key runs at a time; callers that must
 * wait for a key (first use, or expired) share it. Values that are `null` mean "not found" and
 * are kept apart, with their own shorter lifetime and bound.
 */
export class RefreshingCache<V> {
  private readonly found = new Map<string, Entry<V>>();
  private readonly misses = new Map<string, number>();
  private readonly loading = new Map<string, Promise<V | null>>();

  constructor(
    private readonly load: (key: string) => Promise<V | null>,
    private readonly opts: RefreshingCacheOptions,
    private readonly logger: Logger | null = null,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value for `key`, from memory when it has one still servable. */
  get(key: string): Promise<V | null> {
    const t = this.now();
    const hit = this.found.get(key);
    if (hit !== undefined) {
      const age = t - hit.loadedAt;
      if (age < this.opts.expireAfterMs) {
        if (age >= this.opts.refreshAfterMs && t >= hit.quietUntil)
          this.refreshInBackground(key, hit);
        return Promise.resolve(hit.value);
      }
    } else {
      const missUntil = this.misses.get(key);
      if (missUntil !== undefined && missUntil > t) return Promise.resolve(null);
    }
    return this.loadShared(key);
  }

  /** Entries held (found, misses), for metrics. */
  size(): { found: number; misses: number } {
    return { found: this.found.size, misses: this.misses.size };
  }

  private refreshInBackground(key: string, entry: Entry<V>): void {
    entry.quietUntil = Number.POSITIVE_INFINITY;
    this.loadShared(key).catch((err: Error) => {
      entry.quietUntil = this.now() + (this.opts.retryAfterMs ?? 1_000);
      this.logger?.warn({ err: err.message }, 'lookup_refresh_failed');
    });
  }

  private loadShared(key: string): Promise<V | null> {
    let p = this.loading.get(key);
    if (p === undefined) {
      p = this.load(key)
        .then((value) => {
          this.store(key, value);
          return value;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  private store(key: string, value: V | null): void {
    const t = this.now();
    if (value === null) {
      this.found.delete(key);
      if (this.misses.size >= this.opts.maxMisses) dropOldest(this.misses);
      this.misses.delete(key);
      this.misses.set(key, t + this.opts.missTtlMs);
      return;
    }
    this.misses.delete(key);
    // Re-inserted, so Map order is load order and the first entry the least recently loaded.
    this.found.delete(key);
    if (this.found.size >= this.opts.maxEntries) dropOldest(this.found);
    this.found.set(key, { value, loadedAt: t, quietUntil: 0 });
  }
}

function dropOldest(map: Map<string, unknown>): void {
  const first = map.keys().next();
  if (!first.done) map.delete(first.value);
}
