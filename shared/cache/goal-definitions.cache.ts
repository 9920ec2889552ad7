import type { GoalDefinition } from '../goals/goal-definition.js';
import type { Redis } from '../redis/redis.js';

/*
 * The Redis contract of the goal definition cache, between its writers (the API, after every
 * committed goal or website change) and its readers (the processor's in-process cache):
 *   goalpost:goals:ver:<website>        integer, INCR'd after every committed change
 *   goalpost:goals:defs2:<website>:<ver> JSON definitions for that version (expires); `defs2`
 *                                        since definitions carry `pattern_issue` and regexes
 *                                        are Goalpost regexes (issue 12): a copy cached by an
 *                                        older processor is never read
 * Writers commit to the database first and bump the version after, so a reader that sees the
 * new version always reads the new rows; definitions stored under an old version can never be
 * served for a newer one.
 */
const verKey = (websiteId: string) => `goalpost:goals:ver:${websiteId}`;
const defsKey = (websiteId: string, ver: string) => `goalpost:goals:defs2:${websiteId}:${ver}`;
const DEFS_TTL_SECONDS = 3600;

/** Called by every writer after its database transaction committed. */
export async function invalidateGoalCache(redis: Redis, websiteId: string): Promise<void> {
  await redis.incr(verKey(websiteId));
}

/** The current version of each website's definitions; null where none was started yet. */
export async function goalCacheVersions(
  redis: Redis,
  websiteIds: readonly string[],
): Promise<Array<string | null>> {
  return redis.mget(websiteIds.map(verKey));
}

/** Starts a website's version counter if it has none (first use, or Redis lost its keys). */
export async function startGoalCacheVersion(redis: Redis, websiteId: string): Promise<string> {
  await redis.set(verKey(websiteId), '0', 'NX');
  return (await redis.get(verKey(websiteId))) ?? '0';
}

/** The definitions stored for this version, or null when a reader has yet to store them. */
export async function cachedGoalDefinitions(
  redis: Redis,
  websiteId: string,
  version: string,
): Promise<GoalDefinition[] | null> {
  const cached = await redis.get(defsKey(websiteId, version));
  return cached === null ? null : (JSON.parse(cached) as GoalDefinition[]);
}

/** Stores definitions read from the database under the version they were read for. */
export async function storeGoalDefinitions(
  redis: Redis,
  websiteId: string,
  version: string,
  defs: readonly GoalDefinition[],
): Promise<void> {
  await redis.set(defsKey(websiteId, version), JSON.stringify(defs), 'EX', DEFS_TTL_SECONDS);
}
