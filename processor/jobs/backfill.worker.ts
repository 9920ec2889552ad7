import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import { conversionRepository, type ConversionRow } from '../../shared/db/conversion.repository.js';
import { eventRepository, type EventCursor } from '../../shared/db/event.repository.js';
import { goalRepository } from '../../shared/db/goal.repository.js';
import type { Db } from '../../shared/db/pool.js';
import {
  createBackfillWorker,
  JOBS,
  QUEUES,
  type BackfillGoalJobData,
} from '../../shared/jobs/queues.js';
import type { Logger } from '../../shared/logger.js';
import { compileGoals } from '../../shared/matching/goal-matcher.js';
import type { Redis } from '../../shared/redis/redis.js';
import { conversionRow } from '../consumer/conversions.js';

export interface BackfillDeps {
  db: Db;
  logger: Logger;
  /** Events per page; each page is one transaction. */
  pageSize: number;
  /**
   * How long after the definition change (the job's enqueue time) the live processor may
   * still match with the previous definition: its goal cache recheck plus a margin. The tail
   * pass waits until then.
   */
  settleMs: number;
  /**
   * Events inserted up to this long before the definition change are re-checked by the tail
   * pass: covers a live transaction that matched with the old definition and committed late.
   */
  tailMarginMs: number;
}

export type BackfillOutcome = 'done' | 'superseded' | 'goal_deleted';

/**
 * Recomputes one goal's conversions over all retained events of its website, page by page
 * in (event_time, event_id) order, while live processing goes on.
 *
 * Boundary with the live processor: both write with ON CONFLICT on (goal_id, event_id,
 * event_time), so an event matched by both is counted once. Each page's transaction deletes
 * the goal's conversions of exactly the scanned events that no longer match, and inserts or
 * corrects those that do; it never touches conversions of events it did not scan, so a live
 * conversion written meanwhile survives. The live processor switches to the new definition
 * within its cache recheck interval; events it matched with the old one were inserted from
 * shortly before the change on, so after the main pass a tail pass re-checks every event
 * whose `processed_at` is at or after (change − tailMargin), once `settleMs` has passed.
 *
 * Superseding: between pages the job re-reads the goal's `definition_version`; when it moved
 * on (a newer job exists) or the goal was deleted, the job stops without touching the status
 * (status updates are conditional on the version too).
 */
export async function runBackfill(
  deps: BackfillDeps,
  data: BackfillGoalJobData,
  changedAt: number,
  onProgress: (progress: number) => Promise<void> = async () => undefined,
): Promise<BackfillOutcome> {
  const { db, logger } = deps;
  const { goal_id: goalId, website_id: websiteId, definition_version: version } = data;
  const log = logger.child({ goal_id: goalId, definition_version: version });
  const current = await goalRepository.versionOf(db, goalId);
  if (!current) return 'goal_deleted';
  if (current.website_id !== websiteId) {
    throw new UnrecoverableError(`goal ${goalId} does not belong to ${websiteId}`);
  }
  if (current.definition_version > version) return 'superseded';
  if (current.definition_version < version) {
    throw new UnrecoverableError(
      `job for version ${version} but the goal is at ${current.definition_version}`,
    );
  }
  const def = (await goalRepository.definitionsForWebsite(db, websiteId)).find(
    (d) => d.id === goalId,
  );
  if (!def || def.definition_version !== version) return 'superseded';
  const [compiled] = compileGoals([def]);
  if (!compiled) throw new UnrecoverableError(`goal ${goalId} could not be compiled`);

  const startedAt = new Date().toISOString();
  const bounds = await eventRepository.bounds(db, websiteId);
  if (
    !(await goalRepository.updateBackfill(db, goalId, version, {
      state: 'running',
      progress: 0,
      events_scanned: 0,
      started_at: startedAt,
      finished_at: null,
      definition_version: version,
    }))
  ) {
    return 'superseded';
  }
  log.info({ website_id: websiteId, bounds }, 'backfill_started');

  let scanned = 0;
  let lastLogged = Date.now();
  const span = bounds ? Date.parse(bounds.max) - Date.parse(bounds.min) : 0;
  const progressAt = (time: string) =>
    bounds && span > 0
      ? Math.min(0.99, Math.max(0, (Date.parse(time) - Date.parse(bounds.min)) / span) * 0.99)
      : 0.99;

  /** Scans one pass; false when the goal moved on. */
  const pass = async (upTo: string | null, processedSince: Date | null): Promise<boolean> => {
    let after: EventCursor | null = null;
    for (;;) {
      const page = await eventRepository.scanPage(db, websiteId, {
        after,
        upTo,
        processedSince,
        limit: deps.pageSize,
      });
      if (page.length === 0) return true;
      const matched: ConversionRow[] = [];
      const unmatched: EventCursor[] = [];
      for (const ev of page) {
        if (compiled.matches(ev)) matched.push(conversionRow(def, compiled.value(ev), ev));
        else unmatched.push(ev);
      }
      scanned += page.length;
      after = page[page.length - 1]!;
      const progress = processedSince ? 0.99 : progressAt(after.event_time);
      const stillCurrent = await db.tx(async (q) => {
        // The conditional status update doubles as the version check: it locks the goal row,
        // so a concurrent definition change waits for this page or makes it stop.
        const ok = await goalRepository.updateBackfill(q, goalId, version, {
          progress: Math.round(progress * 10_000) / 10_000,
          events_scanned: scanned,
        });
        if (ok) await conversionRepository.replaceForEvents(q, goalId, unmatched, matched);
        return ok;
      });
      if (!stillCurrent) return false;
      await onProgress(progress);
      if (Date.now() - lastLogged > 5_000) {
        lastLogged = Date.now();
        log.info({ events_scanned: scanned, progress }, 'backfill_progress');
      }
      if (page.length < deps.pageSize) return true;
    }
  };

  if (bounds && !(await pass(bounds.max, null))) {
    log.info({ events_scanned: scanned }, 'backfill_superseded');
    return 'superseded';
  }
  const settleUntil = changedAt + deps.settleMs;
  if (Date.now() < settleUntil) await new Promise((r) => setTimeout(r, settleUntil - Date.now()));
  if (!(await pass(null, new Date(changedAt - deps.tailMarginMs)))) {
    log.info({ events_scanned: scanned }, 'backfill_superseded');
    return 'superseded';
  }
  await goalRepository.updateBackfill(db, goalId, version, {
    state: 'done',
    progress: 1,
    events_scanned: scanned,
    finished_at: new Date().toISOString(),
  });
  log.info({ events_scanned: scanned }, 'backfill_done');
  return 'done';
}

/**
 * The BullMQ worker of the `goalpost-backfill` queue. `connection` must be a client made with
 * `forBullMQ` (maxRetriesPerRequest: null). A job that fails for good leaves state `failed`.
 */
export function startBackfillWorker(
  deps: BackfillDeps & { connection: Redis; prefix: string; concurrency: number },
): Worker<BackfillGoalJobData, BackfillOutcome> {
  const worker = createBackfillWorker<BackfillOutcome>(
    deps.connection,
    deps.prefix,
    deps.concurrency,
    async (job: Job<BackfillGoalJobData, BackfillOutcome>) => {
      if (job.name !== JOBS.backfillGoal) {
        throw new UnrecoverableError(`unknown job ${job.name} on ${QUEUES.backfill}`);
      }
      try {
        return await runBackfill(deps, job.data, job.timestamp, (p) => job.updateProgress(p));
      } catch (err) {
        const final =
          err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        deps.logger.error(
          { err: (err as Error).message, goal_id: job.data.goal_id, final },
          'backfill_failed',
        );
        if (final) {
          await goalRepository
            .updateBackfill(deps.db, job.data.goal_id, job.data.definition_version, {
              state: 'failed',
              finished_at: new Date().toISOString(),
              error: (err as Error).message.slice(0, 300),
            })
            .catch(() => undefined);
        }
        throw err;
      }
    },
  );
  worker.on('error', (err) => deps.logger.warn({ err: err.message }, 'backfill_worker_error'));
  return worker;
}
