import {
  AUTOCAPTURE_VALUE_KEYS,
  isAutocaptureGoalType,
  type GoalDefinition,
  type PropertyFilter,
} from '../goals/goal-definition.js';
import { compareProperty } from './compare.js';
import { decimalOf, formatPlainDecimal, plainDecimalLength } from './decimal.js';
import type { Decimal } from './decimal.js';
import { compileGlob } from './glob.js';
import { compileRegex } from './regex.js';
import { decodePercentTolerant } from './url-path.js';

/**
 * The one goal matcher: the processor, the backfill job and any query-time check all decide
 * "does this event convert, and for how much" through {@link compileGoal}. Goals are compiled
 * once (regexes built, match values folded and decoded) and then applied to many events.
 *
 * Every operator runs in time linear in the event's fields: plain operators are single string
 * scans, globs run a bit-parallel automaton (`glob.ts`), regexes run in re2js, a linear-time
 * RE2 engine, with a capped program size (`regex.ts`); property conditions are linear scans
 * (`compare.ts`). The inputs themselves are bounded at ingest (`shared/events/input-limits.ts`).
 */

/** The fields of an event that goal matching reads. */
export interface MatchableEvent {
  /**
   * `'pageview'`, `'event'` or an autocapture type (`'outbound'`, `'button_click'`…); other
   * types (e.g. `'performance'`) never match. Typed as `string` because a union with `string`
   * collapses to it anyway (and lint rejects the redundant literals).
   */
  type: string;
  event_name: string | null;
  /** Already-normalized path (output of `pathFromUrl`), for pageviews. */
  path: string | null;
  properties: Record<string, unknown> | null;
  /** The page's hostname; read by pageview goals with a `hostname` condition. */
  hostname?: string | null;
  /** The page's query string (`?a=1&b=2` or empty); read by pageview goals' property filters. */
  querystring?: string | null;
}

/** A goal ready to be tested against events. */
export interface CompiledGoal {
  readonly goal: GoalDefinition;
  matches(ev: MatchableEvent): boolean;
  /** Decimal string or null; call only when matches() is true. */
  value(ev: MatchableEvent): string | null;
}

/** One conversion found by {@link matchEvent}. */
export interface GoalMatch {
  goal: GoalDefinition;
  value: string | null;
}

/**
 * Case folding for case-insensitive goals. JavaScript has no full Unicode case fold;
 * lower → upper → lower approximates it and, unlike a single `toLowerCase()`, equates the
 * expanding forms: `ß`, `ẞ` and `SS` all fold to `ss`, `ſ` to `s`, `ﬁ` to `fi`, Kelvin `K` to
 * `k`. Final sigma is mapped to `σ` afterwards, because `toLowerCase()` picks `ς` or `σ` by
 * position, which would make `contains "ΟΣ"` miss `"ΟΣΑ"`. `İ` folds to `i̇` (i + U+0307), as in
 * Unicode's full folding, so it does not equal a plain `i`; dotless `ı` folds to `i` (slightly
 * broader than Unicode, which leaves it alone).
 */
export function foldCase(text: string): string {
  return text.toLowerCase().toUpperCase().toLowerCase().replaceAll('ς', 'σ');
}

/** Conversion values longer than this (as plain text) are treated as non-numeric. */
const MAX_VALUE_LENGTH = 1000;

/** A decimal as storable text, or null when absurdly long (see {@link decimalValue}). */
function storable(d: Decimal | null): string | null {
  if (d === null || plainDecimalLength(d) > MAX_VALUE_LENGTH) return null;
  return formatPlainDecimal(d);
}

/**
 * The conversion value carried by an event property: a finite number, or a string that is a
 * plain decimal numeral (the same rule as property filters: `"49.99"`, `"-5"`, `"1e3"`; no
 * surrounding whitespace). It is returned as plain decimal text without going through a float
 * and without an exponent (`1e21` → `"1000000000000000000000"`, `"49.90"` stays `"49.90"`), so
 * PostgreSQL `numeric` stores exactly what was sent. Negative values are kept: they are
 * refunds and corrections, and `conversions.value` has no sign constraint. Anything else
 * (missing, `null`, booleans, `"abc"`, `NaN`, `Infinity`, objects, or a numeral whose plain
 * form exceeds 1000 characters) gives `null`: the conversion still counts, without a value
 * (never 0).
 */
export function decimalValue(raw: unknown): string | null {
  return storable(decimalOf(raw));
}

/** Own property lookup: `properties.constructor` must not find `Object.prototype.constructor`. */
function propertyOf(ev: MatchableEvent, key: string): unknown {
  const props = ev.properties;
  if (props === null || typeof props !== 'object' || !Object.hasOwn(props, key)) return undefined;
  return props[key];
}

/**
 * The query-string parameters of a page as property values: the first value of each name,
 * decoded as `URLSearchParams` decodes (`+` is a space; malformed escapes stay as written).
 * Values are strings, so they compare under the one comparison rule: `?n=5` equals `5`.
 */
export function queryParamsOf(querystring: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (typeof querystring !== 'string' || querystring.length <= 1) return out;
  for (const [k, v] of new URLSearchParams(querystring)) {
    if (!Object.hasOwn(out, k)) out[k] = v;
  }
  return out;
}

const NEVER = (): boolean => false;

/**
 * The test a goal applies to its subject string (path or event name). Pageview match values
 * (but not regexes) are percent-decoded with the same tolerant decoder as paths, so a goal
 * written `/caf%C3%A9` and one written `/café` both match the path `/café`.
 */
function subjectTest(def: GoalDefinition): (subject: string) => boolean {
  if (def.match_operator === 'any') return () => true;
  const fold = !def.case_sensitive;
  const raw = typeof def.match_value === 'string' ? def.match_value : '';
  if (def.match_operator === 'regex') {
    // Compiled with the same rules as at create time: a goal stored before a rule existed,
    // or marked by the stored-pattern check (`pattern_issue`), never runs and never matches.
    if (def.pattern_issue != null) return NEVER;
    try {
      const re = compileRegex(raw, fold);
      return (subject) => re.test(subject);
    } catch {
      return NEVER;
    }
  }
  const decoded = def.goal_type === 'pageview' ? decodePercentTolerant(raw) : raw;
  const value = fold ? foldCase(decoded) : decoded;
  const prepare = fold ? foldCase : (s: string): string => s;
  switch (def.match_operator) {
    case 'equals':
      return (subject) => prepare(subject) === value;
    case 'starts_with':
      return (subject) => prepare(subject).startsWith(value);
    case 'ends_with':
      return (subject) => prepare(subject).endsWith(value);
    case 'contains':
      return (subject) => prepare(subject).includes(value);
    case 'glob': {
      // The glob is folded as text before compilation (folding never creates or removes `*`
      // or `/`), so glob goals fold exactly like the plain operators: `ß` matches `SS`.
      // Paths have segments; URLs and texts of autocapture goals do not (`*` crosses `/`).
      const glob = compileGlob(value, {
        slashSeparates: !isAutocaptureGoalType(def.goal_type),
      });
      return (subject) => glob.test(prepare(subject));
    }
    default:
      return NEVER;
  }
}

/**
 * Compiles a goal definition once for many events. Never throws: a definition that cannot
 * match (invalid or unsafe regex from an older store, unknown operator or goal type) gives a
 * goal that never matches.
 *
 * - `pageview` goals match events of type `'pageview'` on `path`, and, with `hostname` set,
 *   only pages on exactly that host; `event` goals match events of type `'event'` on
 *   `event_name`. A `null` subject never matches.
 * - Autocapture goals (`outbound`, `file_download`, `button_click`, `form_submit`, `copy`)
 *   match events of their own type only, on the string properties
 *   {@link AUTOCAPTURE_VALUE_KEYS} names (any of them); operator `any` matches every event of
 *   the type. Custom events named `outbound` (stored so before autocapture types existed) are
 *   `event`s and match event goals, never outbound goals.
 * - `equals`, `starts_with`, `ends_with`, `contains` are plain string operations: `%` and `_`
 *   are ordinary characters. `glob`: see `glob.ts` (`/` separates only in paths). `regex`: the
 *   Goalpost regex dialect (RE2 syntax, see `regex-syntax.ts`), unanchored, compiled here and
 *   never per event.
 * - `case_sensitive: false` folds both sides with {@link foldCase} for the plain operators and
 *   glob; regexes use RE2's simple case folding (`ſ` ~ `s`, `ς` ~ `σ`, but `ß` does not match
 *   `ss`).
 * - Property filters must all hold, each by {@link compareProperty} (typed: a number equals a
 *   number or a numeric string, a boolean `true` or `"true"`). Pageview goals read the page's
 *   query-string parameters ({@link queryParamsOf}), other goals the event's top-level
 *   properties (own keys only).
 * - Values: see {@link CompiledGoal.value}, {@link decimalValue}; `fixed` returns
 *   `fixed_value` as plain decimal text (`null` if it is missing or not a numeral).
 */
export function compileGoal(def: GoalDefinition): CompiledGoal {
  const gt = def.goal_type;
  const wantedType = gt === 'pageview' || gt === 'event' || isAutocaptureGoalType(gt) ? gt : null;
  const test = wantedType === null ? NEVER : subjectTest(def);
  const anyValue = def.match_operator === 'any';
  const valueKeys = isAutocaptureGoalType(gt) ? AUTOCAPTURE_VALUE_KEYS[gt] : null;
  const filters: PropertyFilter[] = Array.isArray(def.property_filters)
    ? [...def.property_filters]
    : [];
  const host =
    gt === 'pageview' && typeof def.hostname === 'string' && def.hostname !== ''
      ? def.hostname
      : null;
  const fixed =
    def.value_mode === 'fixed' && def.fixed_value !== null
      ? storable(decimalOf(def.fixed_value))
      : null;

  const subjectMatches = (ev: MatchableEvent): boolean => {
    if (valueKeys !== null) {
      if (anyValue) return true;
      return valueKeys.some((k) => {
        const v = propertyOf(ev, k);
        return typeof v === 'string' && test(v);
      });
    }
    const subject = wantedType === 'pageview' ? ev.path : ev.event_name;
    return typeof subject === 'string' && test(subject);
  };

  return {
    goal: def,
    matches(ev: MatchableEvent): boolean {
      if (wantedType === null || ev.type !== wantedType) return false;
      if (host !== null && ev.hostname !== host) return false;
      if (!subjectMatches(ev)) return false;
      if (filters.length === 0) return true;
      if (wantedType === 'pageview') {
        const params = queryParamsOf(ev.querystring);
        return filters.every((f) =>
          compareProperty(
            Object.hasOwn(params, f.key) ? params[f.key] : undefined,
            f.operator,
            f.value,
          ),
        );
      }
      return filters.every((f) => compareProperty(propertyOf(ev, f.key), f.operator, f.value));
    },
    value(ev: MatchableEvent): string | null {
      switch (def.value_mode) {
        case 'fixed':
          return fixed;
        case 'event_property':
          return typeof def.value_property_key !== 'string'
            ? null
            : decimalValue(propertyOf(ev, def.value_property_key));
        default:
          return null;
      }
    },
  };
}

/** {@link compileGoal} for each definition, in order. */
export function compileGoals(defs: GoalDefinition[]): CompiledGoal[] {
  return defs.map(compileGoal);
}

/** Every goal the event converts on, in the order given, with each conversion's value. */
export function matchEvent(compiled: CompiledGoal[], ev: MatchableEvent): GoalMatch[] {
  const out: GoalMatch[] = [];
  for (const c of compiled) {
    if (c.matches(ev)) out.push({ goal: c.goal, value: c.value(ev) });
  }
  return out;
}
