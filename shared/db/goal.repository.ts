import type { GoalDefinition } from '../goals/goal-definition.js';
import type { Queryable } from './pool.js';

export interface Goal extends GoalDefinition {
  numeric_id: number;
  name: string;
  description: string | null;
  created_at: Date;
  updated_at: Date;
}

export type NewGoal = Omit<Goal, 'numeric_id' | 'created_at' | 'updated_at' | 'definition_version'>;

const COLUMNS = `id, numeric_id, website_id, name, description, goal_type, match_operator,
  match_value, case_sensitive, property_filters, value_mode, fixed_value, value_property_key,
  currency, definition_version, created_at, updated_at`;

export const goalRepository = {
  async create(q: Queryable, g: NewGoal): Promise<Goal> {
    const { rows } = await q.query<Goal>(
      'goal.create',
      `INSERT INTO goals (id, website_id, name, description, goal_type, match_operator,
         match_value, case_sensitive, property_filters, value_mode, fixed_value,
         value_property_key, currency)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
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
