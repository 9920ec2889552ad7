import type { GoalChanges } from '../../shared/db/repositories/goal.repository.js';
import { validationError } from '../../shared/errors/errors.js';
import {
  isAutocaptureGoalType,
  type GoalType,
  type MatchOperator,
  type PropertyFilter,
} from '../../shared/goals/goal-definition.js';
import { checkRegex } from '../../shared/matching/regex.js';
import {
  goalTypeOfRybbit,
  rybbitTypeOf,
  type RybbitGoalInput,
  type RybbitGoalType,
  type SparklyticsGoalInput,
} from './goal.schemas.js';

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
/** Autocapture value patterns (Rybbit's `valuePattern` limit). */
export const VALUE_PATTERN_MAX = 512;
export const HOSTNAME_MAX = 253;
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

const HOST_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** A pageview goal's hostname condition: a host name, stored lower-cased; null/'' = any. */
function checkHostname(raw: string | null, field: string): string | null {
  if (raw === null) return null;
  const host = raw.trim().toLowerCase().replace(/\.$/, '');
  if (host === '') return null;
  if (host.length > HOSTNAME_MAX || !HOST_RE.test(host)) {
    throw validationError(`${field} must be a host name such as shop.example.com`, field);
  }
  return host;
}

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
  | 'match_value'
  | 'match_operator'
  | 'case_sensitive'
  | 'property_filters'
  | 'hostname'
  | 'pattern_checked'
> {
  const matchOperator = input.match_operator ?? existing?.match_operator ?? 'equals';
  const matchValue = sparklyticsMatchValue(existing, input, goalType, matchOperator);
  const caseSensitive = input.case_sensitive ?? existing?.case_sensitive ?? true;
  const patternChecked = checkSparklyticsPattern(
    existing,
    input,
    matchOperator,
    matchValue,
    caseSensitive,
  );
  const filters =
    input.property_filters !== undefined
      ? checkFilters(input.property_filters)
      : (existing?.property_filters ?? []);
  return {
    match_value: matchValue,
    match_operator: matchOperator,
    case_sensitive: caseSensitive,
    property_filters: filters,
    hostname: sparklyticsHostname(existing, input, goalType),
    pattern_checked: patternChecked,
  };
}

/**
 * The match value: `''` for operator `any` (autocapture goal types only, where a value is
 * refused), else the one sent or the one the goal had; required.
 */
function sparklyticsMatchValue(
  existing: Existing,
  input: SparklyticsGoalInput,
  goalType: GoalType,
  matchOperator: MatchOperator,
): string {
  const auto = isAutocaptureGoalType(goalType);
  if (matchOperator === 'any') {
    if (!auto) {
      throw validationError(
        'match_operator any applies to autocapture goal types only',
        'match_operator',
      );
    }
    if (input.match_value !== undefined && input.match_value !== '') {
      throw validationError('match_value does not apply to match_operator any', 'match_value');
    }
    return '';
  }
  const matchValue =
    input.match_value !== undefined
      ? checkText(input.match_value, 'match_value', auto ? VALUE_PATTERN_MAX : MATCH_VALUE_MAX)
      : existing?.match_value;
  if (matchValue === undefined || matchValue === '') {
    throw validationError('match_value is required', 'match_value');
  }
  return matchValue;
}

/**
 * Checks a regex against the current engine's rules whenever the request touches how the
 * pattern is read; returns whether it did (`pattern_checked`). An update that leaves the
 * pattern alone (a rename) is not refused for a stored pattern the current rules refuse: that
 * goal keeps its `pattern_issue` and never matches until its pattern is changed.
 */
function checkSparklyticsPattern(
  existing: Existing,
  input: SparklyticsGoalInput,
  matchOperator: MatchOperator,
  matchValue: string,
  caseSensitive: boolean,
): boolean {
  const patternTouched =
    existing === null ||
    input.match_value !== undefined ||
    input.match_operator !== undefined ||
    input.case_sensitive !== undefined;
  if (matchOperator === 'regex' && patternTouched) {
    const problem = checkRegex(matchValue, !caseSensitive);
    if (problem !== null) throw validationError(`invalid regex: ${problem}`, 'match_value');
  }
  return patternTouched;
}

/** The hostname condition: the one sent, else the one the goal had; pageview goals only. */
function sparklyticsHostname(
  existing: Existing,
  input: SparklyticsGoalInput,
  goalType: GoalType,
): string | null {
  const hostname =
    input.hostname !== undefined
      ? checkHostname(input.hostname, 'hostname')
      : (existing?.hostname ?? null);
  if (goalType !== 'pageview' && hostname !== null) {
    throw validationError('hostname applies to pageview goals only', 'hostname');
  }
  return hostname;
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

/** Which config fields each Rybbit goal type takes (the rest are refused, naming the field). */
const RYBBIT_CONFIG_FIELDS: Record<'path' | 'event' | 'autocapture', readonly string[]> = {
  path: ['pathPattern', 'propertyFilters', 'hostname'],
  event: ['eventName', 'eventPropertyKey', 'eventPropertyValue', 'propertyFilters'],
  autocapture: ['valuePattern', 'propertyFilters'],
};

/** Rybbit `propertyFilters` (`[{key, value}]`, all must hold) as equality filters. */
function rybbitFilters(
  raw: NonNullable<RybbitGoalInput['config']['propertyFilters']>,
): PropertyFilter[] {
  if (raw.length > MAX_PROPERTY_FILTERS) {
    throw validationError(
      `at most ${MAX_PROPERTY_FILTERS} property filters are allowed`,
      'config.propertyFilters',
    );
  }
  return raw.map((f, i) => ({
    key: checkText(f.key, `config.propertyFilters[${i}].key`, PROPERTY_KEY_MAX),
    operator: 'equals',
    value: f.value,
  }));
}

/**
 * The goal a Rybbit create (`existing` null), replace or preview results in. A path goal is a
 * `pageview` goal with `glob` (plus an optional hostname, and query-string `propertyFilters`);
 * an event goal matches its name exactly, with `propertyFilters`, or else the legacy
 * `eventPropertyKey`/`eventPropertyValue` pair, as equality filters. Autocapture goals keep
 * their type; `valuePattern` (trimmed) is a value `glob`, or operator `any` when empty. The
 * replace keeps the goal's value settings (Rybbit has none) and its name when none is sent.
 * `name` is null when the caller must generate one (create without a usable name).
 */
export function resolveRybbitGoal(
  existing: GoalFields | null,
  input: RybbitGoalInput,
): Omit<GoalFields, 'name'> & { name: string | null } {
  const { rybbitType, config } = checkRybbitShape(existing, input);
  const filters = config.propertyFilters !== undefined ? rybbitFilters(config.propertyFilters) : [];
  // Rybbit sends the whole config: globs and event names always run under the current engine.
  const matching =
    rybbitType === 'path'
      ? rybbitPathMatching(config, filters)
      : rybbitType === 'event'
        ? rybbitEventMatching(config, filters)
        : rybbitAutocaptureMatching(goalTypeOfRybbit(rybbitType), config, filters);
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

type RybbitConfig = RybbitGoalInput['config'];

/** What a Rybbit goal type decides: how events are matched. */
type RybbitMatching = Pick<
  GoalFields,
  | 'goal_type'
  | 'match_operator'
  | 'match_value'
  | 'case_sensitive'
  | 'property_filters'
  | 'hostname'
>;

/**
 * `goalType` and `config` are present, the type is the goal's own (never changed by a
 * replace), and `config` holds only fields that type takes.
 */
function checkRybbitShape(
  existing: Existing,
  input: RybbitGoalInput,
): { rybbitType: RybbitGoalType; config: RybbitConfig } {
  if (input.goalType === undefined) throw validationError('goalType is required', 'goalType');
  if (input.config === undefined) throw validationError('config is required', 'config');
  if (existing && rybbitTypeOf(existing.goal_type) !== input.goalType) {
    throw validationError('goalType cannot be changed; create a new goal instead', 'goalType');
  }
  const c = input.config;
  const kind = isAutocaptureGoalType(goalTypeOfRybbit(input.goalType))
    ? 'autocapture'
    : input.goalType;
  const allowed = RYBBIT_CONFIG_FIELDS[kind as 'path' | 'event' | 'autocapture'];
  for (const k of Object.keys(c) as Array<keyof typeof c>) {
    if (c[k] !== undefined && !allowed.includes(k)) {
      throw validationError(`config.${k} does not apply to ${input.goalType} goals`, `config.${k}`);
    }
  }
  return { rybbitType: input.goalType, config: c };
}

/** A path goal: a `pageview` goal whose path matches `pathPattern` as a glob. */
function rybbitPathMatching(c: RybbitConfig, filters: PropertyFilter[]): RybbitMatching {
  if (c.pathPattern === undefined) {
    throw validationError('config.pathPattern is required for path goals', 'config.pathPattern');
  }
  return {
    goal_type: 'pageview',
    match_operator: 'glob',
    match_value: checkText(c.pathPattern, 'config.pathPattern', MATCH_VALUE_MAX),
    case_sensitive: true,
    property_filters: filters,
    hostname: checkHostname(c.hostname ?? null, 'config.hostname'),
  };
}

/**
 * An event goal: the event name exactly, with `propertyFilters`, or else the legacy
 * `eventPropertyKey`/`eventPropertyValue` pair as one equality filter.
 */
function rybbitEventMatching(c: RybbitConfig, filters: PropertyFilter[]): RybbitMatching {
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
  const legacy: PropertyFilter[] =
    hasKey && hasValue
      ? [
          {
            key: checkText(c.eventPropertyKey!, 'config.eventPropertyKey', PROPERTY_KEY_MAX),
            operator: 'equals',
            value: c.eventPropertyValue!,
          },
        ]
      : [];
  return {
    goal_type: 'event',
    match_operator: 'equals',
    match_value: checkText(c.eventName, 'config.eventName', MATCH_VALUE_MAX),
    case_sensitive: true,
    // The legacy pair counts only when propertyFilters is absent; `[]` disables it.
    property_filters: c.propertyFilters !== undefined ? filters : legacy,
    hostname: null,
  };
}

/** An autocapture goal: `valuePattern` (trimmed) as a value glob, or operator `any` when empty. */
function rybbitAutocaptureMatching(
  goalType: GoalType,
  c: RybbitConfig,
  filters: PropertyFilter[],
): RybbitMatching {
  const pattern = (c.valuePattern ?? '').trim();
  if (codePoints(pattern) > VALUE_PATTERN_MAX) {
    throw validationError(
      `config.valuePattern must be at most ${VALUE_PATTERN_MAX} characters`,
      'config.valuePattern',
    );
  }
  return {
    goal_type: goalType,
    match_operator: pattern === '' ? 'any' : 'glob',
    match_value: pattern,
    case_sensitive: true,
    property_filters: filters,
    hostname: null,
  };
}

/** `path: /checkout/**`, `event: purchase`, `outbound: any`, cut to leave room for ` (n)`. */
export function rybbitDefaultName(goalType: RybbitGoalType, subject: string): string {
  const base = `${goalType}: ${subject === '' ? 'any' : subject}`;
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
    (before.hostname ?? null) !== (after.hostname ?? null) ||
    before.value_mode !== after.value_mode ||
    fixed(before.fixed_value) !== fixed(after.fixed_value) ||
    before.value_property_key !== after.value_property_key ||
    before.currency !== after.currency
  );
}
