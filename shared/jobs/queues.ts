import { Queue, Worker, type Processor } from 'bullmq';
import type { Redis } from '../redis/redis.js';

/**
 * The BullMQ queues of Goalpost: one owner of their names, key prefix, job options and
 * payloads, for the producers (the API enqueues backfills) and the workers (the processor).
 * Both sides take the prefix from the same config fragment (`JobsEnv.BULLMQ_PREFIX`), so a
 * job is always enqueued where a worker listens.
 */
export const QUEUES = {
  backfill: 'goalpost-backfill',
  retention: 'goalpost-retention',
} as const;

export const JOBS = {
  backfillGoal: 'backfill-goal',
  dropExpired: 'drop-expired',
} as const;

export const JOB_QUEUE = {
  [JOBS.backfillGoal]: QUEUES.backfill,
  [JOBS.dropExpired]: QUEUES.retention,
} as const;

/** The payload of a backfill job: one goal at one definition version. */
export interface BackfillGoalJobData {
  website_id: string;
  goal_id: string;
  definition_version: number;
}

export type BackfillQueue = Queue<BackfillGoalJobData>;

/** BullMQ refuses `:` in custom ids; identical versions collapse into one job. */
export const backfillJobId = (goalId: string, version: number) => `${goalId}-v${version}`;

/**
 * The producer side of the backfill queue. The connection should be a fail-fast client
 * (`createRedis` without `forBullMQ`): a producer must not wait for Redis forever; the goal
 * write has already committed and the job is re-enqueued at start-up if it never arrives.
 */
export function createBackfillQueue(connection: Redis, prefix: string): BackfillQueue {
  return new Queue<BackfillGoalJobData>(JOB_QUEUE[JOBS.backfillGoal], {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 5_000 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
}

/** Adds the job for this goal version; a second add of the same version collapses into one. */
export async function enqueueBackfill(queue: BackfillQueue, data: BackfillGoalJobData) {
  await queue.add(JOBS.backfillGoal, data, {
    jobId: backfillJobId(data.goal_id, data.definition_version),
  });
}

/**
 * A worker of one of these queues. `connection` must be a client made with `forBullMQ`
 * (maxRetriesPerRequest: null).
 */
export function createWorker<D, R>(
  queue: (typeof QUEUES)[keyof typeof QUEUES],
  connection: Redis,
  prefix: string,
  concurrency: number,
  processor: Processor<D, R>,
): Worker<D, R> {
  return new Worker<D, R>(queue, processor, { connection, prefix, concurrency });
}

/** The retention queue (a repeatable job every processor instance schedules idempotently). */
export function createRetentionQueue(connection: Redis, prefix: string): Queue {
  return new Queue(JOB_QUEUE[JOBS.dropExpired], { connection, prefix });
}
