import type { Db } from '../../shared/db/pool.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import type { Logger } from '../../shared/logger.js';
import type { Redis } from '../../shared/redis/redis.js';
import { compileGoals, type CompiledGoal } from '../../shared/matching/goal-matcher.js';
import type { GoalDefinition } from '../../shared/goals/goal-definition.js';
import {
  cachedGoalDefinitions,
  goalCacheVersions,
  startGoalCacheVersion,
  storeGoalDefinitions,
} from '../../shared/cache/goal-definitions.cache.js';

/**
 * The processor's copy of each website's compiled goals. Definitions come through the Redis
 * cache of shared/cache/goal-definitions.cache.ts (versioned per website); compiled goals are
 * kept in process and the version is re-checked at most every `recheckMs`, so a change is live
 * within ~recheckMs without a Redis round trip per event. When Redis is unavailable,
 * definitions come straight from the database.
 */
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
    const versions = await goalCacheVersions(this.deps.redis, ids);
    for (const [i, id] of ids.entries()) {
      let version = versions[i] ?? null;
      const current = this.entries.get(id);
      if (current && version !== null && current.version === version) {
        current.checkedAt = now;
        continue;
      }
      if (version === null) {
        // First use of this website (or Redis lost its keys): start a version counter.
        version = await startGoalCacheVersion(this.deps.redis, id);
      }
      const defs = await this.loadDefinitions(id, version);
      this.entries.set(id, { version, goals: compileGoals(defs), checkedAt: now });
    }
  }

  private async loadDefinitions(websiteId: string, version: string): Promise<GoalDefinition[]> {
    const cached = await cachedGoalDefinitions(this.deps.redis, websiteId, version);
    if (cached !== null) return cached;
    const defs = await goalRepository.definitionsForWebsite(this.deps.db, websiteId);
    await storeGoalDefinitions(this.deps.redis, websiteId, version, defs);
    return defs;
  }
}
