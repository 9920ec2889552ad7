import { funnelWalkRepository } from '../../shared/db/repositories/funnel-walk.repository.js';
import type { Queue, Worker } from 'bullmq';
import { conversionRepository } from '../../shared/db/repositories/conversion.repository.js';
import { eventRepository } from '../../shared/db/repositories/event.repository.js';
import type { Db } from '../../shared/db/pool.js';
import { sessionRepository } from '../../shared/db/repositories/session.repository.js';
import { createRetentionQueue, createWorker, JOB_QUEUE, JOBS } from '../../shared/jobs/queues.js';
import type { Logger } from '../../shared/logger.js';
import type { Redis } from '../../shared/redis/redis.js';

export interface RetentionResult {
  cutoff: string;
  event_chunks: number;
  conversion_chunks: number;
  sessions: number;
  funnel_walks: number;
}

/**
 * Drops event and conversion chunks entirely older than `retentionDays` (`drop_chunks`, so a
 * chunk goes only once all of it is past the cutoff: data lives between retentionDays and
 * retentionDays + chunk interval), and deletes the sessions and stored funnel walks that
 * ended before the cutoff.
 */
export async function dropExpired(
  db: Db,
  logger: Logger,
  retentionDays: number,
  now = new Date(),
): Promise<RetentionResult> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const events = await eventRepository.dropChunksOlderThan(db, cutoff);
  const conversions = await conversionRepository.dropChunksOlderThan(db, cutoff);
  const sessions = await sessionRepository.deleteEndedBefore(db, cutoff);
  const walks = await funnelWalkRepository.deleteEndedBefore(db, cutoff);
  const result = {
    cutoff: cutoff.toISOString(),
    event_chunks: events.length,
    conversion_chunks: conversions.length,
    sessions,
    funnel_walks: walks,
  };
  logger.info(result, 'retention_done');
  return result;
}

/**
 * Schedules the repeatable retention job (one scheduler id, so every processor instance
 * upserts the same schedule) and runs its worker.
 */
export async function startRetention(deps: {
  db: Db;
  logger: Logger;
  connection: Redis;
  prefix: string;
  retentionDays: number;
  everyMs: number;
}): Promise<{ queue: Queue; worker: Worker<unknown, RetentionResult> }> {
  const queue = createRetentionQueue(deps.connection, deps.prefix);
  await queue.upsertJobScheduler(
    JOBS.dropExpired,
    { every: deps.everyMs },
    { name: JOBS.dropExpired, opts: { removeOnComplete: 50, removeOnFail: 50 } },
  );
  const worker = createWorker<unknown, RetentionResult>(
    JOB_QUEUE[JOBS.dropExpired],
    deps.connection,
    deps.prefix,
    1,
    () => dropExpired(deps.db, deps.logger, deps.retentionDays),
  );
  worker.on('error', (err) => deps.logger.warn({ err: err.message }, 'retention_worker_error'));
  return { queue, worker };
}
