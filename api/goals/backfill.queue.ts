import { Queue } from 'bullmq';
import type { Redis } from '../../shared/redis/redis.js';
import { backfillJobId, JOBS, QUEUES, type BackfillGoalJobData } from '../../shared/jobs/queues.js';

export type BackfillQueue = Queue<BackfillGoalJobData>;

/**
 * The producer side of the backfill queue. The connection should be a fail-fast client
 * (`createRedis` without `forBullMQ`): a producer must not wait for Redis forever, the goal
 * write has already committed and the job is re-enqueued at start-up if it never arrives.
 * `prefix` is injectable so each test gets its own queue namespace.
 */
export function createBackfillQueue(connection: Redis, prefix?: string): BackfillQueue {
  return new Queue<BackfillGoalJobData>(QUEUES.backfill, {
    connection,
    ...(prefix ? { prefix } : {}),
    defaultJobOptions: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 5_000 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
}

/** Adds the job for this goal version; a second add of the same version collapses into one. */
export async function enqueueBackfill(
  queue: BackfillQueue | null,
  data: BackfillGoalJobData,
): Promise<void> {
  if (queue === null) throw new Error('no backfill queue configured');
  await queue.add(JOBS.backfillGoal, data, {
    jobId: backfillJobId(data.goal_id, data.definition_version),
  });
}
