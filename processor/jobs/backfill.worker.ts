import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import {
  backfillRepository,
  conversionRepository,
  type BackfillSlice,
  type ConditionRenderer,
  type ConversionRow,
} from '../../shared/db/repositories/conversion.repository.js';
import {
  eventRepository,
  type ScannedEvent,
} from '../../shared/db/repositories/event.repository.js';
import { SqlParams } from '../../shared/db/sql-params.js';
import { goalConditionSql } from '../../shared/matching/goal-condition-sql.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import type { Db, Queryable } from '../../shared/db/pool.js';
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
import { rebuildFunnelWalks } from './funnel-walks.js';
import { nextSliceWidth, pauseAfterSlice } from './slices.js';

export interface BackfillDeps {
  db: Db;
  logger: Logger;
  /**
   * Target duration of one slice's statements (ms). Slices start an hour wide and then widen
   * or narrow (at most 4× per slice) so that each takes about this long: a statement stays
   * short under load, and the goal's progress moves at least once per slice.
   */
  sliceTargetMs: number;
  /**
   * After each slice the job pauses for this many times the slice's duration (0: none), so
   * that it takes at most 1 / (1 + ratio) of one database connection's time and leaves the
   * rest of a small machine to live processing.
   */
  pauseRatio?: number;
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
 * How a goal is backfilled:
 * - `set`: its condition renders as SQL (`goalConditionSql`) and every conversion has the same
 *   value (`none`, `fixed`): one `INSERT … SELECT … ON CONFLICT` per slice, in the database;
 * - `sql_condition`: the condition renders but values come from an event property: the
 *   database returns the slice's matching events, the matcher computes each value (exact
 *   decimals from the parsed JSON, as the live processor does) and they are written back in
 *   one multi-row upsert; the rejected events' conversions are deleted by the condition;
 * - `streamed`: the condition cannot be rendered: every event of the slice is read and
 *   matched in process, and the result written back in bulk.
 */
export type BackfillPlan = 'set' | 'sql_condition' | 'streamed';

/** The plan for `def` (see {@link BackfillPlan}). */
export function backfillPlan(def: GoalDefinition): BackfillPlan {
  if (goalConditionSql(def, new SqlParams()) === null) return 'streamed';
  return def.value_mode === 'event_property' ? 'sql_condition' : 'set';
}

/** The first slice's width; later ones adapt to {@link BackfillDeps.sliceTargetMs}. */
const FIRST_SLICE_MS = 3_600_000;
/**
 * How often at most the job logs its progress. The goal's status moves more often: after every
 * slice (about {@link BackfillDeps.sliceTargetMs}, at most 1 s, plus a pause of at most
 * `MAX_PAUSE_MS` of ./slices.ts) and every {@link SETTLE_TICK_MS} while the job waits for the live
 * processor to settle, so it moves at least every 2 s.
 */
const LOG_EVERY_MS = 2_000;
const SETTLE_TICK_MS = 500;
/**
 * Progress shares of the phases: the main pass up to {@link MAIN_PASS_END} by event time
 * covered, the wait for the live processor to settle up to {@link TAIL_PASS_START} by time
 * waited, the tail pass up to 0.99 by event time covered; 1 only once done.
 */
const MAIN_PASS_END = 0.95;
const TAIL_PASS_START = 0.97;

/**
 * Recomputes one goal's conversions over all retained events of its website, one time slice
 * at a time, newest first, while live processing goes on.
 *
 * Newest first: the recent days, which dashboards show by default, are right first, and a
 * slice's work is bounded by its width, which adapts to the slice's measured duration, so
 * each statement stays short (it holds no lock the live processor waits for; see
 * backfillRepository) and live processing keeps going beside it.
 *
 * Boundary with the live processor: both write with ON CONFLICT on (goal_id, event_id,
 * event_time), so an event matched by both is counted once. Each slice deletes the goal's
 * conversions of exactly the events it scanned that no longer match, and inserts or corrects
 * those that do; it never touches conversions of events it did not see, so a live conversion
 * written meanwhile survives. The live processor switches to the new definition within its
 * cache recheck interval; events it matched with the old one were inserted from shortly
 * before the change on, so after the main pass a tail pass re-checks every event whose
 * `processed_at` is at or after (change − tailMargin), once `settleMs` has passed.
 *
 * Superseding: each slice's writes run in one transaction that first updates the goal's
 * backfill status conditionally on its `definition_version`; when the version moved on (a
 * newer job exists) or the goal was deleted, the job stops without touching the status.
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
  const ok =
    (bounds === null || (await run.mainPass(bounds))) &&
    (await run.settle(changedAt + deps.settleMs)) &&
    (await run.tailPass(bounds, new Date(changedAt - deps.tailMarginMs)));
  if (!ok) {
    run.log.info({ events_scanned: run.scanned }, 'backfill_superseded');
    return 'superseded';
  }
  await run.finish();
  // A funnel step: once its funnel's last step is done, its stored walks are rebuilt.
  if (def.funnel_id) await rebuildFunnelWalks(deps, def.funnel_id);
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
  private readonly plan: BackfillPlan;
  private readonly startedAt = Date.now();
  private lastLogged = 0;

  constructor(
    private readonly deps: BackfillDeps,
    private readonly def: GoalDefinition,
    private readonly onProgress: (progress: number) => Promise<void>,
  ) {
    this.log = deps.logger.child({ goal_id: def.id, definition_version: def.definition_version });
    this.compiled = compileGoal(def);
    this.plan = backfillPlan(def);
  }

  /** The condition as SQL over `e` (only called by plans that have one). */
  private readonly condition: ConditionRenderer = (p) => {
    const sql = goalConditionSql(this.def, p);
    if (sql === null) throw new Error('the goal condition has no SQL rendering');
    return sql;
  };

  /** Marks the backfill running; false when the goal moved on meanwhile. */
  async start(bounds: { min: string; max: string } | null): Promise<boolean> {
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
    if (ok) {
      this.log.info(
        { website_id: this.def.website_id, bounds, plan: this.plan },
        'backfill_started',
      );
    }
    return ok;
  }

  /**
   * The main pass: the website's events chunk by chunk of the `events` hypertable, newest
   * first, each chunk in slices `[lo, hi)` that tile its range exactly (its own bounds are the
   * first slice's `hi` and the last's `lo`), so no event falls between slices or in two.
   * Statements name the chunk's table, so PostgreSQL plans one table instead of expanding the
   * hypertable over every chunk (tens to hundreds of ms per statement over 90 chunks). Chunks
   * outside the website's [min, max] are skipped; one dropped by retention meanwhile too.
   * False when the goal moved on.
   */
  async mainPass(bounds: { min: string; max: string }): Promise<boolean> {
    const min = Date.parse(bounds.min);
    const top = Date.parse(bounds.max) + 1;
    const width = { ms: FIRST_SLICE_MS };
    for (const chunk of await backfillRepository.chunks(this.deps.db)) {
      const start = Date.parse(chunk.start);
      const end = Date.parse(chunk.end);
      if (end <= min || start >= top) continue;
      const outcome = await this.slices(
        chunk.table,
        chunk.start,
        chunk.end,
        Math.min(end, top),
        width,
        null,
        (loMs) => share(top - Math.max(loMs, min), top - min, 0, MAIN_PASS_END),
      );
      if (outcome === 'superseded') return false;
    }
    return true;
  }

  /**
   * The tail pass: the events the processor inserted since `processedSince`, wherever their
   * times fall, in slices of the hypertable from +infinity down to -infinity. They are few
   * and found through the BRIN index on `processed_at`, so slices widen fast. False when the
   * goal moved on.
   */
  async tailPass(
    bounds: { min: string; max: string } | null,
    processedSince: Date,
  ): Promise<boolean> {
    const from = Date.now();
    const floor = bounds ? Date.parse(bounds.min) : from;
    const outcome = await this.slices(
      'events',
      '-infinity',
      'infinity',
      from,
      { ms: FIRST_SLICE_MS },
      processedSince,
      (loMs) => share(from - Math.max(loMs, floor), from - floor, TAIL_PASS_START, 0.99),
      floor,
    );
    return outcome !== 'superseded';
  }

  /**
   * Waits until `until` (the live processor has switched to this definition by then), moving
   * the progress through the wait's share every {@link SETTLE_TICK_MS}. False when the goal
   * moved on meanwhile.
   */
  async settle(until: number): Promise<boolean> {
    const from = Date.now();
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, Math.min(SETTLE_TICK_MS, until - Date.now())));
      const progress = share(Date.now() - from, until - from, MAIN_PASS_END, TAIL_PASS_START);
      const { id, definition_version: version } = this.def;
      if (
        !(await goalRepository.updateBackfill(this.deps.db, id, version, {
          progress: round(progress),
        }))
      ) {
        return false;
      }
      await this.onProgress(progress);
    }
    return true;
  }

  /**
   * Slices `[lo, hi)` of `table` from `hi` down to `lo`, newest first, the first below `hi`
   * ending at `fromMs − width` and each next one as wide as the slice target allows (`width`
   * carries over between calls); below `floorMs` (default: `lo`) one last slice reaches `lo`.
   */
  private async slices(
    table: string,
    lo: string,
    hi: string,
    fromMs: number,
    width: { ms: number },
    processedSince: Date | null,
    progressAt: (loMs: number) => number,
    floorMs = Date.parse(lo),
  ): Promise<'ok' | 'superseded' | 'chunk_gone'> {
    let sliceHi = hi;
    let hiMs = fromMs;
    for (;;) {
      const loMs = hiMs - width.ms;
      const last = !(loMs > floorMs);
      const sliceLo = last ? lo : new Date(loMs).toISOString();
      const started = performance.now();
      const slice: BackfillSlice = {
        table,
        websiteId: this.def.website_id,
        lo: sliceLo,
        hi: sliceHi,
        processedSince,
      };
      const outcome = await this.runSlice(slice, progressAt(loMs));
      if (outcome !== 'ok' || last) return outcome;
      const ms = Math.max(1, performance.now() - started);
      await pauseAfterSlice(ms, this.deps.pauseRatio);
      width.ms = nextSliceWidth(width.ms, ms, this.deps.sliceTargetMs);
      sliceHi = sliceLo;
      hiMs = loMs;
    }
  }

  /** One slice by the goal's plan, its writes and status update in one transaction. */
  private async runSlice(
    slice: BackfillSlice,
    progress: number,
  ): Promise<'ok' | 'superseded' | 'chunk_gone'> {
    try {
      return (await this.runSliceOnce(slice, progress)) ? 'ok' : 'superseded';
    } catch (err) {
      // 42P01 undefined_table: retention dropped the chunk (its events and conversions with it).
      if ((err as { code?: unknown }).code === '42P01') return 'chunk_gone';
      throw err;
    }
  }

  private async runSliceOnce(slice: BackfillSlice, progress: number): Promise<boolean> {
    const { db } = this.deps;
    let scanned: number;
    let write: (q: Queryable) => Promise<void>;
    if (this.plan === 'set') {
      // Value, currency and version exactly as the live processor's conversion row has them
      // (the value of `none` and `fixed` goals does not depend on the event).
      const row = conversionRow(this.def, this.compiled.value(NO_EVENT), NO_EVENT);
      scanned = 0;
      write = async (q) => {
        scanned = (await backfillRepository.applySlice(q, slice, row, this.condition)).scanned;
      };
    } else {
      const filtered = this.plan === 'sql_condition';
      const events = await backfillRepository.readSlice(
        db,
        slice,
        filtered ? this.condition : null,
      );
      scanned = filtered ? await backfillRepository.countSlice(db, slice) : events.length;
      const existing = await backfillRepository.conversionsOfSlice(db, this.def.id, slice);
      const matched: ConversionRow[] = [];
      const unmatched: ScannedEvent[] = [];
      for (const ev of events) {
        const had = existing.get(ev.event_id);
        if (this.compiled.matches(ev)) {
          const row = conversionRow(this.def, this.compiled.value(ev), ev);
          const same =
            had !== undefined &&
            had.currency === row.currency &&
            had.definition_version === row.definition_version &&
            // The same decimal text (value and scale); anything else is rewritten.
            had.value === row.value;
          if (!same) matched.push(row);
        } else if (had !== undefined) {
          unmatched.push(ev);
        }
      }
      write = async (q) => {
        await conversionRepository.replaceForEvents(q, this.def.id, unmatched, matched);
        if (filtered)
          await backfillRepository.deleteUnmatched(q, this.def.id, slice, this.condition);
      };
    }
    const { id, definition_version: version } = this.def;
    const stillCurrent = await db.tx(async (q) => {
      // The conditional status update doubles as the version check: it locks the goal row,
      // so a concurrent definition change waits for this slice or makes it stop. It comes
      // first and is the only lock the slice takes besides the conversions it writes.
      if (!(await goalRepository.updateBackfill(q, id, version, { progress: round(progress) }))) {
        return false;
      }
      await write(q);
      await goalRepository.updateBackfill(q, id, version, {
        events_scanned: this.scanned + scanned,
      });
      return true;
    });
    if (!stillCurrent) return false;
    this.scanned += scanned;
    await this.onProgress(progress);
    if (Date.now() - this.lastLogged >= LOG_EVERY_MS) {
      this.lastLogged = Date.now();
      const seconds = (Date.now() - this.startedAt) / 1000;
      this.log.info(
        {
          events_scanned: this.scanned,
          progress: round(progress),
          events_per_s: Math.round(this.scanned / Math.max(seconds, 0.001)),
          plan: this.plan,
        },
        'backfill_progress',
      );
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
    const seconds = (Date.now() - this.startedAt) / 1000;
    this.log.info({ events_scanned: this.scanned, seconds, plan: this.plan }, 'backfill_done');
  }
}

/** A stand-in event for values that do not depend on the event (`none`, `fixed`). */
const NO_EVENT: ScannedEvent = {
  event_id: '00000000-0000-0000-0000-000000000000',
  event_time: '1970-01-01T00:00:00.000000Z',
  website_id: '',
  session_id: '',
  type: '',
  event_name: null,
  hostname: null,
  path: null,
  querystring: null,
  properties: null,
  is_bot: false,
  seq: 0,
  utm_source: null,
  utm_medium: null,
  referrer_domain: null,
};

const round = (p: number) => Math.round(p * 10_000) / 10_000;

/** The progress `done / total` of a phase mapped onto its share `[from, to]`. */
const share = (done: number, total: number, from: number, to: number) =>
  total <= 0 ? to : from + (to - from) * Math.min(1, Math.max(0, done / total));

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
