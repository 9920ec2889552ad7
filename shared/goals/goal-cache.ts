import type { Db } from '../db/pool.js';
import { goalRepository } from '../db/goal.repository.js';
import type { Logger } from '../logger.js';
import type { Redis } from '../redis/redis.js';
import { compileGoals, type CompiledGoal } from '../matching/goal-matcher.js';
import type { GoalDefinition } from './goal-definition.js';

/*
 * Goal definitions are cached in Redis per website, keyed by a per-website version counter:
 *   goalpost:goals:ver:<website>        integer, INCR'd after every committed change
 *   goalpost:goals:defs:<website>:<ver> JSON definitions for that version (expires)
 * Writers commit to the database first and bump the version after, so a reader that sees the
 * new version always reads the new rows; definitions stored under an old version can never be
 * served for a newer one. Readers keep compiled goals in process and re-check the version at
 * most every `recheckMs`, so a change is live within ~recheckMs without a Redis round trip
 * per event. When Redis is unavailable, definitions come straight from the database.
 */
const verKey = (websiteId: string) => `goalpost:goals:ver:${websiteId}`;
const defsKey = (websiteId: string, ver: string) => `goalpost:goals:defs:${websiteId}:${ver}`;
const DEFS_TTL_SECONDS = 3600;

/** Called by every writer after its database transaction committed. */
export async function invalidateGoalCache(redis: Redis, websiteId: string): Promise<void> {
  await redis.incr(verKey(websiteId));
}

interface Entry {
  version: string | null;
  goals: CompiledGoal[];
  checkedAt: number;
}

export class GoalCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly deps: { db: Db; redis: Redis; logger: Logger },
    private readonly recheckMs = 500,
  ) {}

  /** Compiled goals for each website, refreshed where the cached copy may be stale. */
  async getMany(websiteIds: Iterable<string>): Promise<Map<string, CompiledGoal[]>> {
    const now = Date.now();
    const ids = [...new Set(websiteIds)];
    const stale = ids.filter((id) => {
      const e = this.entries.get(id);
      return !e || now - e.checkedAt >= this.recheckMs;
    });
    if (stale.length > 0) await this.refresh(stale, now);
    return new Map(ids.map((id) => [id, this.entries.get(id)?.goals ?? []]));
  }

  async get(websiteId: string): Promise<CompiledGoal[]> {
    return (await this.getMany([websiteId])).get(websiteId) ?? [];
  }

  private async refresh(ids: string[], now: number): Promise<void> {
    try {
      await this.refreshThroughRedis(ids, now);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'goal_cache_redis_failed_using_db');
      for (const id of ids) {
        const defs = await goalRepository.definitionsForWebsite(this.deps.db, id);
        // version null: the next refresh reloads, whatever Redis then says.
        this.entries.set(id, { version: null, goals: compileGoals(defs), checkedAt: now });
      }
    }
  }

  private async refreshThroughRedis(ids: string[], now: number): Promise<void> {
    const versions = await this.deps.redis.mget(ids.map(verKey));
    for (const [i, id] of ids.entries()) {
      let version = versions[i] ?? null;
      const current = this.entries.get(id);
      if (current && version !== null && current.version === version) {
        current.checkedAt = now;
        continue;
      }
      if (version === null) {
        // First use of this website (or Redis lost its keys): start a version counter.
        await this.deps.redis.set(verKey(id), '0', 'NX');
        version = (await this.deps.redis.get(verKey(id))) ?? '0';
      }
      const defs = await this.loadDefinitions(id, version);
      this.entries.set(id, { version, goals: compileGoals(defs), checkedAt: now });
    }
  }

  private async loadDefinitions(websiteId: string, version: string): Promise<GoalDefinition[]> {
    const cached = await this.deps.redis.get(defsKey(websiteId, version));
    if (cached !== null) return JSON.parse(cached) as GoalDefinition[];
    const defs = await goalRepository.definitionsForWebsite(this.deps.db, websiteId);
    await this.deps.redis.set(
      defsKey(websiteId, version),
      JSON.stringify(defs),
      'EX',
      DEFS_TTL_SECONDS,
    );
    return defs;
  }
}
