import { Type, type Static } from '@sinclair/typebox';
import { literals } from '../http/schema-helpers.js';
import type { Goal } from '../../shared/db/repositories/goal.repository.js';
import { BackfillStatusSchema, type BackfillStatus } from '../../shared/goals/backfill-status.js';
import {
  type GoalType,
  AUTOCAPTURE_GOAL_TYPES,
  GOAL_TYPES,
  MATCH_OPERATORS,
  PropertyFilterSchema,
  PropertyValueSchema,
  VALUE_MODES,
} from '../../shared/goals/goal-definition.js';

/**
 * The goal shapes of both dialects: the bodies each accepts and how one stored goal is shown
 * in each (the TypeScript types are `Static<>` of these schemas).
 */

/** Rybbit's goal types (`file_download` is Goalpost's own addition). */
export const RYBBIT_GOAL_TYPES = ['path', 'event', ...AUTOCAPTURE_GOAL_TYPES] as const;
export type RybbitGoalType = (typeof RYBBIT_GOAL_TYPES)[number];

/** Rybbit's `goalType` for a stored goal type (`pageview` is `path`; the others keep theirs). */
export const rybbitTypeOf = (t: GoalType): RybbitGoalType => (t === 'pageview' ? 'path' : t);

/** The stored goal type for Rybbit's `goalType`. */
export const goalTypeOfRybbit = (t: RybbitGoalType): GoalType => (t === 'path' ? 'pageview' : t);

/** A goal's backfill as the API shows it. */
export const BackfillSchema = Type.Omit(BackfillStatusSchema, ['definition_version', 'error']);

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
  hostname: Type.Union([Type.String(), Type.Null()]),
  value_mode: literals(VALUE_MODES),
  fixed_value: Type.Union([Type.Number(), Type.Null()]),
  value_property_key: Type.Union([Type.String(), Type.Null()]),
  currency: Type.String(),
  backfill: Type.Union([BackfillSchema, Type.Null()]),
  invalid: Type.Optional(
    Type.Object(
      { reason: Type.String() },
      {
        description:
          'Present when the stored pattern cannot run under the current regex rules (a regex ' +
          'stored before them): the goal never matches until match_value is changed, which ' +
          'backfills it.',
      },
    ),
  ),
  pattern_rewritten_from: Type.Optional(
    Type.String({
      description:
        'The JavaScript-era regex that an upgrade rewrote into match_value, with the same matches',
    }),
  ),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type SparklyticsGoal = Static<typeof SparklyticsGoalSchema>;

/** ISO 8601 in UTC with `Z`, whole seconds (as the Sparklytics documents show). */
export const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A backfill status as the API shows it (its version and error are internal). */
export const backfillView = (b: BackfillStatus | null): Static<typeof BackfillSchema> | null =>
  b === null
    ? null
    : {
        state: b.state,
        progress: b.progress,
        events_scanned: b.events_scanned,
        started_at: b.started_at,
        finished_at: b.finished_at,
      };

export function toSparklyticsGoal(g: Goal): SparklyticsGoal {
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
    hostname: g.hostname ?? null,
    value_mode: g.value_mode,
    fixed_value: g.fixed_value === null ? null : Number(g.fixed_value),
    value_property_key: g.value_property_key,
    currency: g.currency,
    backfill: backfillView(g.backfill),
    ...(g.pattern_issue == null ? {} : { invalid: { reason: g.pattern_issue } }),
    ...(g.pattern_rewritten_from == null
      ? {}
      : { pattern_rewritten_from: g.pattern_rewritten_from }),
    created_at: isoSeconds(g.created_at),
    updated_at: isoSeconds(g.updated_at),
  };
}

const RybbitPropertyFilterSchema = Type.Object(
  { key: Type.String({ description: '1–200 characters' }), value: PropertyValueSchema },
  { additionalProperties: false },
);

export const RybbitGoalConfigSchema = Type.Object({
  pathPattern: Type.Optional(Type.String()),
  eventName: Type.Optional(Type.String()),
  valuePattern: Type.Optional(Type.String()),
  eventPropertyKey: Type.Optional(Type.String()),
  eventPropertyValue: Type.Optional(PropertyValueSchema),
  propertyFilters: Type.Optional(Type.Array(RybbitPropertyFilterSchema)),
  hostname: Type.Optional(Type.String()),
});

export const RybbitGoalSchema = Type.Object({
  goalId: Type.Integer(),
  name: Type.String(),
  goalType: literals(RYBBIT_GOAL_TYPES),
  config: RybbitGoalConfigSchema,
  createdAt: Type.String(),
  /** Present when `config` cannot express the goal exactly: the full Goalpost definition. */
  goalpost: Type.Optional(SparklyticsGoalSchema),
});
export type RybbitGoal = Static<typeof RybbitGoalSchema>;

const hasGlobStar = (s: string) => s.includes('*');

/** Rybbit `propertyFilters` for filters that are all `equals` with a value, else null. */
function rybbitFiltersOf(g: Goal): Array<{ key: string; value: string | number | boolean }> | null {
  const out = [];
  for (const f of g.property_filters) {
    if (f.operator !== 'equals' || f.value === undefined) return null;
    out.push({ key: f.key, value: f.value });
  }
  return out;
}

/**
 * A goal as the Rybbit dialect shows it (for the statistics issue's `GET /api/goals/:site`).
 * Goals Rybbit cannot express (other operators, case-insensitive matching, property filters
 * other than equality, a value) get the closest `config` and a `goalpost` object holding the
 * full definition, so nothing is silently lost.
 */
export function toRybbitGoal(g: Goal): RybbitGoal {
  let config: Static<typeof RybbitGoalConfigSchema>;
  // An invalid goal always carries the `goalpost` object, which says why.
  let exact = g.case_sensitive && g.value_mode === 'none' && g.pattern_issue == null;
  const filters = rybbitFiltersOf(g);
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
    if (g.hostname != null) config.hostname = g.hostname;
    if (filters !== null && filters.length > 0) config.propertyFilters = filters;
    exact &&= filters !== null;
  } else if (g.goal_type === 'event') {
    config = { eventName: g.match_value };
    exact &&= g.match_operator === 'equals';
    const f = g.property_filters;
    const first = f[0];
    if (f.length === 1 && first?.operator === 'equals' && first.value !== undefined) {
      config.eventPropertyKey = first.key;
      config.eventPropertyValue = first.value;
    } else if (filters !== null && filters.length > 0) {
      config.propertyFilters = filters;
    }
    exact &&= filters !== null;
  } else {
    config = {};
    if (g.match_operator !== 'any') config.valuePattern = g.match_value;
    exact &&= g.match_operator === 'any' || g.match_operator === 'glob';
    if (filters !== null && filters.length > 0) config.propertyFilters = filters;
    exact &&= filters !== null;
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

/** The Sparklytics create body; an update is any part of it (the merged result is validated). */
export const GoalBodyFields = {
  name: Type.String({
    description: '1–100 characters after trimming; unique per website ignoring case',
  }),
  goal_type: Type.Union(
    [
      Type.Literal('event'),
      Type.Literal('pageview'),
      Type.Literal('page_view'),
      ...AUTOCAPTURE_GOAL_TYPES.map((t) => Type.Literal(t)),
    ],
    {
      description:
        '`page_view` is accepted as an alias of `pageview`. Autocapture types match events the ' +
        'trackers capture, on a property: outbound and file_download the link URL, ' +
        'button_click and copy the text, form_submit the form name, id or action (any)',
    },
  ),
  match_value: Type.String({
    description:
      '1–500 characters (autocapture types: up to 512; empty or absent with match_operator ' +
      '`any`). glob: `*` = one or more characters but `/` (autocapture types: any characters, ' +
      '`/` included), `**` = anything. regex: ' +
      'RE2 syntax (unanchored; `.` is anything but \\n, `\\s` `\\w` `\\d` `\\b` are ASCII; no ' +
      'lookaround, backreferences, inline flags or JavaScript escapes such as \\u0041: write ' +
      '\\x{41}); at most 255 repetitions and a bounded program size. Refused patterns are a 422 ' +
      'naming match_value.',
  }),
  match_operator: literals(MATCH_OPERATORS, {
    description: '`any` (autocapture types only): every event of the type converts',
  }),
  case_sensitive: Type.Boolean({ default: true }),
  property_filters: Type.Array(PropertyFilterSchema, {
    description:
      'AND-joined; typed comparison (a number equals a number or a numeric string). Pageview ' +
      'goals compare query-string parameters (first value of each name), others event properties',
  }),
  hostname: Type.Union([Type.String(), Type.Null()], {
    description: 'pageview goals: the page hostname must equal this (lower-cased); null = any',
  }),
  value_mode: literals(VALUE_MODES),
  fixed_value: Type.Union([Type.Number(), Type.Null()], {
    description: 'required when value_mode=fixed; ≥ 0',
  }),
  value_property_key: Type.Union([Type.String(), Type.Null()], {
    description: 'required when value_mode=event_property',
  }),
  currency: Type.String({ description: '1–8 characters, stored upper-case; default USD' }),
};

export const CreateSparklyticsGoalBody = Type.Object(
  {
    name: GoalBodyFields.name,
    goal_type: GoalBodyFields.goal_type,
    match_value: Type.Optional(GoalBodyFields.match_value),
    match_operator: Type.Optional(GoalBodyFields.match_operator),
    case_sensitive: Type.Optional(GoalBodyFields.case_sensitive),
    property_filters: Type.Optional(GoalBodyFields.property_filters),
    hostname: Type.Optional(GoalBodyFields.hostname),
    value_mode: Type.Optional(GoalBodyFields.value_mode),
    fixed_value: Type.Optional(GoalBodyFields.fixed_value),
    value_property_key: Type.Optional(GoalBodyFields.value_property_key),
    currency: Type.Optional(GoalBodyFields.currency),
  },
  { additionalProperties: false },
);

export const UpdateSparklyticsGoalBody = Type.Partial(CreateSparklyticsGoalBody, {
  additionalProperties: false,
});

/** A Sparklytics create or (partial) update body. */
export type SparklyticsGoalInput = Static<typeof UpdateSparklyticsGoalBody>;

/** The Rybbit create, replace and preview body. */
export const RybbitGoalBody = Type.Object(
  {
    name: Type.Optional(
      Type.String({ description: 'default `<goalType>: <pattern or event name>`, then ` (2)`…' }),
    ),
    goalType: literals(RYBBIT_GOAL_TYPES, {
      description:
        'path, event, or an autocapture type: outbound (props url), file_download (url), ' +
        'button_click (text), form_submit (formName, formId or formAction), copy (text)',
    }),
    config: Type.Object(
      {
        pathPattern: Type.Optional(
          Type.String({ description: 'path goals: `*` = one segment, `**` = anything' }),
        ),
        eventName: Type.Optional(Type.String({ description: 'event goals' })),
        valuePattern: Type.Optional(
          Type.String({
            description:
              'autocapture goals, ≤512 characters, trimmed: empty or absent = any event of the ' +
              'type; else anchored, case-sensitive, `*` = one or more of any character, `**` = any run',
          }),
        ),
        eventPropertyKey: Type.Optional(Type.String()),
        eventPropertyValue: Type.Optional(PropertyValueSchema),
        propertyFilters: Type.Optional(
          Type.Array(RybbitPropertyFilterSchema, {
            description:
              'all must hold; path goals: query-string parameters, others: event properties; ' +
              'typed (5 equals 5 and "5"). Replaces eventPropertyKey/Value ([] disables them)',
          }),
        ),
        hostname: Type.Optional(Type.String({ description: 'path goals: exact page hostname' })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type RybbitGoalInput = Static<typeof RybbitGoalBody>;
