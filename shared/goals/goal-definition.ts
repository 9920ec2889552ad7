/**
 * The goal definition as the matcher, the cache and the processor see it: only the fields
 * that decide whether an event converts and what it is worth. One type for both API dialects.
 */
export const GOAL_TYPES = ['event', 'pageview'] as const;
export type GoalType = (typeof GOAL_TYPES)[number];

export const MATCH_OPERATORS = [
  'equals',
  'starts_with',
  'ends_with',
  'contains',
  'glob',
  'regex',
] as const;
export type MatchOperator = (typeof MATCH_OPERATORS)[number];

export const PROPERTY_FILTER_OPERATORS = [
  'equals',
  'not_equals',
  'contains',
  'gt',
  'gte',
  'lt',
  'lte',
  'exists',
] as const;
export type PropertyFilterOperator = (typeof PROPERTY_FILTER_OPERATORS)[number];

export type PropertyValue = string | number | boolean;

export interface PropertyFilter {
  key: string;
  operator: PropertyFilterOperator;
  /** Absent only for `exists`. */
  value?: PropertyValue;
}

export const VALUE_MODES = ['none', 'fixed', 'event_property'] as const;
export type ValueMode = (typeof VALUE_MODES)[number];

export interface GoalDefinition {
  id: string;
  website_id: string;
  goal_type: GoalType;
  match_operator: MatchOperator;
  match_value: string;
  case_sensitive: boolean;
  property_filters: PropertyFilter[];
  value_mode: ValueMode;
  /** Decimal string (exact), set when value_mode is `fixed`. */
  fixed_value: string | null;
  value_property_key: string | null;
  currency: string;
  definition_version: number;
  /**
   * Set when the stored pattern cannot run as written (a regex stored before the current
   * regex rules that the new engine refuses or reads differently): the reason. Such a goal
   * never matches until its pattern is changed. Absent or null: the pattern runs.
   */
  pattern_issue?: string | null;
}
