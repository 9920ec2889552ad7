import { queuedBackfill, type BackfillStatus } from '../../goals/backfill-status.js';
import type { GoalDefinition } from '../../goals/goal-definition.js';
import type { EntityRef } from '../../ids.js';
import type { Queryable } from '../pool.js';
import { isConstraintError } from '../pg-error.js';

export interface Goal extends GoalDefinition {
  /** Pageview goals: the exact hostname required (migration 015); null = any host. */
  hostname: string | null;
  numeric_id: number;
  name: string;
  description: string | null;
  backfill: BackfillStatus | null;
  /** Why the stored pattern cannot run (see migration 010); null when it runs. */
  pattern_issue: string | null;
  /** The JavaScript-era text the stored-pattern check rewrote into `match_value`. */
  pattern_rewritten_from: string | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * A goal row that is a funnel's step (migration 016): matched and backfilled like any goal, but
 * no goal route, list, limit or name rule sees it. `name` holds the step's label.
 */
export interface StepGoal extends Goal {
  funnel_id: string;
  step_order: number;
}

export type NewGoal = Omit<
  Goal,
  | 'hostname'
  | 'numeric_id'
  | 'created_at'
  | 'updated_at'
  | 'definition_version'
  | 'backfill'
  | 'pattern_issue'
  | 'pattern_rewritten_from'
> & { hostname?: string | null };

/** The fields an update may change (everything but identity and timestamps). */
export type GoalChanges = Omit<NewGoal, 'id' | 'website_id' | 'goal_type'>;

const COLUMNS = `id, numeric_id, website_id, name, description, goal_type, match_operator,
  match_value, case_sensitive, property_filters, value_mode, fixed_value, value_property_key,
  currency, definition_version, backfill, pattern_issue, pattern_rewritten_from, created_at,
  updated_at, hostname`;

/** The insert or rename hit the per-website case-insensitive name uniqueness (migration 002). */
export const isDuplicateGoalName = (err: unknown): boolean =>
  isConstraintError(err, '23505', 'goals_website_name_ci_key');

/** The insert hit the 50-goals-per-website limit enforced by the trigger of migration 002. */
export const isGoalLimitExceeded = (err: unknown): boolean =>
  isConstraintError(err, '23514', 'goals_per_website_limit');

/** Goals per website; the database trigger of migration 002 enforces the same number. */
export const MAX_GOALS_PER_WEBSITE = 50;

export const goalRepository = {
  /** Inserts a goal at definition version 1 with a queued backfill. */
  async create(
    q: Queryable,
    g: NewGoal,
    step?: { funnel_id: string; step_order: number },
  ): Promise<Goal> {
    const { rows } = await q.query<Goal>(
      'goal.create',
      `INSERT INTO goals (id, website_id, name, description, goal_type, match_operator,
         match_value, case_sensitive, property_filters, value_mode, fixed_value,
         value_property_key, currency, definition_version, backfill, hostname, funnel_id,
         step_order)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $16, $17)
       RETURNING ${COLUMNS}`,
      [
        g.id,
        g.website_id,
        g.name,
        g.description,
        g.goal_type,
        g.match_operator,
        g.match_value,
        g.case_sensitive,
        JSON.stringify(g.property_filters),
        g.value_mode,
        g.fixed_value,
        g.value_property_key,
        g.currency,
        JSON.stringify(queuedBackfill(1)),
        g.hostname ?? null,
        step?.funnel_id ?? null,
        step?.step_order ?? null,
      ],
    );
    return rows[0]!;
  },

  /** Deletes a funnel's step goals (its steps are being replaced); their conversions stay. */
  async deleteSteps(q: Queryable, funnelId: string): Promise<void> {
    await q.query('goal.delete_steps', 'DELETE FROM goals WHERE funnel_id = $1', [funnelId]);
  },

  /** Sets the labels (`name`) of a funnel's step goals, step 1 first. */
  async relabelSteps(q: Queryable, funnelId: string, labels: readonly string[]): Promise<void> {
    await q.query(
      'goal.relabel_steps',
      `UPDATE goals g SET name = l.label, updated_at = now()
         FROM unnest($2::text[]) WITH ORDINALITY AS l(label, n)
        WHERE g.funnel_id = $1 AND g.step_order = l.n AND g.name IS DISTINCT FROM l.label`,
      [funnelId, labels],
    );
  },

  /** The step goals of these funnels, by funnel and step order. */
  async stepsOfFunnels(q: Queryable, funnelIds: readonly string[]): Promise<StepGoal[]> {
    const { rows } = await q.query<StepGoal>(
      'goal.steps_of_funnels',
      `SELECT ${COLUMNS}, funnel_id, step_order FROM goals
        WHERE funnel_id = ANY($1) ORDER BY funnel_id, step_order`,
      [funnelIds],
    );
    return rows;
  },

  async findById(q: Queryable, websiteId: string, goalId: string): Promise<Goal | null> {
    const { rows } = await q.query<Goal>(
      'goal.find_by_id',
      `SELECT ${COLUMNS} FROM goals WHERE website_id = $1 AND id = $2 AND funnel_id IS NULL`,
      [websiteId, goalId],
    );
    return rows[0] ?? null;
  },

  /**
   * The goal named by `goal_…` id or numeric id, only if it belongs to this website. With
   * `forUpdate` the row is locked until the surrounding transaction ends.
   */
  async findByRef(
    q: Queryable,
    websiteId: string,
    ref: EntityRef,
    opts: { forUpdate?: boolean } = {},
  ): Promise<Goal | null> {
    const { rows } = await q.query<Goal>(
      'goal.find_by_ref',
      `SELECT ${COLUMNS} FROM goals
        WHERE website_id = $1 AND ${'id' in ref ? 'id' : 'numeric_id'} = $2
          AND funnel_id IS NULL
        ${opts.forUpdate ? 'FOR UPDATE' : ''}`,
      [websiteId, 'id' in ref ? ref.id : ref.numericId],
    );
    return rows[0] ?? null;
  },

  async listForWebsite(q: Queryable, websiteId: string): Promise<Goal[]> {
    const { rows } = await q.query<Goal>(
      'goal.list_for_website',
      `SELECT ${COLUMNS} FROM goals WHERE website_id = $1 AND funnel_id IS NULL
        ORDER BY created_at, numeric_id`,
      [websiteId],
    );
    return rows;
  },

  /** Lower-cased names of this website's goals that start with `prefix` (case-insensitive). */
  async namesLike(q: Queryable, websiteId: string, prefix: string): Promise<Set<string>> {
    const { rows } = await q.query<{ name: string }>(
      'goal.names_like',
      `SELECT lower(name) AS name FROM goals
        WHERE website_id = $1 AND funnel_id IS NULL
          AND left(lower(name), length($2)) = lower($2)`,
      [websiteId, prefix],
    );
    return new Set(rows.map((r) => r.name));
  },

  /**
   * Writes the changed fields of a goal the caller read (and locked) in this transaction as
   * `existing`. With `bumpVersion`, the definition version becomes `existing`'s + 1 and the
   * backfill is reset to queued for it, in the same statement; the version check makes a
   * caller that did not hold the lock fail loudly instead of skipping a version. With
   * `clearPatternIssue` (the caller validated the pattern against the current engine), the
   * stored-pattern check's notes are cleared.
   */
  async update(
    q: Queryable,
    existing: Pick<Goal, 'id' | 'website_id' | 'definition_version'>,
    c: GoalChanges,
    bumpVersion: boolean,
    clearPatternIssue = false,
  ): Promise<Goal> {
    const version = existing.definition_version + (bumpVersion ? 1 : 0);
    const { rows } = await q.query<Goal>(
      'goal.update',
      `UPDATE goals SET
         name = $4, description = $5, match_operator = $6, match_value = $7,
         case_sensitive = $8, property_filters = $9, value_mode = $10, fixed_value = $11,
         value_property_key = $12, currency = $13, updated_at = now(),
         definition_version = $14, backfill = COALESCE($15::jsonb, backfill),
         pattern_issue = CASE WHEN $16 THEN NULL ELSE pattern_issue END,
         pattern_rewritten_from = CASE WHEN $16 THEN NULL ELSE pattern_rewritten_from END,
         pattern_engine = CASE WHEN $16 THEN 2 ELSE pattern_engine END,
         hostname = $17
       WHERE website_id = $1 AND id = $2 AND definition_version = $3
       RETURNING ${COLUMNS}`,
      [
        existing.website_id,
        existing.id,
        existing.definition_version,
        c.name,
        c.description,
        c.match_operator,
        c.match_value,
        c.case_sensitive,
        JSON.stringify(c.property_filters),
        c.value_mode,
        c.fixed_value,
        c.value_property_key,
        c.currency,
        version,
        bumpVersion ? JSON.stringify(queuedBackfill(version)) : null,
        clearPatternIssue,
        c.hostname ?? null,
      ],
    );
    const goal = rows[0];
    if (!goal) throw new Error(`goal ${existing.id} changed while it was being updated`);
    return goal;
  },

  /** Deletes the definition; its conversions stay (conversions has no foreign key to goals). */
  async delete(q: Queryable, websiteId: string, goalId: string): Promise<boolean> {
    const res = await q.query(
      'goal.delete',
      'DELETE FROM goals WHERE website_id = $1 AND id = $2 AND funnel_id IS NULL',
      [websiteId, goalId],
    );
    return (res.rowCount ?? 0) > 0;
  },

  /** Goals whose backfill is still queued (their job may never have reached Redis). */
  async listQueuedBackfills(
    q: Queryable,
  ): Promise<Array<{ website_id: string; goal_id: string; definition_version: number }>> {
    const { rows } = await q.query<{
      website_id: string;
      goal_id: string;
      definition_version: number;
    }>(
      'goal.list_queued_backfills',
      `SELECT website_id, id AS goal_id, definition_version FROM goals
        WHERE backfill ->> 'state' = 'queued'`,
    );
    return rows;
  },

  /** The definitions the matcher needs for one website (the goal cache's source of truth). */
  async definitionsForWebsite(q: Queryable, websiteId: string): Promise<GoalDefinition[]> {
    const { rows } = await q.query<GoalDefinition>(
      'goal.definitions_for_website',
      `SELECT id, website_id, goal_type, match_operator, match_value, case_sensitive,
              property_filters, value_mode, fixed_value, value_property_key, currency,
              definition_version, pattern_issue, hostname, funnel_id
         FROM goals WHERE website_id = $1 ORDER BY id`,
      [websiteId],
    );
    return rows;
  },
  /** The goal's current definition version and website, or null when it was deleted. */
  async versionOf(
    q: Queryable,
    goalId: string,
  ): Promise<{ website_id: string; definition_version: number } | null> {
    const { rows } = await q.query<{ website_id: string; definition_version: number }>(
      'goal.version_of',
      'SELECT website_id, definition_version FROM goals WHERE id = $1',
      [goalId],
    );
    return rows[0] ?? null;
  },

  /**
   * Merges `patch` into `goals.backfill`, only while the goal is still at `version`: a job
   * superseded by a newer definition can never overwrite its successor's status. The update
   * locks the goal row until the caller's transaction ends, so a concurrent definition change
   * waits for it. Returns false when the goal moved on (or was deleted).
   */
  async updateBackfill(
    q: Queryable,
    goalId: string,
    version: number,
    patch: Partial<BackfillStatus>,
  ): Promise<boolean> {
    const res = await q.query(
      'goal.update_backfill',
      `UPDATE goals SET backfill = COALESCE(backfill, '{}'::jsonb) || $3::jsonb
        WHERE id = $1 AND definition_version = $2`,
      [goalId, version, JSON.stringify(patch)],
    );
    return (res.rowCount ?? 0) > 0;
  },

  async backfillOf(q: Queryable, goalId: string): Promise<BackfillStatus | null> {
    const { rows } = await q.query<{ backfill: BackfillStatus | null }>(
      'goal.backfill_of',
      'SELECT backfill FROM goals WHERE id = $1',
      [goalId],
    );
    return rows[0]?.backfill ?? null;
  },

  /** Regex goals stored before the current pattern engine (`pattern_engine` NULL). */
  async uncheckedRegexGoals(
    q: Queryable,
  ): Promise<
    Array<{ id: string; website_id: string; match_value: string; case_sensitive: boolean }>
  > {
    const { rows } = await q.query<{
      id: string;
      website_id: string;
      match_value: string;
      case_sensitive: boolean;
    }>(
      'goal.uncheckedRegexGoals',
      `SELECT id, website_id, match_value, case_sensitive FROM goals
        WHERE pattern_engine IS NULL AND match_operator = 'regex' ORDER BY id`,
    );
    return rows;
  },

  /**
   * Records the stored-pattern check of one goal under `engine`: unchanged, its text
   * rewritten (the old text kept in `pattern_rewritten_from`), or refused with a reason.
   */
  async markPatternChecked(
    q: Queryable,
    goalId: string,
    engine: number,
    outcome: { rewrite?: string; issue?: string },
  ): Promise<void> {
    if (outcome.rewrite !== undefined) {
      await q.query(
        'goal.markPatternRewritten',
        `UPDATE goals SET pattern_engine = $2, match_value = $3, pattern_rewritten_from = match_value
          WHERE id = $1`,
        [goalId, engine, outcome.rewrite],
      );
    } else {
      await q.query(
        'goal.markPatternChecked',
        'UPDATE goals SET pattern_engine = $2, pattern_issue = $3 WHERE id = $1',
        [goalId, engine, outcome.issue ?? null],
      );
    }
  },

  /** Whether some goal still waits for the stored-pattern check (migration 010's column). */
  async anyPatternUnchecked(q: Queryable): Promise<boolean> {
    const { rows } = await q.query<{ any: boolean }>(
      'goal.anyPatternUnchecked',
      'SELECT EXISTS (SELECT 1 FROM goals WHERE pattern_engine IS NULL) AS any',
    );
    return rows[0]!.any;
  },

  /** Marks every goal that is not a regex as checked under `engine`. */
  async markNonRegexChecked(q: Queryable, engine: number): Promise<void> {
    await q.query(
      'goal.markNonRegexChecked',
      `UPDATE goals SET pattern_engine = $1 WHERE pattern_engine IS NULL AND match_operator <> 'regex'`,
      [engine],
    );
  },
};
