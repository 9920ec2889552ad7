import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import { conversionRepository, type ConversionRow } from '../../shared/db/conversion.repository.js';
import {
  eventRepository,
  type EventCursor,
  type ScannedEvent,
} from '../../shared/db/event.repository.js';
import { goalRepository } from '../../shared/db/goal.repository.js';
import type { Db } from '../../shared/db/pool.js';
import {
  createWorker,
  JOB_QUEUE,
  JOBS,
  QUEUES,
  type BackfillGoalJobData,
} from '../../shared/jobs/queues.js';
import type { Logger } from '../../shared/logger.js';
import { compileGoal, type CompiledGoal } from '../../shared/matching/goal-matcher.js';
import type { GoalDefinition } from '../../shared/goals/goal-definition.js';
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
  const def = await currentDefinition(deps.db, data);
  if (typeof def === 'string') return def;
  const run = new BackfillRun(deps, def, onProgress);
  const bounds = await eventRepository.bounds(deps.db, data.website_id);
  if (!(await run.start(bounds))) return 'superseded';
  const mainPass = bounds === null || (await run.pass(bounds.max, null));
  if (mainPass) {
    const settleUntil = changedAt + deps.settleMs;
    if (Date.now() < settleUntil) await new Promise((r) => setTimeout(r, settleUntil - Date.now()));
  }
  if (!mainPass || !(await run.pass(null, new Date(changedAt - deps.tailMarginMs)))) {
    run.log.info({ events_scanned: run.scanned }, 'backfill_superseded');
    return 'superseded';
  }
  await run.finish();
  return 'done';
}

/**
 * The goal's definition at the job's version, or why there is nothing to do: the goal was
 * deleted, or a newer version superseded the job. A job ahead of its goal, or for another
 * website, can never succeed.
 */
async function currentDefinition(
  db: Db,
  data: BackfillGoalJobData,
): Promise<GoalDefinition | 'superseded' | 'goal_deleted'> {
  const { goal_id: goalId, website_id: websiteId, definition_version: version } = data;
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
  return def && def.definition_version === version ? def : 'superseded';
}

/** One backfill of one goal version: its passes over the events, counters and status. */
class BackfillRun {
  readonly log: Logger;
  scanned = 0;
  private readonly compiled: CompiledGoal;
  private progressAt: (eventTime: string) => number = () => 0.99;
  private lastLogged = Date.now();

  constructor(
    private readonly deps: BackfillDeps,
    private readonly def: GoalDefinition,
    private readonly onProgress: (progress: number) => Promise<void>,
  ) {
    this.log = deps.logger.child({ goal_id: def.id, definition_version: def.definition_version });
    this.compiled = compileGoal(def);
  }

  /** Marks the backfill running; false when the goal moved on meanwhile. */
  async start(bounds: { min: string; max: string } | null): Promise<boolean> {
    const span = bounds ? Date.parse(bounds.max) - Date.parse(bounds.min) : 0;
    if (bounds && span > 0) {
      const min = Date.parse(bounds.min);
      this.progressAt = (t) => Math.min(0.99, Math.max(0, (Date.parse(t) - min) / span) * 0.99);
    }
    const ok = await goalRepository.updateBackfill(
      this.deps.db,
      this.def.id,
      this.def.definition_version,
      {
        state: 'running',
        progress: 0,
        events_scanned: 0,
        started_at: new Date().toISOString(),
        finished_at: null,
        definition_version: this.def.definition_version,
      },
    );
    if (ok) this.log.info({ website_id: this.def.website_id, bounds }, 'backfill_started');
    return ok;
  }

  /**
   * Scans the website's events up to `upTo` (all when null), or with `processedSince` only
   * those the processor inserted since then, page by page; false when the goal moved on.
   */
  async pass(upTo: string | null, processedSince: Date | null): Promise<boolean> {
    let after: EventCursor | null = null;
    for (;;) {
      const page = await eventRepository.scanPage(this.deps.db, this.def.website_id, {
        after,
        upTo,
        processedSince,
        limit: this.deps.pageSize,
      });
      if (page.length === 0) return true;
      after = page[page.length - 1]!;
      const progress = processedSince ? 0.99 : this.progressAt(after.event_time);
      if (!(await this.writePage(page, progress))) return false;
      if (page.length < this.deps.pageSize) return true;
    }
  }

  /** Matches one page and makes the goal's conversions of its events agree, in one transaction. */
  private async writePage(page: ScannedEvent[], progress: number): Promise<boolean> {
    const matched: ConversionRow[] = [];
    const unmatched: EventCursor[] = [];
    for (const ev of page) {
      if (this.compiled.matches(ev)) {
        matched.push(conversionRow(this.def, this.compiled.value(ev), ev));
      } else {
        unmatched.push(ev);
      }
    }
    this.scanned += page.length;
    const { id, definition_version: version } = this.def;
    const stillCurrent = await this.deps.db.tx(async (q) => {
      // The conditional status update doubles as the version check: it locks the goal row,
      // so a concurrent definition change waits for this page or makes it stop.
      const ok = await goalRepository.updateBackfill(q, id, version, {
        progress: Math.round(progress * 10_000) / 10_000,
        events_scanned: this.scanned,
      });
      if (ok) await conversionRepository.replaceForEvents(q, id, unmatched, matched);
      return ok;
    });
    if (!stillCurrent) return false;
    await this.onProgress(progress);
    if (Date.now() - this.lastLogged > 5_000) {
      this.lastLogged = Date.now();
      this.log.info({ events_scanned: this.scanned, progress }, 'backfill_progress');
    }
    return true;
  }

  async finish(): Promise<void> {
    await goalRepository.updateBackfill(this.deps.db, this.def.id, this.def.definition_version, {
      state: 'done',
      progress: 1,
      events_scanned: this.scanned,
      finished_at: new Date().toISOString(),
    });
    this.log.info({ events_scanned: this.scanned }, 'backfill_done');
  }
}

/**
 * The BullMQ worker of the `goalpost-backfill` queue. `connection` must be a client made with
 * `forBullMQ` (maxRetriesPerRequest: null). A job that fails for good leaves state `failed`.
 */
export function startBackfillWorker(
  deps: BackfillDeps & { connection: Redis; prefix: string; concurrency: number },
): Worker<BackfillGoalJobData, BackfillOutcome> {
  const worker = createWorker<BackfillGoalJobData, BackfillOutcome>(
    JOB_QUEUE[JOBS.backfillGoal],
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
