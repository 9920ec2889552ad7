import type { Db, Queryable } from '../../shared/db/pool.js';
import {
  goalRepository,
  isDuplicateGoalName,
  isGoalLimitExceeded,
  MAX_GOALS_PER_WEBSITE,
  type Goal,
} from '../../shared/db/repositories/goal.repository.js';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import { ClientError, notFound } from '../../shared/errors/errors.js';
import { invalidateGoalCache } from '../../shared/cache/goal-definitions.cache.js';
import { newGoalId, parseGoalRef } from '../../shared/ids.js';
import type { Logger } from '../../shared/logger.js';
import type { Redis } from '../../shared/redis/redis.js';
import { enqueueBackfill, type BackfillQueue } from '../../shared/jobs/queues.js';
import { definitionChanged, firstFreeName, type GoalFields } from './goal-input.js';

export interface GoalServiceDeps {
  db: Db;
  redis: Redis;
  backfillQueue: BackfillQueue | null;
  logger: Logger;
  /** How long a write waits for Redis (cache invalidation, enqueue) after its commit. */
  handoffTimeoutMs: number;
}

/**
 * The goal a path names (`goal_…` or numeric id, {@link parseGoalRef}) on this website; 404
 * naming `field` when the reference is malformed, unknown or another website's.
 */
export async function findGoalOf(
  q: Queryable,
  website: Website,
  raw: string,
  field: string,
): Promise<Goal> {
  const ref = parseGoalRef(raw);
  const goal = ref === null ? null : await goalRepository.findByRef(q, website.id, ref);
  if (!goal) throw notFound('goal', field);
  return goal;
}

const duplicateName = () =>
  new ClientError(422, 'duplicate_name', 'goal name already exists for this website', 'name');
const limitExceeded = () =>
  new ClientError(
    422,
    'limit_exceeded',
    `maximum of ${MAX_GOALS_PER_WEBSITE} goals per website reached`,
    'goals',
  );

function translate(err: unknown): unknown {
  if (isDuplicateGoalName(err)) return duplicateName();
  if (isGoalLimitExceeded(err)) return limitExceeded();
  return err;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Goal writes shared by both dialects. Each write commits to the database first; only then
 * is the goal cache invalidated and (for a new definition version) the backfill enqueued.
 * Redis being down does not fail the write: the cache readers fall back to the database, and
 * goals whose backfill is still `queued` are re-enqueued at API start-up
 * ({@link requeuePendingBackfills}).
 */
export class GoalService {
  constructor(private readonly deps: GoalServiceDeps) {}

  list(website: Website): Promise<Goal[]> {
    return goalRepository.listForWebsite(this.deps.db, website.id);
  }

  get(website: Website, raw: string, field: string): Promise<Goal> {
    return findGoalOf(this.deps.db, website, raw, field);
  }

  /**
   * Creates a goal. With `autoName` (Rybbit, no name given), the first free of `base`,
   * `base (2)`, … is taken; a concurrent create taking the same name makes it try again.
   */
  async create(
    website: Website,
    fields: Omit<GoalFields, 'name'> & { name: string | null },
    autoName?: string,
  ): Promise<Goal> {
    for (let attempt = 0; ; attempt += 1) {
      let name = fields.name;
      if (name === null) {
        const base = autoName ?? 'goal';
        name = firstFreeName(base, await goalRepository.namesLike(this.deps.db, website.id, base));
      }
      try {
        const goal = await goalRepository.create(this.deps.db, {
          ...fields,
          name,
          id: newGoalId(),
          website_id: website.id,
        });
        await this.handOff(goal, true);
        return goal;
      } catch (err) {
        if (fields.name === null && isDuplicateGoalName(err) && attempt < 10) continue;
        throw translate(err);
      }
    }
  }

  /** Reads the goal under a row lock, lets `resolve` compute the result, writes it. */
  async update(
    website: Website,
    raw: string,
    field: string,
    resolve: (existing: Goal) => GoalFields,
  ): Promise<Goal> {
    const ref = parseGoalRef(raw);
    if (ref === null) throw notFound('goal', field);
    let bumped = false;
    let goal: Goal;
    try {
      goal = await this.deps.db.tx(async (q) => {
        const existing = await goalRepository.findByRef(q, website.id, ref, { forUpdate: true });
        if (!existing) throw notFound('goal', field);
        const next = resolve(existing);
        const clearPatternIssue = next.pattern_checked === true;
        // A goal that never matched because of its stored pattern starts matching again when
        // the pattern is re-validated, even unchanged: that is a new definition to backfill.
        bumped =
          definitionChanged(existing, next) ||
          (clearPatternIssue && existing.pattern_issue !== null);
        return goalRepository.update(q, existing, next, bumped, clearPatternIssue);
      });
    } catch (err) {
      throw translate(err);
    }
    await this.handOff(goal, bumped);
    return goal;
  }

  async delete(website: Website, raw: string, field: string): Promise<void> {
    const goal = await this.get(website, raw, field);
    if (!(await goalRepository.delete(this.deps.db, website.id, goal.id))) {
      throw notFound('goal', field);
    }
    await this.handOff(goal, false);
  }

  /** After commit: invalidate the website's cached definitions, enqueue the backfill. */
  private async handOff(goal: Goal, enqueue: boolean): Promise<void> {
    await handOffGoalWrites(
      this.deps,
      goal.website_id,
      enqueue ? [{ goal_id: goal.id, definition_version: goal.definition_version }] : [],
    );
  }
}

/**
 * After a goal write (goals or funnel step goals) committed: invalidates the website's cached
 * definitions and enqueues the backfill of each new definition version in `backfills`. Redis
 * being slow or down does not fail the write: each part waits at most `handoffTimeoutMs`, and
 * a failure is logged (a backfill left `queued` is re-enqueued at start-up).
 */
export async function handOffGoalWrites(
  deps: GoalServiceDeps,
  websiteId: string,
  backfills: ReadonlyArray<{ goal_id: string; definition_version: number }>,
): Promise<void> {
  const { redis, backfillQueue, logger, handoffTimeoutMs } = deps;
  const invalidation = withTimeout(
    invalidateGoalCache(redis, websiteId),
    handoffTimeoutMs,
    'invalidation',
  );
  const enqueues = backfills.map((b) =>
    withTimeout(
      backfillQueue === null
        ? Promise.reject(new Error('no backfill queue configured'))
        : enqueueBackfill(backfillQueue, { website_id: websiteId, ...b }),
      handoffTimeoutMs,
      'enqueue',
    ),
  );
  const [invalidated, ...enqueued] = await Promise.allSettled([invalidation, ...enqueues]);
  if (invalidated?.status === 'rejected') {
    logger.warn(
      { website_id: websiteId, err: (invalidated.reason as Error).message },
      'goal_cache_invalidation_failed',
    );
  }
  enqueued.forEach((r, i) => {
    if (r.status === 'rejected') {
      logger.warn(
        {
          goal_id: backfills[i]!.goal_id,
          version: backfills[i]!.definition_version,
          err: (r.reason as Error).message,
        },
        'backfill_enqueue_failed',
      );
    }
  });
}

/**
 * Enqueues every backfill still `queued` in the database (its job may never have reached
 * Redis). Job ids are per version, so jobs that did arrive are not duplicated.
 */
export async function requeuePendingBackfills(
  db: Db,
  queue: BackfillQueue,
  logger: Logger,
): Promise<number> {
  const pending = await goalRepository.listQueuedBackfills(db);
  for (const p of pending) {
    await enqueueBackfill(queue, {
      website_id: p.website_id,
      goal_id: p.goal_id,
      definition_version: p.definition_version,
    });
  }
  if (pending.length > 0) logger.info({ count: pending.length }, 'backfills_requeued');
  return pending.length;
}
