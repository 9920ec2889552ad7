/**
 * Exact decimal numerals, for the two places where goal matching meets numbers: property
 * filters (`"10"` > `9`) and conversion values (stored in a PostgreSQL `numeric`).
 *
 * Nothing here goes through a binary float: `"12345678901234567890"` and
 * `"12345678901234567891"` are different numbers, and `"49.90"` keeps its two decimals. A JS
 * number enters through its shortest round-trip text (`String(n)`), which is the decimal the
 * sender meant.
 */

/**
 * A parsed decimal numeral: `(-1)^negative × coefficient × 10^exponent`.
 * `coefficient` is the digits as written (point and sign removed), leading zeros stripped but
 * trailing zeros kept, so the scale of `"49.90"` survives; zero is `"0"`.
 */
export interface Decimal {
  readonly negative: boolean;
  readonly coefficient: string;
  readonly exponent: number;
}

/**
 * Plain decimal numerals: optional sign, digits with an optional point (`"5"`, `"5."`, `".5"`,
 * `"49.99"`), optional exponent (`"1e3"`, `"2.5E-4"`). No surrounding whitespace, no
 * hexadecimal, no digit separators, no `Infinity`/`NaN`: those are text, not numbers.
 */
const NUMERAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Largest written exponent (`1e…`) of a numeral. Within it `Number()` reads the exponent
 * exactly and the scaled exponent stays a safe integer, so the rule is the same in the SQL
 * rendering of property filters (`goal-condition-sql.ts`), which checks the written exponent.
 */
export const MAX_NUMERAL_EXPONENT = 1e15;

/**
 * Parses a plain decimal numeral (see {@link NUMERAL}); `null` for anything else, including
 * `""`, `" 1"`, `"0x10"`, `"Infinity"`, `"NaN"` and written exponents beyond ±10^15.
 */
export function parseDecimal(text: string): Decimal | null {
  const m = NUMERAL.exec(text);
  if (m === null) return null;
  const [, sign = '', intDigits = '', fracDigits = '', expText] = m;
  // The regex lets `""`, `"."`, `"e5"` through; a numeral needs at least one digit.
  if (intDigits.length === 0 && fracDigits.length === 0) return null;
  const written = expText === undefined ? 0 : Number(expText);
  if (Math.abs(written) > MAX_NUMERAL_EXPONENT) return null;
  const exponent = written - fracDigits.length;
  if (!Number.isSafeInteger(exponent)) return null;
  const digits = intDigits + fracDigits;
  const lead = leadingZeros(digits);
  const coefficient = lead === digits.length ? '0' : digits.slice(lead);
  const isZero = coefficient === '0';
  return { negative: sign === '-' && !isZero, coefficient, exponent };
}

/**
 * The decimal a property value stands for: a finite JS number, or a string that is a plain
 * decimal numeral ({@link parseDecimal}). Everything else (booleans, `NaN`, `Infinity`,
 * `"abc"`, objects, `null`) is not numeric and yields `null`.
 */
export function decimalOf(value: unknown): Decimal | null {
  if (typeof value === 'number') {
    // String(n) is the shortest text that round-trips, e.g. "0.1", "1e+21", "-5e-7".
    return Number.isFinite(value) ? parseDecimal(String(value)) : null;
  }
  if (typeof value === 'bigint') return parseDecimal(value.toString());
  if (typeof value === 'string') return parseDecimal(value);
  return null;
}

/** Number of `'0'` characters at the start of `digits`. */
function leadingZeros(digits: string): number {
  let i = 0;
  while (i < digits.length && digits.charCodeAt(i) === 0x30) i += 1;
  return i;
}

/**
 * Significant digits (no leading or trailing zeros) and the exponent that goes with them.
 * A plain loop: `replace(/0+$/, '')` backtracks from every zero run, quadratic on
 * `"1000…0001"`, which a property value can be.
 */
function significant(d: Decimal): { digits: string; exponent: number } {
  let end = d.coefficient.length;
  while (end > 0 && d.coefficient.charCodeAt(end - 1) === 0x30) end -= 1;
  const trimmed = d.coefficient.slice(0, end);
  return { digits: trimmed, exponent: d.exponent + (d.coefficient.length - end) };
}

/** Exact numeric order of two decimals: -1, 0 or 1. `"10.0"` and `"1e1"` equal `"10"`. */
export function compareDecimals(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const sa = significant(a);
  const sb = significant(b);
  const aZero = sa.digits === '';
  const bZero = sb.digits === '';
  if (aZero && bZero) return 0;
  const aSign = aZero ? 0 : a.negative ? -1 : 1;
  const bSign = bZero ? 0 : b.negative ? -1 : 1;
  if (aSign !== bSign) return aSign < bSign ? -1 : 1;
  // Same non-zero sign: compare magnitudes, then flip for negatives.
  const magnitude = compareMagnitudes(sa, sb);
  if (magnitude === 0 || aSign > 0) return magnitude;
  return magnitude < 0 ? 1 : -1;
}

function compareMagnitudes(
  a: { digits: string; exponent: number },
  b: { digits: string; exponent: number },
): -1 | 0 | 1 {
  // Position of the most significant digit decides first...
  const aTop = a.digits.length + a.exponent;
  const bTop = b.digits.length + b.exponent;
  if (aTop !== bTop) return aTop < bTop ? -1 : 1;
  // ...then the digits, left-aligned; with no trailing zeros, a proper prefix is smaller.
  if (a.digits === b.digits) return 0;
  return a.digits < b.digits ? -1 : 1;
}

/**
 * Length of {@link formatPlainDecimal}'s output without building it (a numeral like
 * `"1e-999999"` would otherwise allocate a million characters just to be rejected).
 */
export function plainDecimalLength(d: Decimal): number {
  const sign = d.negative ? 1 : 0;
  if (d.exponent >= 0 && d.coefficient === '0') return 1;
  if (d.exponent >= 0) return sign + d.coefficient.length + d.exponent;
  const fraction = -d.exponent;
  const whole = Math.max(d.coefficient.length - fraction, 1);
  return sign + whole + 1 + fraction;
}

/**
 * The decimal as plain positional text, never with an exponent: `"1e3"` → `"1000"`,
 * `"-5e-7"` → `"-0.0000005"`, `".5"` → `"0.5"`, `"+007.50"` → `"7.50"`, `"-0"` → `"0"`.
 * Digits written after the point are kept (`"49.90"` stays `"49.90"`), so the text can go into
 * a PostgreSQL `numeric` unchanged in value and scale.
 */
export function formatPlainDecimal(d: Decimal): string {
  const sign = d.negative ? '-' : '';
  if (d.exponent >= 0) {
    const digits = d.coefficient + '0'.repeat(d.exponent);
    return sign + (leadingZeros(digits) === digits.length ? '0' : digits);
  }
  const fraction = -d.exponent;
  const padded = d.coefficient.padStart(fraction + 1, '0');
  const whole = padded.slice(0, padded.length - fraction);
  return `${sign}${whole}.${padded.slice(padded.length - fraction)}`;
}
