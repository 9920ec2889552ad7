import type { Funnel } from '../../shared/db/repositories/funnel.repository.js';
import type { StepGoal } from '../../shared/db/repositories/goal.repository.js';
import type { BackfillStatus } from '../../shared/goals/backfill-status.js';

/** A funnel with its steps (step goals, in order) and the backfill of their past matches. */
export interface FunnelView extends Funnel {
  steps: StepGoal[];
  /**
   * The steps' backfills as one: `failed` if any failed, else `running` while any runs (or
   * `queued` while all wait), else `done`; progress the mean; events scanned the sum.
   */
  backfill: BackfillStatus | null;
}
