import type { GoalDefinition } from '../goals/goal-definition.js';
import type { Queryable } from './pool.js';

/** Progress of a goal's backfill, written by the API (queued) and the backfill worker. */
export interface GoalBackfill {
  state: 'queued' | 'running' | 'done' | 'failed';
  progress: number;
  events_scanned: number;
  started_at: string | null;
  finished_at: string | null;
  definition_version: number;
}

export interface Goal extends GoalDefinition {
  numeric_id: number;
  name: string;
  description: string | null;
  backfill: GoalBackfill | null;
  created_at: Date;
  updated_at: Date;
}

export type NewGoal = Omit<
  Goal,
  'numeric_id' | 'created_at' | 'updated_at' | 'definition_version' | 'backfill'
>;

/** The fields an update may change (everything but identity and timestamps). */
export type GoalChanges = Omit<NewGoal, 'id' | 'website_id' | 'goal_type'>;

const COLUMNS = `id, numeric_id, website_id, name, description, goal_type, match_operator,
  match_value, case_sensitive, property_filters, value_mode, fixed_value, value_property_key,
  currency, definition_version, backfill, created_at, updated_at`;

/** The state a goal's backfill starts in whenever its definition version changes. */
export function queuedBackfill(definitionVersion: number): GoalBackfill {
  return {
    state: 'queued',
    progress: 0,
    events_scanned: 0,
    started_at: null,
    finished_at: null,
    definition_version: definitionVersion,
  };
}

interface PgError {
  code?: string;
  constraint?: string;
}

/** The insert or rename hit the per-website case-insensitive name uniqueness (migration 002). */
export function isDuplicateGoalName(err: unknown): boolean {
  const e = err as PgError;
  return e?.code === '23505' && e.constraint === 'goals_website_name_ci_key';
}

/** The insert hit the 50-goals-per-website limit enforced by the trigger of migration 002. */
export function isGoalLimitExceeded(err: unknown): boolean {
  const e = err as PgError;
  return e?.code === '23514' && e.constraint === 'goals_per_website_limit';
}

/** Goals per website; the database trigger of migration 002 enforces the same number. */
export const MAX_GOALS_PER_WEBSITE = 50;

export const goalRepository = {
  /** Inserts a goal at definition version 1 with a queued backfill. */
  async create(q: Queryable, g: NewGoal): Promise<Goal> {
    const { rows } = await q.query<Goal>(
      'goal.create',
      `INSERT INTO goals (id, website_id, name, description, goal_type, match_operator,
         match_value, case_sensitive, property_filters, value_mode, fixed_value,
         value_property_key, currency, definition_version, backfill)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14)
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
      ],
    );
    return rows[0]!;
  },

  async findById(q: Queryable, websiteId: string, goalId: string): Promise<Goal | null> {
    const { rows } = await q.query<Goal>(
      'goal.find_by_id',
      `SELECT ${COLUMNS} FROM goals WHERE website_id = $1 AND id = $2`,
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
    ref: string | number,
    opts: { forUpdate?: boolean } = {},
  ): Promise<Goal | null> {
    const numeric = typeof ref === 'number';
    const { rows } = await q.query<Goal>(
      'goal.find_by_ref',
      `SELECT ${COLUMNS} FROM goals
        WHERE website_id = $1 AND ${numeric ? 'numeric_id' : 'id'} = $2
        ${opts.forUpdate ? 'FOR UPDATE' : ''}`,
      [websiteId, ref],
    );
    return rows[0] ?? null;
  },

  async listForWebsite(q: Queryable, websiteId: string): Promise<Goal[]> {
    const { rows } = await q.query<Goal>(
      'goal.list_for_website',
      `SELECT ${COLUMNS} FROM goals WHERE website_id = $1 ORDER BY created_at, numeric_id`,
      [websiteId],
    );
    return rows;
  },

  /** Lower-cased names of this website's goals that start with `prefix` (case-insensitive). */
  async namesLike(q: Queryable, websiteId: string, prefix: string): Promise<Set<string>> {
    const { rows } = await q.query<{ name: string }>(
      'goal.names_like',
      `SELECT lower(name) AS name FROM goals
        WHERE website_id = $1 AND left(lower(name), length($2)) = lower($2)`,
      [websiteId, prefix],
    );
    return new Set(rows.map((r) => r.name));
  },

  /**
   * Writes the changed fields. With `bumpVersion`, the definition version is incremented and
   * the backfill reset to queued for the new version, in the same statement.
   */
  async update(
    q: Queryable,
    websiteId: string,
    goalId: string,
    c: GoalChanges,
    bumpVersion: boolean,
  ): Promise<Goal> {
    const { rows } = await q.query<Goal>(
      'goal.update',
      `UPDATE goals SET
         name = $3, description = $4, match_operator = $5, match_value = $6,
         case_sensitive = $7, property_filters = $8, value_mode = $9, fixed_value = $10,
         value_property_key = $11, currency = $12, updated_at = now(),
         definition_version = definition_version + CASE WHEN $13 THEN 1 ELSE 0 END,
         backfill = CASE WHEN $13
           THEN jsonb_build_object('state', 'queued', 'progress', 0, 'events_scanned', 0,
             'started_at', NULL, 'finished_at', NULL, 'definition_version', definition_version + 1)
           ELSE backfill END
       WHERE website_id = $1 AND id = $2
       RETURNING ${COLUMNS}`,
      [
        websiteId,
        goalId,
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
        bumpVersion,
      ],
    );
    return rows[0]!;
  },

  /** Deletes the definition; its conversions stay (conversions has no foreign key to goals). */
  async delete(q: Queryable, websiteId: string, goalId: string): Promise<boolean> {
    const res = await q.query(
      'goal.delete',
      'DELETE FROM goals WHERE website_id = $1 AND id = $2',
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
              definition_version
         FROM goals WHERE website_id = $1 ORDER BY id`,
      [websiteId],
    );
    return rows;
  },
};
