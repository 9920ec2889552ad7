import { Type, type Static } from '@sinclair/typebox';
import type { StepGoal } from '../../shared/db/repositories/goal.repository.js';
import {
  GOAL_TYPES,
  MATCH_OPERATORS,
  PropertyFilterSchema,
  PropertyValueSchema,
} from '../../shared/goals/goal-definition.js';
import {
  backfillView,
  BackfillSchema,
  GoalBodyFields,
  isoSeconds,
  rybbitTypeOf,
  toRybbitGoal,
} from '../goals/goal.schemas.js';
import { literals } from '../http/schema-helpers.js';
import type { FunnelView } from './funnel-view.js';

/**
 * The funnel shapes of both dialects: the bodies each accepts and how one stored funnel is
 * shown in each (the TypeScript types are `Static<>` of these schemas). One funnel model: a
 * funnel saved in one dialect is listed in the other.
 */

export const MIN_STEPS = 2;
export const MAX_STEPS = 8;
export const LABEL_MAX = 120;
/** Ours: the conversion window, at most the longest results window (90 days). */
export const MAX_WINDOW_SECONDS = 90 * 86_400;

const WindowSeconds = Type.Union(
  [Type.Integer({ minimum: 1, maximum: MAX_WINDOW_SECONDS }), Type.Null()],
  {
    description:
      'Goalpost: the last step must follow step 1 within this many seconds (every step does); ' +
      'null or absent = no limit',
  },
);

/** A Sparklytics step: its step types and operators are a goal's (every one goals have). */
export const SparklyticsStepBody = Type.Object(
  {
    step_type: {
      ...GoalBodyFields.goal_type,
      description: '`page_view` (= `pageview`), `event`, or an autocapture goal type',
    },
    match_value: Type.Optional(GoalBodyFields.match_value),
    match_operator: Type.Optional(GoalBodyFields.match_operator),
    case_sensitive: Type.Optional(GoalBodyFields.case_sensitive),
    property_filters: Type.Optional(GoalBodyFields.property_filters),
    hostname: Type.Optional(GoalBodyFields.hostname),
    label: Type.Optional(
      Type.String({ description: `1–${LABEL_MAX} characters; default the match value` }),
    ),
  },
  { additionalProperties: false },
);
export type SparklyticsStepInput = Static<typeof SparklyticsStepBody>;

export const CreateSparklyticsFunnelBody = Type.Object(
  {
    name: Type.String({
      description: '1–100 characters (not blank); unique per website ignoring case',
    }),
    steps: Type.Array(SparklyticsStepBody, {
      description: `${MIN_STEPS}–${MAX_STEPS} steps, in order`,
    }),
    window_seconds: Type.Optional(WindowSeconds),
  },
  { additionalProperties: false },
);
export const UpdateSparklyticsFunnelBody = Type.Partial(CreateSparklyticsFunnelBody, {
  additionalProperties: false,
});
export type SparklyticsFunnelInput = Static<typeof UpdateSparklyticsFunnelBody>;

export const SparklyticsStepSchema = Type.Object({
  id: Type.String({ description: '`fstep_…`' }),
  funnel_id: Type.String(),
  step_order: Type.Integer(),
  step_type: Type.Union([
    Type.Literal('page_view'),
    ...GOAL_TYPES.filter((t) => t !== 'pageview').map((t) => Type.Literal(t)),
  ]),
  match_value: Type.String(),
  match_operator: literals(MATCH_OPERATORS),
  case_sensitive: Type.Boolean(),
  property_filters: Type.Array(PropertyFilterSchema),
  hostname: Type.Union([Type.String(), Type.Null()]),
  label: Type.String(),
  created_at: Type.String(),
});

export const SparklyticsFunnelSchema = Type.Object({
  id: Type.String({ description: '`fun_…`' }),
  numeric_id: Type.Integer({ description: 'the id the Rybbit dialect uses' }),
  website_id: Type.String(),
  name: Type.String(),
  window_seconds: Type.Union([Type.Integer(), Type.Null()]),
  backfill: Type.Union([BackfillSchema, Type.Null()], {
    description: 'the step matches of past events: state and progress while they are computed',
  }),
  created_at: Type.String(),
  updated_at: Type.String(),
  steps: Type.Array(SparklyticsStepSchema),
});
export type SparklyticsFunnel = Static<typeof SparklyticsFunnelSchema>;

export const SparklyticsFunnelSummarySchema = Type.Object({
  id: Type.String(),
  website_id: Type.String(),
  name: Type.String(),
  step_count: Type.Integer(),
  backfill: Type.Union([BackfillSchema, Type.Null()]),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const FunnelResultsSchema = Type.Object({
  funnel_id: Type.String(),
  name: Type.String(),
  total_sessions_entered: Type.Integer(),
  final_conversion_rate: Type.Number({ description: 'last step / first step, 0–1; 0 when none' }),
  backfill: Type.Union([BackfillSchema, Type.Null()], {
    description: 'while it runs, the results hold the past computed so far',
  }),
  steps: Type.Array(
    Type.Object({
      step_order: Type.Integer(),
      label: Type.String(),
      sessions_reached: Type.Integer(),
      drop_off_count: Type.Integer(),
      drop_off_rate: Type.Number(),
      conversion_rate_from_start: Type.Number(),
      conversion_rate_from_previous: Type.Number(),
    }),
  ),
});
export type FunnelResults = Static<typeof FunnelResultsSchema>;

const stepId = (goalId: string) => `fstep_${goalId.slice('goal_'.length)}`;

function toSparklyticsStep(f: FunnelView, s: StepGoal): Static<typeof SparklyticsStepSchema> {
  return {
    id: stepId(s.id),
    funnel_id: f.id,
    step_order: s.step_order,
    step_type: s.goal_type === 'pageview' ? 'page_view' : s.goal_type,
    match_value: s.match_value,
    match_operator: s.match_operator,
    case_sensitive: s.case_sensitive,
    property_filters: s.property_filters,
    hostname: s.hostname ?? null,
    label: s.name,
    created_at: isoSeconds(s.created_at),
  };
}

export function toSparklyticsFunnel(f: FunnelView): SparklyticsFunnel {
  return {
    id: f.id,
    numeric_id: f.numeric_id,
    website_id: f.website_id,
    name: f.name,
    window_seconds: f.window_seconds,
    backfill: backfillView(f.backfill),
    created_at: isoSeconds(f.created_at),
    updated_at: isoSeconds(f.updated_at),
    steps: f.steps.map((s) => toSparklyticsStep(f, s)),
  };
}

export const toSparklyticsFunnelSummary = (
  f: FunnelView,
): Static<typeof SparklyticsFunnelSummarySchema> => ({
  id: f.id,
  website_id: f.website_id,
  name: f.name,
  step_count: f.steps.length,
  backfill: backfillView(f.backfill),
  created_at: isoSeconds(f.created_at),
  updated_at: isoSeconds(f.updated_at),
});

/** Rybbit's step types: `page` and `event`, and the autocapture goal types. */
export const RYBBIT_STEP_TYPES = [
  'page',
  'event',
  'outbound',
  'file_download',
  'button_click',
  'form_submit',
  'copy',
] as const;

/** A Rybbit step (analyze, step sessions, saved funnels). */
export const RybbitStepBody = Type.Object(
  {
    type: Type.String({ description: RYBBIT_STEP_TYPES.join(', ') }),
    value: Type.Optional(
      Type.String({
        description:
          'page: path pattern (`*` one segment, `**` anything); event: the name; autocapture: ' +
          'value pattern (empty = any)',
      }),
    ),
    name: Type.Optional(Type.String({ description: 'label; default the value' })),
    hostname: Type.Optional(Type.String({ description: 'page steps: exact page hostname' })),
    propertyFilters: Type.Optional(
      Type.Array(
        Type.Object(
          { key: Type.String(), value: PropertyValueSchema },
          { additionalProperties: false },
        ),
      ),
    ),
    eventPropertyKey: Type.Optional(Type.String()),
    eventPropertyValue: Type.Optional(PropertyValueSchema),
  },
  { additionalProperties: false },
);
export type RybbitStepInput = Static<typeof RybbitStepBody>;

export const RybbitStepsBody = Type.Object(
  {
    steps: Type.Array(RybbitStepBody),
    name: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const RybbitSaveFunnelBody = Type.Object(
  {
    name: Type.Optional(Type.String()),
    steps: Type.Array(RybbitStepBody),
    reportId: Type.Optional(
      Type.Union([Type.Integer(), Type.String()], {
        description: 'replace this saved funnel (numeric id, or `fun_…`) instead of creating one',
      }),
    ),
    window_seconds: Type.Optional(WindowSeconds),
  },
  { additionalProperties: false },
);

export const RybbitFunnelSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  steps: Type.Array(
    Type.Object({
      type: Type.String(),
      value: Type.String(),
      name: Type.String(),
      hostname: Type.Optional(Type.String()),
      propertyFilters: Type.Optional(
        Type.Array(Type.Object({ key: Type.String(), value: PropertyValueSchema })),
      ),
    }),
  ),
  configuration: Type.Object({}),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  conversionRate: Type.Null(),
  totalVisitors: Type.Null(),
  funnelId: Type.String({ description: 'Goalpost: the `fun_…` id' }),
  window_seconds: Type.Union([Type.Integer(), Type.Null()]),
  backfill: Type.Union([BackfillSchema, Type.Null()]),
});
export type RybbitFunnel = Static<typeof RybbitFunnelSchema>;

/** A step goal as a Rybbit step: its Rybbit goal form, flattened to `type` and `value`. */
function toRybbitStep(s: StepGoal): RybbitFunnel['steps'][number] {
  const g = toRybbitGoal(s);
  const c = g.config;
  const type = rybbitTypeOf(s.goal_type);
  return {
    type: type === 'path' ? 'page' : type,
    value: c.pathPattern ?? c.eventName ?? c.valuePattern ?? '',
    name: s.name,
    ...(c.hostname ? { hostname: c.hostname } : {}),
    ...(c.propertyFilters ? { propertyFilters: c.propertyFilters } : {}),
  };
}

export const toRybbitFunnel = (f: FunnelView): RybbitFunnel => ({
  id: f.numeric_id,
  name: f.name,
  steps: f.steps.map(toRybbitStep),
  configuration: {},
  createdAt: f.created_at.toISOString(),
  updatedAt: f.updated_at.toISOString(),
  conversionRate: null,
  totalVisitors: null,
  funnelId: f.id,
  window_seconds: f.window_seconds,
  backfill: backfillView(f.backfill),
});
