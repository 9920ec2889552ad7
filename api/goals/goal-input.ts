import type { GoalChanges } from '../../shared/db/goal.repository.js';
import { validationError } from '../../shared/errors/errors.js';
import type { GoalType, PropertyFilter } from '../../shared/goals/goal-definition.js';
import { checkRegex } from '../../shared/matching/regex.js';
import { rybbitTypeOf, type RybbitGoalInput, type SparklyticsGoalInput } from './goal.schemas.js';

/**
 * Turning either dialect's request into one goal definition, and validating the result.
 * Pure functions: the routes call them, the unit tests beside this file pin the rules.
 * Lengths count Unicode code points, not UTF-16 units.
 */

/** Everything a goal is, apart from identity and timestamps. */
export interface GoalFields extends GoalChanges {
  goal_type: GoalType;
  /**
   * The request set how the pattern is read (value, operator or case) and it passed the
   * current engine's rules: any note of the stored-pattern check (`pattern_issue`) is void.
   */
  pattern_checked?: boolean;
}

export const NAME_MAX = 100;
export const MATCH_VALUE_MAX = 500;
export const PROPERTY_KEY_MAX = 200;
export const CURRENCY_MAX = 8;
export const MAX_PROPERTY_FILTERS = 20;

export const codePoints = (s: string): number => [...s].length;

function checkName(raw: string): string {
  const name = raw.trim();
  if (name === '') throw validationError('name must not be empty', 'name');
  if (codePoints(name) > NAME_MAX) {
    throw validationError(`name must be at most ${NAME_MAX} characters`, 'name');
  }
  return name;
}

function checkText(value: string, field: string, max: number): string {
  if (value.length === 0) throw validationError(`${field} must not be empty`, field);
  if (codePoints(value) > max) {
    throw validationError(`${field} must be at most ${max} characters`, field);
  }
  return value;
}

function checkFilters(filters: NonNullable<SparklyticsGoalInput['property_filters']>) {
  if (filters.length > MAX_PROPERTY_FILTERS) {
    throw validationError(
      `at most ${MAX_PROPERTY_FILTERS} property filters are allowed`,
      'property_filters',
    );
  }
  return filters.map((f, i): PropertyFilter => {
    const at = `property_filters[${i}]`;
    checkText(f.key, `${at}.key`, PROPERTY_KEY_MAX);
    if (f.operator === 'exists') {
      if (f.value !== undefined) {
        throw validationError(`${at}.value does not apply to operator exists`, `${at}.value`);
      }
      return { key: f.key, operator: f.operator };
    }
    if (f.value === undefined) {
      throw validationError(`${at}.value is required for operator ${f.operator}`, `${at}.value`);
    }
    return { key: f.key, operator: f.operator, value: f.value };
  });
}

type Existing = GoalFields | null;

/** The goal type: required on create, unchangeable on update (`page_view` = `pageview`). */
function sparklyticsType(existing: Existing, input: SparklyticsGoalInput): GoalType {
  const inputType = input.goal_type === 'page_view' ? 'pageview' : input.goal_type;
  if (existing && inputType !== undefined && inputType !== existing.goal_type) {
    throw validationError('goal_type cannot be changed; create a new goal instead', 'goal_type');
  }
  const goalType = existing?.goal_type ?? inputType;
  if (goalType === undefined) throw validationError('goal_type is required', 'goal_type');
  return goalType;
}

/** What an event must be to convert: the match value and operator, case, property filters. */
function sparklyticsMatching(
  existing: Existing,
  input: SparklyticsGoalInput,
  goalType: GoalType,
): Pick<
  GoalFields,
  'match_value' | 'match_operator' | 'case_sensitive' | 'property_filters' | 'pattern_checked'
> {
  const matchValue =
    input.match_value !== undefined
      ? checkText(input.match_value, 'match_value', MATCH_VALUE_MAX)
      : existing?.match_value;
  if (matchValue === undefined) throw validationError('match_value is required', 'match_value');
  const matchOperator = input.match_operator ?? existing?.match_operator ?? 'equals';
  const caseSensitive = input.case_sensitive ?? existing?.case_sensitive ?? true;
  // Checked whenever the request touches how the pattern is read. An update that leaves the
  // pattern alone (a rename) is not refused for a stored pattern the current rules refuse:
  // that goal keeps its `pattern_issue` and never matches until its pattern is changed.
  const patternTouched =
    existing === null ||
    input.match_value !== undefined ||
    input.match_operator !== undefined ||
    input.case_sensitive !== undefined;
  if (matchOperator === 'regex' && patternTouched) {
    const problem = checkRegex(matchValue, !caseSensitive);
    if (problem !== null) throw validationError(`invalid regex: ${problem}`, 'match_value');
  }
  const filters =
    input.property_filters !== undefined
      ? checkFilters(input.property_filters)
      : (existing?.property_filters ?? []);
  if (goalType === 'pageview' && filters.length > 0) {
    throw validationError('property_filters apply to event goals only', 'property_filters');
  }
  return {
    match_value: matchValue,
    match_operator: matchOperator,
    case_sensitive: caseSensitive,
    property_filters: filters,
    pattern_checked: patternTouched,
  };
}

/**
 * What a conversion is worth. A field sent in this request that the resulting mode has no use
 * for is an error; a value merely left over from the previous mode is cleared.
 */
function sparklyticsValue(
  existing: Existing,
  input: SparklyticsGoalInput,
): Pick<GoalFields, 'value_mode' | 'fixed_value' | 'value_property_key' | 'currency'> {
  const valueMode = input.value_mode ?? existing?.value_mode ?? 'none';
  if (valueMode !== 'fixed' && input.fixed_value != null) {
    throw validationError(`fixed_value does not apply when value_mode=${valueMode}`, 'fixed_value');
  }
  if (valueMode !== 'event_property' && input.value_property_key != null) {
    throw validationError(
      `value_property_key does not apply when value_mode=${valueMode}`,
      'value_property_key',
    );
  }
  const currency =
    input.currency !== undefined
      ? checkText(input.currency, 'currency', CURRENCY_MAX).toUpperCase()
      : (existing?.currency ?? 'USD');
  const none = { value_mode: valueMode, fixed_value: null, value_property_key: null, currency };
  if (valueMode === 'fixed') return { ...none, fixed_value: fixedValueOf(existing, input) };
  if (valueMode === 'event_property') {
    return { ...none, value_property_key: valueKeyOf(existing, input) };
  }
  return none;
}

/** `fixed_value` of a goal in `fixed` mode: the one sent, else the one it had. */
function fixedValueOf(existing: Existing, input: SparklyticsGoalInput): string {
  const v = input.fixed_value;
  if (v !== undefined && v !== null) {
    if (!Number.isFinite(v) || v < 0) {
      throw validationError('fixed_value must be a non-negative number', 'fixed_value');
    }
    return String(v);
  }
  if (v === undefined && existing?.value_mode === 'fixed' && existing.fixed_value !== null) {
    return existing.fixed_value;
  }
  throw validationError('fixed_value is required when value_mode=fixed', 'fixed_value');
}

/** `value_property_key` of a goal in `event_property` mode: the one sent, else the one it had. */
function valueKeyOf(existing: Existing, input: SparklyticsGoalInput): string {
  const k = input.value_property_key;
  if (k !== undefined && k !== null) {
    return checkText(k, 'value_property_key', PROPERTY_KEY_MAX);
  }
  if (
    k === undefined &&
    existing?.value_mode === 'event_property' &&
    existing.value_property_key !== null
  ) {
    return existing.value_property_key;
  }
  throw validationError(
    'value_property_key is required when value_mode=event_property',
    'value_property_key',
  );
}

/**
 * The complete goal a Sparklytics create (`existing` null) or partial update results in.
 * An update is validated as the merged result: `{"value_mode":"fixed"}` on a goal that has a
 * fixed value succeeds, switching to `none` clears the value fields, and a value field that
 * does not apply to the resulting mode is refused (never silently dropped).
 */
export function resolveSparklyticsGoal(
  existing: Existing,
  input: SparklyticsGoalInput,
): GoalFields {
  const goalType = sparklyticsType(existing, input);
  const name = input.name !== undefined ? checkName(input.name) : existing?.name;
  if (name === undefined) throw validationError('name is required', 'name');
  return {
    name,
    description: existing?.description ?? null,
    goal_type: goalType,
    ...sparklyticsMatching(existing, input, goalType),
    ...sparklyticsValue(existing, input),
  };
}

/**
 * The goal a Rybbit create (`existing` null) or replace results in. A path goal is a
 * `pageview` goal with `glob`; an event property becomes one `equals` property filter. The
 * replace keeps the goal's value settings (Rybbit has none) and its name when none is sent.
 * `name` is null when the caller must generate one (create without a usable name).
 */
export function resolveRybbitGoal(
  existing: GoalFields | null,
  input: RybbitGoalInput,
): Omit<GoalFields, 'name'> & { name: string | null } {
  if (input.goalType === undefined) throw validationError('goalType is required', 'goalType');
  if (input.config === undefined) throw validationError('config is required', 'config');
  if (existing && rybbitTypeOf(existing.goal_type) !== input.goalType) {
    throw validationError('goalType cannot be changed; create a new goal instead', 'goalType');
  }
  const c = input.config;
  let matching: Pick<
    GoalFields,
    'goal_type' | 'match_operator' | 'match_value' | 'case_sensitive' | 'property_filters'
  >;
  // Rybbit sends the whole config: globs and event names always run under the current engine.
  if (input.goalType === 'path') {
    for (const k of ['eventName', 'eventPropertyKey', 'eventPropertyValue'] as const) {
      if (c[k] !== undefined)
        throw validationError(`config.${k} does not apply to path goals`, `config.${k}`);
    }
    if (c.pathPattern === undefined) {
      throw validationError('config.pathPattern is required for path goals', 'config.pathPattern');
    }
    matching = {
      goal_type: 'pageview',
      match_operator: 'glob',
      match_value: checkText(c.pathPattern, 'config.pathPattern', MATCH_VALUE_MAX),
      case_sensitive: true,
      property_filters: [],
    };
  } else {
    if (c.pathPattern !== undefined) {
      throw validationError(
        'config.pathPattern does not apply to event goals',
        'config.pathPattern',
      );
    }
    if (c.eventName === undefined) {
      throw validationError('config.eventName is required for event goals', 'config.eventName');
    }
    const hasKey = c.eventPropertyKey !== undefined;
    const hasValue = c.eventPropertyValue !== undefined;
    if (hasKey !== hasValue) {
      const missing = hasKey ? 'config.eventPropertyValue' : 'config.eventPropertyKey';
      throw validationError(
        'config.eventPropertyKey and config.eventPropertyValue go together',
        missing,
      );
    }
    matching = {
      goal_type: 'event',
      match_operator: 'equals',
      match_value: checkText(c.eventName, 'config.eventName', MATCH_VALUE_MAX),
      case_sensitive: true,
      property_filters:
        hasKey && hasValue
          ? [
              {
                key: checkText(c.eventPropertyKey!, 'config.eventPropertyKey', PROPERTY_KEY_MAX),
                operator: 'equals',
                value: c.eventPropertyValue!,
              },
            ]
          : [],
    };
  }
  const name =
    input.name !== undefined && input.name.trim() !== ''
      ? checkName(input.name)
      : (existing?.name ?? null);
  return {
    name,
    description: existing?.description ?? null,
    ...matching,
    pattern_checked: true,
    value_mode: existing?.value_mode ?? 'none',
    fixed_value: existing?.fixed_value ?? null,
    value_property_key: existing?.value_property_key ?? null,
    currency: existing?.currency ?? 'USD',
  };
}

/** `path: /checkout/**` or `event: purchase`, cut to leave room for a ` (n)` suffix. */
export function rybbitDefaultName(goalType: 'path' | 'event', subject: string): string {
  const base = `${goalType}: ${subject}`;
  const cps = [...base];
  return cps.length <= NAME_MAX - 6 ? base : cps.slice(0, NAME_MAX - 6).join('');
}

/** The first of `base`, `base (2)`, `base (3)`… not in `takenLower` (lower-cased names). */
export function firstFreeName(base: string, takenLower: Set<string>): string {
  if (!takenLower.has(base.toLowerCase())) return base;
  for (let n = 2; ; n += 1) {
    const candidate = `${base} (${n})`;
    if (!takenLower.has(candidate.toLowerCase())) return candidate;
  }
}

/**
 * Whether the change affects which events convert or what they are worth: such a change
 * gets a new definition version and a backfill. A rename does not.
 */
export function definitionChanged(before: GoalFields, after: GoalFields): boolean {
  const fixed = (v: string | null) => (v === null ? null : Number(v));
  // jsonb reorders object keys, so compare filters field by field, not as JSON text.
  const filters = (fs: PropertyFilter[]) =>
    JSON.stringify(fs.map((f) => [f.key, f.operator, f.value ?? null]));
  return (
    before.match_operator !== after.match_operator ||
    before.match_value !== after.match_value ||
    before.case_sensitive !== after.case_sensitive ||
    filters(before.property_filters) !== filters(after.property_filters) ||
    before.value_mode !== after.value_mode ||
    fixed(before.fixed_value) !== fixed(after.fixed_value) ||
    before.value_property_key !== after.value_property_key ||
    before.currency !== after.currency
  );
}
