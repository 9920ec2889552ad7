import { setTimeout as sleep } from 'node:timers/promises';
import { funnelRepository, type Funnel } from '../../shared/db/repositories/funnel.repository.js';
import { funnelWalkRepository } from '../../shared/db/repositories/funnel-walk.repository.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import type { Db } from '../../shared/db/pool.js';
import type { Logger } from '../../shared/logger.js';
import { nextSliceWidth, pauseAfterSlice } from './slices.js';

export interface WalkRebuildDeps {
  db: Db;
  logger: Logger;
  /** Target duration of one slice's transaction (ms); slices widen or narrow towards it. */
  sliceTargetMs: number;
  /** After each slice the rebuild pauses this many times its duration (as the backfill). */
  pauseRatio?: number;
}

export type WalkRebuildOutcome = 'done' | 'steps_pending' | 'superseded';

const HOUR = 3_600_000;
/** Rows of stale walks deleted per statement. */
const STALE_BATCH = 10_000;
/** How long a slice waits for a session row the live processor holds before it retries. */
const LOCK_TIMEOUT_MS = 250;
/** Consecutive lock timeouts of one slice before the rebuild fails (and its job retries). */
const MAX_LOCK_RETRIES = 120;

/**
 * Rebuilds a saved funnel's stored walks once every step's backfill is done at its current
 * version (called after each step's backfill; the last one to finish does the work), then
 * marks them complete for the funnel's definition version, from which on its results count
 * stored walks instead of walking matches.
 *
 * Deletes the walks left by replaced steps, then recomputes the walk of every session with a
 * match of step 1, newest first, one time slice per transaction: the slice's `sessions` rows
 * are locked first (the live processor holds them while it writes a session's matches and
 * refreshes its walk), so each recomputation sees every match written before it. A slice that
 * waits too long on the live processor gives way and is retried.
 */
export async function rebuildFunnelWalks(
  deps: WalkRebuildDeps,
  funnelId: string,
): Promise<WalkRebuildOutcome> {
  const { db } = deps;
  const funnel = await funnelRepository.findByRef(db, { id: funnelId });
  if (!funnel) return 'superseded';
  const steps = await goalRepository.stepsOfFunnels(db, [funnelId]);
  const pending = steps.some(
    (s) => s.backfill?.state !== 'done' || s.backfill.definition_version !== s.definition_version,
  );
  if (pending) return 'steps_pending';
  if (funnel.walks_version === funnel.definition_version) return 'done';
  const version = funnel.definition_version;
  const log = deps.logger.child({ funnel_id: funnelId, definition_version: version });
  const startedAt = Date.now();
  let stale = 0;
  for (let n = STALE_BATCH; n === STALE_BATCH; stale += n) {
    n = await funnelWalkRepository.deleteStale(db, funnelId, STALE_BATCH);
  }
  const sessions = await rebuildSlices(deps, { ...funnel, step1: steps[0]!.id }, log);
  if (sessions === 'superseded') return 'superseded';
  // The rebuilt pages all-visible, so that results read the walks from their index alone.
  await funnelWalkRepository.vacuum(db);
  if (!(await funnelWalkRepository.markReady(db, funnelId, version))) return 'superseded';
  log.info({ sessions, stale, seconds: (Date.now() - startedAt) / 1000 }, 'funnel_walks_rebuilt');
  return 'done';
}

/**
 * Rebuilds, one after the other, the walks of every funnel whose walks are behind its
 * definition and whose steps are all backfilled: funnels saved before stored walks existed,
 * or whose rebuild a stop interrupted. Run at start-up, in the background; a funnel that fails
 * is logged and left to walk its matches.
 */
export async function catchUpFunnelWalks(deps: WalkRebuildDeps): Promise<void> {
  for (const id of await funnelWalkRepository.behind(deps.db)) {
    try {
      const outcome = await rebuildFunnelWalks(deps, id);
      if (outcome !== 'steps_pending') {
        deps.logger.info({ funnel_id: id, outcome }, 'funnel_walks_caught_up');
      }
    } catch (err) {
      // One funnel's failure leaves the others to catch up; its results walk its matches.
      deps.logger.warn(
        { funnel_id: id, err: (err as Error).message },
        'funnel_walks_catch_up_failed',
      );
    }
  }
}

/**
 * Recomputes, newest first, the walks of the sessions with a step-1 match, one time slice per
 * transaction sized towards `sliceTargetMs`; resolves to the sessions recomputed, or
 * `superseded` once the funnel's definition moved on (checked with each progress log, at most
 * every 2 s).
 */
async function rebuildSlices(
  deps: WalkRebuildDeps,
  funnel: Funnel & { step1: string },
  log: Logger,
): Promise<number | 'superseded'> {
  const bounds = await funnelWalkRepository.step1Bounds(deps.db, funnel.step1);
  if (bounds === null) return 0;
  const [min, max] = [bounds.min.getTime(), bounds.max.getTime()];
  let [hi, width, retries, sessions, lastLogged] = [max + 1, HOUR, 0, 0, Date.now()];
  while (hi > min) {
    const lo = Math.max(min, hi - width);
    const t0 = performance.now();
    let n: number;
    try {
      n = await rebuildSlice(deps.db, funnel, new Date(lo), new Date(hi));
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03' || ++retries > MAX_LOCK_RETRIES) throw err;
      await sleep(LOCK_TIMEOUT_MS);
      continue; // the live processor held a session: the same slice again
    }
    [retries, sessions, hi] = [0, sessions + n, lo];
    const ms = performance.now() - t0;
    await pauseAfterSlice(ms, deps.pauseRatio);
    width = nextSliceWidth(width, ms, deps.sliceTargetMs);
    if (Date.now() - lastLogged >= 2_000) {
      lastLogged = Date.now();
      const current = await funnelRepository.findByRef(deps.db, { id: funnel.id });
      if (current?.definition_version !== funnel.definition_version) return 'superseded';
      const progress = Math.round(((max - hi) / (max - min || 1)) * 1000) / 1000;
      log.info({ sessions, progress }, 'funnel_walks_rebuild_progress');
    }
  }
  return sessions;
}

/** One slice's transaction: its sessions' rows locked, then their walks recomputed. */
async function rebuildSlice(
  db: Db,
  funnel: Funnel & { step1: string },
  lo: Date,
  hi: Date,
): Promise<number> {
  return db.tx(async (q) => {
    const ids = await funnelWalkRepository.lockStep1Sessions(
      q,
      funnel.website_id,
      funnel.step1,
      lo,
      hi,
      LOCK_TIMEOUT_MS,
    );
    await funnelWalkRepository.refresh(
      q,
      ids.map((id) => ({ funnel_id: funnel.id, session_id: id, website_id: funnel.website_id })),
    );
    return ids.length;
  });
}
