import type { GoalChanges } from '../../shared/db/goal.repository.js';
import { ClientError, validationError } from '../../shared/errors/errors.js';
import type {
  GoalType,
  MatchOperator,
  PropertyFilter,
  PropertyFilterOperator,
  PropertyValue,
  ValueMode,
} from '../../shared/goals/goal-definition.js';
import { checkRegex } from '../../shared/matching/regex-safety.js';

/**
 * Turning either dialect's request into one goal definition, and validating the result.
 * Pure functions: the routes call them, the unit tests beside this file pin the rules.
 * Lengths count Unicode code points, not UTF-16 units.
 */

/** Everything a goal is, apart from identity and timestamps. */
export interface GoalFields extends GoalChanges {
  goal_type: GoalType;
}

export const NAME_MAX = 100;
export const MATCH_VALUE_MAX = 500;
export const PROPERTY_KEY_MAX = 200;
export const CURRENCY_MAX = 8;
export const MAX_PROPERTY_FILTERS = 20;

export const codePoints = (s: string): number => [...s].length;

/** A Sparklytics create or (partial) update body, after schema validation. */
export interface SparklyticsGoalInput {
  name?: string;
  goal_type?: 'event' | 'pageview' | 'page_view';
  match_value?: string;
  match_operator?: MatchOperator;
  case_sensitive?: boolean;
  property_filters?: Array<{
    key: string;
    operator: PropertyFilterOperator;
    value?: PropertyValue;
  }>;
  value_mode?: ValueMode;
  fixed_value?: number | null;
  value_property_key?: string | null;
  currency?: string;
}

/** A Rybbit create or replace body, after schema validation. */
export interface RybbitGoalInput {
  name?: string;
  goalType?: 'path' | 'event';
  config?: {
    pathPattern?: string;
    eventName?: string;
    eventPropertyKey?: string;
    eventPropertyValue?: PropertyValue;
  };
}

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

/**
 * The complete goal a Sparklytics create (`existing` null) or partial update results in.
 * An update is validated as the merged result: `{"value_mode":"fixed"}` on a goal that has a
 * fixed value succeeds, switching to `none` clears the value fields, and a value field that
 * does not apply to the resulting mode is refused (never silently dropped).
 */
export function resolveSparklyticsGoal(
  existing: GoalFields | null,
  input: SparklyticsGoalInput,
): GoalFields {
  const inputType =
    input.goal_type === undefined
      ? undefined
      : input.goal_type === 'page_view'
        ? 'pageview'
        : input.goal_type;
  if (existing && inputType !== undefined && inputType !== existing.goal_type) {
    throw validationError('goal_type cannot be changed; create a new goal instead', 'goal_type');
  }
  const goalType = existing?.goal_type ?? inputType;
  if (goalType === undefined) throw validationError('goal_type is required', 'goal_type');

  let name = existing?.name;
  if (input.name !== undefined) name = checkName(input.name);
  if (name === undefined) throw validationError('name is required', 'name');

  let matchValue = existing?.match_value;
  if (input.match_value !== undefined) {
    matchValue = checkText(input.match_value, 'match_value', MATCH_VALUE_MAX);
  }
  if (matchValue === undefined) throw validationError('match_value is required', 'match_value');

  const matchOperator = input.match_operator ?? existing?.match_operator ?? 'equals';
  if (matchOperator === 'regex') {
    const problem = checkRegex(matchValue);
    if (problem !== null) throw validationError(problem, 'match_value');
  }

  const filters =
    input.property_filters !== undefined
      ? checkFilters(input.property_filters)
      : (existing?.property_filters ?? []);
  if (goalType === 'pageview' && filters.length > 0) {
    throw validationError('property_filters apply to event goals only', 'property_filters');
  }

  const valueMode = input.value_mode ?? existing?.value_mode ?? 'none';
  // A field sent in this request that the resulting mode has no use for is an error; a value
  // merely left over from the previous mode is cleared.
  if (valueMode !== 'fixed' && input.fixed_value != null) {
    throw validationError(`fixed_value does not apply when value_mode=${valueMode}`, 'fixed_value');
  }
  if (valueMode !== 'event_property' && input.value_property_key != null) {
    throw validationError(
      `value_property_key does not apply when value_mode=${valueMode}`,
      'value_property_key',
    );
  }
  let fixedValue: string | null = null;
  let valueKey: string | null = null;
  if (valueMode === 'fixed') {
    const v = input.fixed_value !== undefined ? input.fixed_value : null;
    if (v !== null) {
      if (!Number.isFinite(v) || v < 0) {
        throw validationError('fixed_value must be a non-negative number', 'fixed_value');
      }
      fixedValue = String(v);
    } else if (input.fixed_value === undefined && existing?.value_mode === 'fixed') {
      fixedValue = existing.fixed_value;
    }
    if (fixedValue === null) {
      throw validationError('fixed_value is required when value_mode=fixed', 'fixed_value');
    }
  } else if (valueMode === 'event_property') {
    if (input.value_property_key != null) {
      valueKey = checkText(input.value_property_key, 'value_property_key', PROPERTY_KEY_MAX);
    } else if (
      input.value_property_key === undefined &&
      existing?.value_mode === 'event_property'
    ) {
      valueKey = existing.value_property_key;
    }
    if (valueKey === null) {
      throw validationError(
        'value_property_key is required when value_mode=event_property',
        'value_property_key',
      );
    }
  }

  let currency = existing?.currency ?? 'USD';
  if (input.currency !== undefined) {
    currency = checkText(input.currency, 'currency', CURRENCY_MAX).toUpperCase();
  }

  return {
    name,
    description: existing?.description ?? null,
    goal_type: goalType,
    match_operator: matchOperator,
    match_value: matchValue,
    case_sensitive: input.case_sensitive ?? existing?.case_sensitive ?? true,
    property_filters: filters,
    value_mode: valueMode,
    fixed_value: fixedValue,
    value_property_key: valueKey,
    currency,
  };
}

/** Rybbit's `goalType` for a stored goal type. */
export const rybbitTypeOf = (t: GoalType): 'path' | 'event' =>
  t === 'pageview' ? 'path' : 'event';

/** A 400 in the Rybbit dialect (validation errors are mapped to 400 there anyway). */
const rybbitInvalid = (message: string, field: string) =>
  new ClientError(422, 'validation_error', message, field);

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
  if (input.goalType === undefined) throw rybbitInvalid('goalType is required', 'goalType');
  if (input.config === undefined) throw rybbitInvalid('config is required', 'config');
  if (existing && rybbitTypeOf(existing.goal_type) !== input.goalType) {
    throw rybbitInvalid('goalType cannot be changed; create a new goal instead', 'goalType');
  }
  const c = input.config;
  let matching: Pick<
    GoalFields,
    'goal_type' | 'match_operator' | 'match_value' | 'case_sensitive' | 'property_filters'
  >;
  if (input.goalType === 'path') {
    for (const k of ['eventName', 'eventPropertyKey', 'eventPropertyValue'] as const) {
      if (c[k] !== undefined)
        throw rybbitInvalid(`config.${k} does not apply to path goals`, `config.${k}`);
    }
    if (c.pathPattern === undefined) {
      throw rybbitInvalid('config.pathPattern is required for path goals', 'config.pathPattern');
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
      throw rybbitInvalid('config.pathPattern does not apply to event goals', 'config.pathPattern');
    }
    if (c.eventName === undefined) {
      throw rybbitInvalid('config.eventName is required for event goals', 'config.eventName');
    }
    const hasKey = c.eventPropertyKey !== undefined;
    const hasValue = c.eventPropertyValue !== undefined;
    if (hasKey !== hasValue) {
      const missing = hasKey ? 'config.eventPropertyValue' : 'config.eventPropertyKey';
      throw rybbitInvalid(
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
