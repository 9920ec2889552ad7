import type { PropertyFilterOperator, PropertyValue } from '../goals/goal-definition.js';
import { compareDecimals, decimalOf } from './decimal.js';

/**
 * The string form a value takes when it is not compared as a number: strings as they are,
 * numbers as `String(n)`, booleans as `"true"`/`"false"`, objects and arrays as JSON.
 * Never throws (a value that cannot be serialized falls back to `String()`).
 */
export function stringForm(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object': {
      if (value === null) return 'null';
      try {
        return JSON.stringify(value);
      } catch {
        return Object.prototype.toString.call(value);
      }
    }
    default:
      // undefined, symbols, functions: not JSON property values; callers filter `undefined`.
      try {
        return String(value);
      } catch {
        return '';
      }
  }
}

/**
 * Orders two strings by Unicode code point (not UTF-16 code unit, which is what `<` does:
 * U+FF5E would sort after U+1F600). Returns -1, 0 or 1.
 */
export function compareCodePoints(a: string, b: string): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n) {
    // Equal prefixes keep both strings aligned on the same code point boundary.
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
  }
  if (a.length === b.length) return 0;
  return a.length < b.length ? -1 : 1;
}

/**
 * Three-way comparison of a property value with a filter value under the one comparison rule,
 * or `null` when the two are not ordered (see {@link compareProperty}).
 */
function order(actual: unknown, expected: PropertyValue): -1 | 0 | 1 | null {
  const a = decimalOf(actual);
  const e = decimalOf(expected);
  if (a !== null && e !== null) return compareDecimals(a, e);
  // A number is not ordered against text: `"N/A" > 100` must not be true by accident.
  if (a !== null || e !== null) return null;
  // Booleans have no order; equality is handled by the caller through their string forms.
  if (typeof actual === 'boolean' || typeof expected === 'boolean') return null;
  return compareCodePoints(stringForm(actual), stringForm(expected));
}

/**
 * Compares one event property with one filter value. The single comparison rule used by the
 * processor, the backfill job and any query-time check:
 *
 * - **Missing.** `undefined` and `null` count as a missing property. `exists` is false for them;
 *   every other operator is false too, except `not_equals`, which is true: `not_equals` is
 *   always exactly `!equals`, as in Plausible (`is_not` includes "(none)"), PostHog and
 *   Mixpanel, so "plan is not free" also counts events that carry no plan.
 * - **Numbers.** When both sides are numeric (a finite number, or a string that is a plain
 *   decimal numeral such as `"49.99"`, `"-3"`, `".5"`, `"1e3"`; not `""`, `" 1"`, `"0x10"`,
 *   `"Infinity"`, `"NaN"`) they compare as exact decimals: `"10"` > `9`, `"10.0"` equals `10`,
 *   and long digit strings never collide through float rounding.
 * - **Booleans** equal booleans and the exact strings `"true"`/`"false"` (via their string
 *   form); they are not equal to `1`/`0` and have no order (`gt`… are false).
 * - **Otherwise** the string forms ({@link stringForm}: objects and arrays as JSON) are compared
 *   case-sensitively; `gt`/`gte`/`lt`/`lte` order them by code point, which sorts ISO dates
 *   correctly. A number is never ordered against non-numeric text (false).
 * - `contains` is containment of the string forms (`15` contains `"5"`; `""` is contained in
 *   every present value).
 * - A filter without a value (only `exists` may omit it) and an unknown operator never match.
 *
 * Never throws.
 */
export function compareProperty(
  actual: unknown,
  operator: PropertyFilterOperator,
  expected?: PropertyValue,
): boolean {
  const missing = actual === undefined || actual === null;
  if (operator === 'exists') return !missing;
  if (expected === undefined || expected === null) return false;
  switch (operator) {
    case 'equals':
      return !missing && isEqual(actual, expected);
    case 'not_equals':
      return missing || !isEqual(actual, expected);
    case 'contains':
      return !missing && stringForm(actual).includes(stringForm(expected));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (missing) return false;
      const o = order(actual, expected);
      if (o === null) return false;
      if (operator === 'gt') return o > 0;
      if (operator === 'gte') return o >= 0;
      if (operator === 'lt') return o < 0;
      return o <= 0;
    }
    default:
      return false;
  }
}

function isEqual(actual: unknown, expected: PropertyValue): boolean {
  const a = decimalOf(actual);
  const e = decimalOf(expected);
  if (a !== null && e !== null) return compareDecimals(a, e) === 0;
  return stringForm(actual) === stringForm(expected);
}
