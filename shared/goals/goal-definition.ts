import { Type, type Static } from '@sinclair/typebox';

/**
 * The goal definition as the matcher, the cache and the processor see it: only the fields
 * that decide whether an event converts and what it is worth. One type for both API dialects.
 */
/**
 * Goal types whose events the trackers capture on their own (autocapture). Each matches only
 * events stored with the same `type`, comparing its match value with the event property (or
 * properties) {@link AUTOCAPTURE_VALUE_KEYS} names.
 */
export const AUTOCAPTURE_GOAL_TYPES = [
  'outbound',
  'file_download',
  'button_click',
  'form_submit',
  'copy',
] as const;
export type AutocaptureGoalType = (typeof AUTOCAPTURE_GOAL_TYPES)[number];

export const GOAL_TYPES = ['event', 'pageview', ...AUTOCAPTURE_GOAL_TYPES] as const;
export type GoalType = (typeof GOAL_TYPES)[number];

/** Whether `t` is an autocapture goal type (see {@link AUTOCAPTURE_GOAL_TYPES}). */
export const isAutocaptureGoalType = (t: unknown): t is AutocaptureGoalType =>
  (AUTOCAPTURE_GOAL_TYPES as readonly unknown[]).includes(t);

/**
 * The string event properties an autocapture goal's match value is compared with; the goal
 * matches when any of them matches (a form by its name, id or action). Non-string values are
 * not read (Rybbit's tracker sends these as strings).
 */
export const AUTOCAPTURE_VALUE_KEYS: Readonly<Record<AutocaptureGoalType, readonly string[]>> = {
  outbound: ['url'],
  file_download: ['url'],
  button_click: ['text'],
  form_submit: ['formName', 'formId', 'formAction'],
  copy: ['text'],
};

/**
 * File extensions Goalpost's tracker reports as file downloads unless a website configures its
 * own list: Plausible's default list.
 */
export const DEFAULT_FILE_EXTENSIONS = [
  'pdf',
  'xlsx',
  'docx',
  'txt',
  'rtf',
  'csv',
  'exe',
  'key',
  'pps',
  'ppt',
  'pptx',
  '7z',
  'pkg',
  'rar',
  'gz',
  'zip',
  'avi',
  'mov',
  'mp4',
  'mpeg',
  'wmv',
  'midi',
  'mp3',
  'wav',
  'wma',
  'dmg',
] as const;

export const MATCH_OPERATORS = [
  'equals',
  'starts_with',
  'ends_with',
  'contains',
  'glob',
  'regex',
  /** Any value: every event of the goal's type converts (autocapture goal types only). */
  'any',
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

/** A property filter's value as both API dialects accept it; the type is `Static<>` of it. */
export const PropertyValueSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);
export type PropertyValue = Static<typeof PropertyValueSchema>;

/** One property condition of a goal, as stored, matched and shown by the API. */
export const PropertyFilterSchema = Type.Object(
  {
    key: Type.String({ description: '1–200 characters' }),
    operator: Type.Union(PROPERTY_FILTER_OPERATORS.map((o) => Type.Literal(o))),
    /** Absent only for `exists`. */
    value: Type.Optional(PropertyValueSchema),
  },
  { additionalProperties: false },
);
export type PropertyFilter = Static<typeof PropertyFilterSchema>;

export const VALUE_MODES = ['none', 'fixed', 'event_property'] as const;
export type ValueMode = (typeof VALUE_MODES)[number];

export interface GoalDefinition {
  id: string;
  website_id: string;
  goal_type: GoalType;
  match_operator: MatchOperator;
  match_value: string;
  case_sensitive: boolean;
  /**
   * Property conditions, all of which must hold. Pageview goals compare the page's query-string
   * parameters (the first value of each name, decoded); other goals the event's properties.
   */
  property_filters: PropertyFilter[];
  /**
   * Pageview goals only: the page's hostname must equal this exactly. Absent or null: any host.
   */
  hostname?: string | null;
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
  /**
   * Set when the goal is a funnel's step (migration 016): it converts like any goal, but its
   * conversions are the funnel's step matches, not goal conversions (no live feed).
   */
  funnel_id?: string | null;
}
