import { Type, type Static } from '@sinclair/typebox';
import { literals } from '../http/schema-helpers.js';
import type { Goal } from '../../shared/db/goal.repository.js';
import {
  GOAL_TYPES,
  MATCH_OPERATORS,
  PROPERTY_FILTER_OPERATORS,
  VALUE_MODES,
} from '../../shared/goals/goal-definition.js';
import { rybbitTypeOf } from './goal-input.js';

/** How goals are shown in each dialect: one stored goal, two renderings. */

export const PropertyValueSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

export const PropertyFilterSchema = Type.Object(
  {
    key: Type.String({ description: '1–200 characters' }),
    operator: literals(PROPERTY_FILTER_OPERATORS),
    value: Type.Optional(PropertyValueSchema),
  },
  { additionalProperties: false },
);

export const BackfillSchema = Type.Object({
  state: literals(['queued', 'running', 'done', 'failed'] as const),
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  events_scanned: Type.Integer(),
  started_at: Type.Union([Type.String(), Type.Null()]),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});

export const SparklyticsGoalSchema = Type.Object({
  id: Type.String(),
  website_id: Type.String(),
  numeric_id: Type.Integer(),
  name: Type.String(),
  goal_type: literals(GOAL_TYPES),
  match_value: Type.String(),
  match_operator: literals(MATCH_OPERATORS),
  case_sensitive: Type.Boolean(),
  property_filters: Type.Array(PropertyFilterSchema),
  value_mode: literals(VALUE_MODES),
  fixed_value: Type.Union([Type.Number(), Type.Null()]),
  value_property_key: Type.Union([Type.String(), Type.Null()]),
  currency: Type.String(),
  backfill: Type.Union([BackfillSchema, Type.Null()]),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type SparklyticsGoal = Static<typeof SparklyticsGoalSchema>;

/** ISO 8601 in UTC with `Z`, whole seconds (as the Sparklytics documents show). */
export const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function toSparklyticsGoal(g: Goal): SparklyticsGoal {
  const b = g.backfill;
  return {
    id: g.id,
    website_id: g.website_id,
    numeric_id: g.numeric_id,
    name: g.name,
    goal_type: g.goal_type,
    match_value: g.match_value,
    match_operator: g.match_operator,
    case_sensitive: g.case_sensitive,
    property_filters: g.property_filters,
    value_mode: g.value_mode,
    fixed_value: g.fixed_value === null ? null : Number(g.fixed_value),
    value_property_key: g.value_property_key,
    currency: g.currency,
    backfill:
      b === null
        ? null
        : {
            state: b.state,
            progress: b.progress,
            events_scanned: b.events_scanned,
            started_at: b.started_at,
            finished_at: b.finished_at,
          },
    created_at: isoSeconds(g.created_at),
    updated_at: isoSeconds(g.updated_at),
  };
}

export const RybbitGoalConfigSchema = Type.Object({
  pathPattern: Type.Optional(Type.String()),
  eventName: Type.Optional(Type.String()),
  eventPropertyKey: Type.Optional(Type.String()),
  eventPropertyValue: Type.Optional(PropertyValueSchema),
});

export const RybbitGoalSchema = Type.Object({
  goalId: Type.Integer(),
  name: Type.String(),
  goalType: literals(['path', 'event'] as const),
  config: RybbitGoalConfigSchema,
  createdAt: Type.String(),
  /** Present when `config` cannot express the goal exactly: the full Goalpost definition. */
  goalpost: Type.Optional(SparklyticsGoalSchema),
});
export type RybbitGoal = Static<typeof RybbitGoalSchema>;

const hasGlobStar = (s: string) => s.includes('*');

/**
 * A goal as the Rybbit dialect shows it (for the statistics issue's `GET /api/goals/:site`).
 * Goals Rybbit cannot express (other operators, case-insensitive matching, other or several
 * property filters, a value) get the closest `config` and a `goalpost` object holding the
 * full definition, so nothing is silently lost.
 */
export function toRybbitGoal(g: Goal): RybbitGoal {
  let config: Static<typeof RybbitGoalConfigSchema>;
  let exact = g.case_sensitive && g.value_mode === 'none';
  if (g.goal_type === 'pageview') {
    const v = g.match_value;
    switch (g.match_operator) {
      case 'glob':
        config = { pathPattern: v };
        break;
      case 'equals':
        config = { pathPattern: v };
        exact &&= !hasGlobStar(v);
        break;
      case 'starts_with':
        config = { pathPattern: `${v}**` };
        exact &&= !hasGlobStar(v);
        break;
      case 'ends_with':
        config = { pathPattern: `**${v}` };
        exact &&= !hasGlobStar(v);
        break;
      case 'contains':
        config = { pathPattern: `**${v}**` };
        exact &&= !hasGlobStar(v);
        break;
      default:
        config = { pathPattern: v };
        exact = false;
    }
    exact &&= g.property_filters.length === 0;
  } else {
    config = { eventName: g.match_value };
    exact &&= g.match_operator === 'equals';
    const f = g.property_filters;
    const first = f[0];
    if (first?.operator === 'equals' && first.value !== undefined) {
      config.eventPropertyKey = first.key;
      config.eventPropertyValue = first.value;
    }
    exact &&= f.length === 0 || (f.length === 1 && config.eventPropertyKey !== undefined);
  }
  return {
    goalId: g.numeric_id,
    name: g.name,
    goalType: rybbitTypeOf(g.goal_type),
    config,
    createdAt: g.created_at.toISOString(),
    ...(exact ? {} : { goalpost: toSparklyticsGoal(g) }),
  };
}
