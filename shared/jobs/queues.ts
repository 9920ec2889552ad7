/** BullMQ queue and job names: one map, shared by producers (api) and workers (processor). */
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

export interface BackfillGoalJobData {
  website_id: string;
  goal_id: string;
  definition_version: number;
}

/** BullMQ refuses `:` in custom ids; identical versions collapse into one job. */
export const backfillJobId = (goalId: string, version: number) => `${goalId}-v${version}`;
